//! How results are shown: plain text for people, or with `--json` one JSON
//! value per line for scripts (shapes in `docs/cli.md`). Everything the
//! user asked for goes to stdout; progress, warnings and errors go to
//! stderr.

use serde_json::{json, Value};
use sotto_core::app::{ContactInfo, Reach};
use sotto_core::message::MessageId;
use sotto_core::store::{DeliveryState, Direction, StoredMessage};

use crate::failure::Failure;

/// The output mode of this run.
#[derive(Clone, Copy)]
pub struct Output {
    /// `--json`.
    pub json: bool,
}

impl Output {
    /// Prints a JSON value as one line (JSON mode only).
    pub fn json_line(&self, value: &Value) {
        if self.json {
            println!("{value}");
        }
    }

    /// Prints a line for people (text mode only).
    pub fn text(&self, line: &str) {
        if !self.json {
            println!("{line}");
        }
    }

    /// Prints progress for people on stderr (text mode only).
    pub fn progress(&self, line: &str) {
        if !self.json {
            eprintln!("{line}");
        }
    }

    /// Reports a failure on stderr.
    pub fn failure(&self, failure: &Failure) {
        if self.json {
            let value = json!({"error": {
                "code": failure.code,
                "kind": failure.kind,
                "message": failure.message,
                "hint": failure.hint,
            }});
            eprintln!("{value}");
        } else {
            eprintln!("sotto: {}", failure.message);
            if let Some(hint) = &failure.hint {
                eprintln!("  → {hint}");
            }
        }
    }
}

/// A message id as text: 32 hex digits.
pub fn message_id(id: &MessageId) -> String {
    hex::encode(id.0)
}

/// The name of a delivery state in output.
pub fn state_name(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "pending",
        DeliveryState::Sent => "sent",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read => "read",
        DeliveryState::Received => "received",
    }
}

fn reach_name(reach: Reach) -> &'static str {
    match reach {
        Reach::OurRelay => "our_relay",
        Reach::OtherRelay => "other_relay",
        Reach::NoRelay => "no_relay",
    }
}

/// A contact as JSON.
pub fn contact_json(contact: &ContactInfo) -> Value {
    json!({
        "id": contact.id.as_str(),
        "name": contact.name,
        "verified": contact.verified,
        "reach": reach_name(contact.reach),
        "identity_changed": contact.identity_changed,
        "identity_conflict": contact.identity_conflict,
    })
}

/// A message as JSON.
pub fn message_json(message: &StoredMessage) -> Value {
    json!({
        "id": message_id(&message.id),
        "contact": message.contact.as_str(),
        "direction": match message.direction {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
        },
        "text": message.body,
        "sent_at_ms": message.sent_at_ms,
        "stored_at_ms": message.stored_at_ms,
        "state": state_name(message.state),
        "expires_at_ms": message.expires_at_ms,
    })
}

/// A contact's line in `sotto contacts`.
pub fn contact_line(contact: &ContactInfo) -> String {
    let mut flags = Vec::new();
    if contact.verified {
        flags.push("verified");
    }
    match contact.reach {
        Reach::OurRelay => {}
        Reach::OtherRelay => flags.push("on another relay"),
        Reach::NoRelay => flags.push("no relay"),
    }
    if contact.identity_conflict {
        flags.push("SEVERAL NEW IDENTITY KEYS OFFERED: compare each with `sotto verify`");
    } else if contact.identity_changed {
        flags.push("NEW IDENTITY KEY OFFERED: compare it with `sotto verify`");
    }
    let short = contact.id.as_str().get(..8).unwrap_or(contact.id.as_str());
    if flags.is_empty() {
        format!("{short}  {}", contact.name)
    } else {
        format!("{short}  {}  ({})", contact.name, flags.join(", "))
    }
}

/// A message as one line for people: time, who, text, state.
pub fn message_line(message: &StoredMessage, contact_name: &str) -> String {
    let time = clock(message.sent_at_ms);
    match message.direction {
        Direction::Incoming => format!("[{time}] {contact_name}: {}", message.body),
        Direction::Outgoing => format!(
            "[{time}] you: {}  ({})",
            message.body,
            state_name(message.state)
        ),
    }
}

/// `HH:MM:SS` (UTC) of a time in ms since the epoch.
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Renders `data` as a QR code with Unicode half blocks, for a terminal.
pub fn qr(data: &[u8]) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::L).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}
