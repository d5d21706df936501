//! The plain-SMS side of the SMS app: texts and MMS with people not on
//! Sotto, threaded by normalised phone number, with sent and delivered
//! states, long texts in several segments, and import of the phone's
//! existing history.
//!
//! Storage is the plain-message part of [`SottoStore`]; this module adds
//! the operations the app calls. Every plain message is unencrypted on the
//! air; the model says so ([`crate::store::PlainMessage::encrypted`]).

use std::time::SystemTime;

use super::gsm7;
use super::phone::PhoneNumber;
use crate::error::{Error, Result};
use crate::millis;
use crate::store::{
    in_transaction, Attachment, Direction, NewPlainMessage, PlainState, SottoStore,
};

/// The largest MMS accepted (the common carrier limit is 300 KiB to 1 MiB;
/// the store should not be the one to refuse a real MMS).
pub const MAX_MMS_BYTES: usize = 4 * 1024 * 1024;

/// A plain SMS stored and ready for the radio.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainOutgoing {
    /// Its row; report progress with [`set_state`].
    pub id: i64,
    /// The segments to send (one unless the text is long).
    pub segments: Vec<String>,
    /// GSM-7 or UCS-2.
    pub encoding: gsm7::Encoding,
}

impl std::fmt::Debug for PlainOutgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainOutgoing")
            .field("id", &self.id)
            .field("segments", &self.segments.len())
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// Stores an outgoing plain SMS to `to` as pending and splits it into the
/// segments the radio sends. One insert, in no transaction of its own, so
/// that a caller can queue the SMS in the same commit.
pub fn send_sms<S: SottoStore>(
    store: &mut S,
    to: &PhoneNumber,
    text: &str,
    now: SystemTime,
) -> Result<PlainOutgoing> {
    let (encoding, segments) = gsm7::split(text);
    let message = NewPlainMessage {
        phone: to.clone(),
        direction: Direction::Outgoing,
        body: text.to_owned(),
        parts: segments.len() as u32,
        at_ms: millis(now),
        state: PlainState::Pending,
        attachments: Vec::new(),
        external_id: None,
    };
    let id = store
        .insert_plain_message(&message)?
        .ok_or(Error::AlreadyStored)?;
    Ok(PlainOutgoing {
        id,
        segments,
        encoding,
    })
}

/// Stores an outgoing MMS (text and attachments) to `to` as pending.
pub fn send_mms<S: SottoStore>(
    store: &mut S,
    to: &PhoneNumber,
    text: &str,
    attachments: Vec<Attachment>,
    now: SystemTime,
) -> Result<i64> {
    let outgoing = (Direction::Outgoing, PlainState::Pending);
    store_mms(store, to, outgoing, text, attachments, now)
}

/// Stores an incoming MMS.
pub fn receive_mms<S: SottoStore>(
    store: &mut S,
    from: &PhoneNumber,
    text: &str,
    attachments: Vec<Attachment>,
    now: SystemTime,
) -> Result<i64> {
    let incoming = (Direction::Incoming, PlainState::Received);
    store_mms(store, from, incoming, text, attachments, now)
}

/// Checks an MMS against the limits and stores it in `phone`'s thread.
fn store_mms<S: SottoStore>(
    store: &mut S,
    phone: &PhoneNumber,
    (direction, state): (Direction, PlainState),
    text: &str,
    attachments: Vec<Attachment>,
    now: SystemTime,
) -> Result<i64> {
    check_mms(text, &attachments)?;
    let message = NewPlainMessage {
        phone: phone.clone(),
        direction,
        body: text.to_owned(),
        parts: 1,
        at_ms: millis(now),
        state,
        attachments,
        external_id: None,
    };
    insert(store, &message)
}

/// Stores an incoming plain SMS (for a long one, the whole text the
/// platform joined from its segments).
pub fn receive_sms<S: SottoStore>(
    store: &mut S,
    from: &PhoneNumber,
    text: &str,
    now: SystemTime,
) -> Result<i64> {
    let message = NewPlainMessage {
        phone: from.clone(),
        direction: Direction::Incoming,
        body: text.to_owned(),
        parts: gsm7::segment_count(text) as u32,
        at_ms: millis(now),
        state: PlainState::Received,
        attachments: Vec::new(),
        external_id: None,
    };
    insert(store, &message)
}

/// Records what the radio or the carrier reported (sent, delivered,
/// failed). Returns whether the state changed; a report that would move
/// the message backwards is ignored.
pub fn set_state<S: SottoStore>(store: &mut S, id: i64, state: PlainState) -> Result<bool> {
    in_transaction(store, |store| store.set_plain_state(id, state))
}

fn check_mms(text: &str, attachments: &[Attachment]) -> Result<()> {
    let size = text.len() + attachments.iter().map(|a| a.data.len()).sum::<usize>();
    if size > MAX_MMS_BYTES {
        return Err(Error::MessageTooLong);
    }
    Ok(())
}

fn insert<S: SottoStore>(store: &mut S, message: &NewPlainMessage) -> Result<i64> {
    in_transaction(store, |store| store.insert_plain_message(message))?.ok_or(Error::AlreadyStored)
}

/// One message of the phone's existing history, as the platform's SMS and
/// MMS providers report it.
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The platform's id (`sms:<id>` or `mms:<id>`): importing twice
    /// stores it once.
    pub external_id: String,
    /// The other party's address as the provider has it (any format).
    pub address: String,
    /// Sent or received.
    pub direction: Direction,
    /// The text.
    pub body: String,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Its state (the provider's sent/failed/delivered/inbox).
    pub state: PlainState,
    /// MMS attachments (empty for an SMS).
    pub attachments: Vec<Attachment>,
}

impl std::fmt::Debug for HistoryItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryItem")
            .field("direction", &self.direction)
            .field("body_len", &self.body.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Messages stored.
    pub imported: usize,
    /// Messages stored before (same external id).
    pub already_there: usize,
    /// Messages whose address is no phone number, short code or sender id.
    pub unreadable_address: usize,
}

/// Imports a batch of the phone's history in one transaction, threading
/// each message by its normalised number (`default_region` for numbers
/// without a country code). Safe to repeat: items seen before are skipped.
pub fn import_history<S: SottoStore>(
    store: &mut S,
    items: &[HistoryItem],
    default_region: &str,
) -> Result<ImportReport> {
    in_transaction(store, |store| {
        let mut report = ImportReport::default();
        for item in items {
            let Ok(phone) = PhoneNumber::parse(&item.address, default_region) else {
                report.unreadable_address += 1;
                continue;
            };
            let parts = if item.attachments.is_empty() {
                gsm7::segment_count(&item.body) as u32
            } else {
                1
            };
            let message = NewPlainMessage {
                phone,
                direction: item.direction,
                body: item.body.clone(),
                parts,
                at_ms: item.at_ms,
                state: item.state,
                attachments: item.attachments.clone(),
                external_id: Some(item.external_id.clone()),
            };
            match store.insert_plain_message(&message)? {
                Some(_) => report.imported += 1,
                None => report.already_there += 1,
            }
        }
        Ok(report)
    })
}
