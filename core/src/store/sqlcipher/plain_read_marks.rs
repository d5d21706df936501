//! What the user has read of each plain thread (schema version 11): the
//! newest `plain_messages` row seen, per number, so unread counts are one
//! indexed query, as `read_marks` does for Sotto conversations. History
//! imported from the phone (rows with an `external_id`) counts as read:
//! the phone's own read flags are not imported, and years of old SMS
//! should not show as new. Used by the application facade only, hence
//! inherent methods.

use rusqlite::{params, OptionalExtension};

use super::SqlCipherStore;
use crate::error::Result;
use crate::sms::phone::PhoneNumber;

/// `plain_messages.direction` of a received SMS.
const INCOMING: i64 = 0;

impl SqlCipherStore {
    fn plain_read_mark(&self, phone: &PhoneNumber) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT read_up_to FROM plain_read_marks WHERE phone = ?1")?
            .query_row([phone.as_str()], |row| row.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// How many SMS/MMS received in the thread came after its read mark
    /// (imported history excepted).
    pub(crate) fn plain_unread_count(&self, phone: &PhoneNumber) -> Result<usize> {
        let mark = self.plain_read_mark(phone)?;
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM plain_messages
                 WHERE phone = ?1 AND direction = ?2 AND id > ?3 AND external_id IS NULL",
            )?
            .query_row(params![phone.as_str(), INCOMING, mark], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Moves the thread's read mark to its newest message; returns how many
    /// were unread.
    pub(crate) fn mark_plain_thread_read(&mut self, phone: &PhoneNumber) -> Result<usize> {
        let unread = self.plain_unread_count(phone)?;
        self.conn
            .prepare_cached(
                "INSERT INTO plain_read_marks (phone, read_up_to)
                 SELECT ?1, COALESCE(MAX(id), 0) FROM plain_messages WHERE phone = ?1
                 ON CONFLICT (phone) DO UPDATE
                 SET read_up_to = MAX(read_up_to, excluded.read_up_to)",
            )?
            .execute([phone.as_str()])?;
        Ok(unread)
    }
}
