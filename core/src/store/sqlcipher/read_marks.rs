//! What the user has read, per conversation (schema version 6): the newest
//! `messages` row seen, so unread counts are one indexed query. Row ids
//! only grow (`AUTOINCREMENT` since schema version 9; before, SQLite could
//! hand out a deleted largest id again), so "after the mark" is exact even
//! for texts stored in the same millisecond. Used by the application facade only, like the SMS
//! queue (see `sms_queue`), hence inherent methods.

use rusqlite::{params, OptionalExtension};

use super::SqlCipherStore;
use crate::error::Result;
use crate::message::MessageId;
use crate::store::ContactId;

/// `messages.direction` of a received text.
const INCOMING: i64 = 0;

impl SqlCipherStore {
    fn read_mark(&self, contact: &ContactId) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT read_up_to FROM read_marks WHERE contact = ?1")?
            .query_row([contact.as_str()], |row| row.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// How many received texts of the conversation came after the read mark.
    pub(crate) fn unread_count(&self, contact: &ContactId) -> Result<usize> {
        let mark = self.read_mark(contact)?;
        let count: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM messages WHERE contact = ?1 AND direction = ?2 AND id > ?3",
            )?
            .query_row(params![contact.as_str(), INCOMING, mark], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Moves the read mark past every stored text of the conversation;
    /// returns the ids of the received texts that were unread, oldest first.
    pub(crate) fn mark_all_read(&mut self, contact: &ContactId) -> Result<Vec<MessageId>> {
        let mark = self.read_mark(contact)?;
        let unread = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT message_id FROM messages
                 WHERE contact = ?1 AND direction = ?2 AND id > ?3 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![contact.as_str(), INCOMING, mark], |row| {
                row.get::<_, Vec<u8>>(0)
            })?;
            rows.filter_map(|id| match id {
                Ok(bytes) => <[u8; 16]>::try_from(bytes.as_slice())
                    .ok()
                    .map(|id| Ok(MessageId(id))),
                Err(e) => Some(Err(e.into())),
            })
            .collect::<Result<Vec<_>>>()?
        };
        let newest: Option<i64> = self
            .conn
            .prepare_cached("SELECT MAX(id) FROM messages WHERE contact = ?1")?
            .query_row([contact.as_str()], |row| row.get(0))?;
        if let Some(newest) = newest.filter(|&newest| newest > mark) {
            self.conn
                .prepare_cached(
                    "INSERT INTO read_marks (contact, read_up_to) VALUES (?1, ?2)
                     ON CONFLICT (contact) DO UPDATE SET read_up_to = excluded.read_up_to",
                )?
                .execute(params![contact.as_str(), newest])?;
        }
        Ok(unread)
    }
}
