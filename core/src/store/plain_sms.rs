//! Records of the plain-SMS model: texts and MMS exchanged, unencrypted,
//! with people who are not on Sotto (or before they were), threaded by
//! normalised phone number. They live in the encrypted store like
//! everything else; on the air they were never encrypted, and
//! [`PlainMessage::encrypted`] says so to every reader of the model.

use crate::sms::phone::PhoneNumber;

use super::Direction;

/// How far a plain SMS/MMS has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PlainState {
    /// Waiting to be handed to the radio.
    Pending,
    /// The radio sent every part.
    Sent,
    /// The carrier reported delivery of every part (a status report).
    Delivered,
    /// Sending failed; the user may retry.
    Failed,
    /// Received.
    Received,
}

impl PlainState {
    pub(crate) fn code(self) -> i64 {
        match self {
            PlainState::Pending => 0,
            PlainState::Sent => 1,
            PlainState::Delivered => 2,
            PlainState::Failed => 3,
            PlainState::Received => 4,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => PlainState::Pending,
            1 => PlainState::Sent,
            2 => PlainState::Delivered,
            3 => PlainState::Failed,
            4 => PlainState::Received,
            _ => return None,
        })
    }

    /// Whether moving from `self` to `next` is allowed: a failed message
    /// may be retried (back to pending), otherwise states only move forward.
    pub fn may_become(self, next: PlainState) -> bool {
        match (self, next) {
            (PlainState::Received, _) | (_, PlainState::Received) => false,
            (PlainState::Failed, PlainState::Pending) => true,
            (PlainState::Delivered, _) => false,
            (from, to) => to > from,
        }
    }
}

/// One attachment of an MMS, kept as a blob in the store.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its MIME type, as the MMS declared it (`image/jpeg`, …).
    pub mime: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attachment({}, {} bytes)", self.mime, self.data.len())
    }
}

/// A plain SMS or MMS to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPlainMessage {
    /// The other party: the thread.
    pub phone: PhoneNumber,
    /// Sent or received.
    pub direction: Direction,
    /// The text (for an MMS, its text part; may be empty).
    pub body: String,
    /// How many SMS segments it took (1 for an MMS).
    pub parts: u32,
    /// When it was sent or received (ms since the epoch).
    pub at_ms: u64,
    /// Its state.
    pub state: PlainState,
    /// MMS attachments (empty for an SMS).
    pub attachments: Vec<Attachment>,
    /// The platform's id for a message imported from the phone's existing
    /// history (`sms:<id>` / `mms:<id>`), so that importing twice stores it
    /// once.
    pub external_id: Option<String>,
}

impl std::fmt::Debug for NewPlainMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPlainMessage")
            .field("direction", &self.direction)
            .field("body_len", &self.body.len())
            .field("parts", &self.parts)
            .field("state", &self.state)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// A stored plain SMS or MMS (attachments are loaded separately).
#[derive(Clone, PartialEq, Eq)]
pub struct PlainMessage {
    /// Its row id.
    pub id: i64,
    /// The thread.
    pub phone: PhoneNumber,
    /// Sent or received.
    pub direction: Direction,
    /// The text.
    pub body: String,
    /// SMS segments it took.
    pub parts: u32,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Its state.
    pub state: PlainState,
    /// How many attachments it has.
    pub attachment_count: u32,
}

impl PlainMessage {
    /// Always `false`: plain messages crossed the network unencrypted.
    pub fn encrypted(&self) -> bool {
        false
    }
}

impl std::fmt::Debug for PlainMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainMessage")
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("body_len", &self.body.len())
            .field("parts", &self.parts)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// One plain-SMS thread, as the thread list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlainThread {
    /// The other party.
    pub phone: PhoneNumber,
    /// When its newest message was sent or received.
    pub last_at_ms: u64,
    /// How many messages it holds.
    pub messages: u32,
}

/// A part of an encrypted SMS message kept until the rest arrives, so that
/// a restart in the middle of a message loses nothing (see
/// `sms::SmsEndpoint::restore`).
#[derive(Clone, PartialEq, Eq)]
pub struct HeldSmsPart {
    /// Its row id.
    pub id: i64,
    /// The sender.
    pub phone: PhoneNumber,
    /// The wire id of its message.
    pub wire_id: u32,
    /// The part count of its message.
    pub count: u8,
    /// Whether it came as a data SMS (else a text SMS).
    pub data: bool,
    /// The SMS as received: the text's UTF-8, or the data SMS user data.
    pub body: Vec<u8>,
    /// When it arrived (ms since the epoch).
    pub received_at_ms: u64,
}

impl std::fmt::Debug for HeldSmsPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldSmsPart")
            .field("id", &self.id)
            .field("count", &self.count)
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}
