//! How each 1:1 text travelled (schema version 11): whether it went or came
//! by encrypted SMS rather than the relay, and whether the SMS carrying an
//! outgoing text failed and wait for a retry. Two columns of `messages`, so
//! they go with the text (expiry, "keep no history"). Used by the
//! application facade's SMS bridge only, like the SMS queue (see
//! `sms_queue`), hence inherent methods.

use rusqlite::{params, OptionalExtension};

use super::{direction_code, SqlCipherStore};
use crate::error::Result;
use crate::message::MessageId;
use crate::store::{ContactId, Direction};

/// How a stored text travelled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextTransport {
    /// It went (or came) as encrypted SMS; otherwise through the relay.
    pub by_sms: bool,
    /// An SMS carrying it (outgoing) failed and it waits for
    /// `Account::retry_failed_sms`.
    pub sms_failed: bool,
}

impl SqlCipherStore {
    /// Records that a text travelled by encrypted SMS. A message id that
    /// names no text (a receipt, a timer change) changes nothing.
    pub(crate) fn mark_text_by_sms(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        direction: Direction,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET by_sms = 1
                 WHERE contact = ?1 AND message_id = ?2 AND direction = ?3",
            )?
            .execute(params![
                contact.as_str(),
                &id.0[..],
                direction_code(direction)
            ])?;
        Ok(())
    }

    /// Marks (or clears) the failed SMS of an outgoing text; returns
    /// whether `id` names one (not a receipt or a group text).
    pub(crate) fn set_text_sms_failed(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        failed: bool,
    ) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE messages SET sms_failed = ?4
                 WHERE contact = ?1 AND message_id = ?2 AND direction = ?3",
            )?
            .execute(params![
                contact.as_str(),
                &id.0[..],
                direction_code(Direction::Outgoing),
                failed
            ])?;
        Ok(changed > 0)
    }

    /// How a text travelled; `None` if no such text is stored.
    pub(crate) fn text_transport(
        &self,
        contact: &ContactId,
        id: &MessageId,
    ) -> Result<Option<TextTransport>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT by_sms, sms_failed FROM messages
                 WHERE contact = ?1 AND message_id = ?2
                 ORDER BY direction DESC LIMIT 1",
            )?
            .query_row(params![contact.as_str(), &id.0[..]], |row| {
                Ok(TextTransport {
                    by_sms: row.get(0)?,
                    sms_failed: row.get(1)?,
                })
            })
            .optional()?)
    }
}
