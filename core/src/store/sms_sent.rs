//! Payloads this device sent by encrypted SMS, kept for a while so that a
//! receiver's resend request can be answered after a restart too (see
//! `sms::SmsEndpoint`).

use super::ContactId;
use crate::message::MessageId;
use crate::sms::phone::PhoneNumber;

/// One payload sent by SMS (a whole Sotto message before segmentation).
#[derive(Clone, PartialEq, Eq)]
pub struct SentSms {
    /// The row id (ignored when kept; set when read back).
    pub id: i64,
    /// The recipient.
    pub phone: PhoneNumber,
    /// The payload's wire id, as its parts carry it.
    pub wire_id: u32,
    /// The payload (an encrypted envelope, a hello).
    pub payload: Vec<u8>,
    /// Sent as data SMS rather than text SMS.
    pub data: bool,
    /// When it was sent (ms since the epoch).
    pub sent_at_ms: u64,
    /// The stored 1:1 text it carries, which can be encrypted afresh.
    pub text: Option<(ContactId, MessageId)>,
    /// How many more times that text may be encrypted afresh.
    pub refreshes_left: u8,
}

impl std::fmt::Debug for SentSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentSms")
            .field("id", &self.id)
            .field("wire_id", &self.wire_id)
            .field("bytes", &self.payload.len())
            .finish_non_exhaustive()
    }
}
