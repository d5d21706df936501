//! The call log in the SQLCipher store (schema version 10). Only the
//! application facade keeps a call log (its call shell writes it), and the
//! facade always runs on an [`SqlCipherStore`], so these are inherent
//! methods rather than part of [`super::SottoStore`], like the SMS queue.
//! Callers wrap writes in a transaction (`store::in_transaction`).
//!
//! Codes: `direction` 0 incoming, 1 outgoing; `path` 0 direct, 1 relayed;
//! `end_reason` in the order of [`EndReason`]'s variants (see
//! [`reason_code`]).

use rusqlite::params;

use super::SqlCipherStore;
use crate::app::{CallDirection, CallLogEntry, NewCallLogEntry};
use crate::call::{CallId, EndReason, PathKind};
use crate::error::{Error, Result};
use crate::store::ContactId;

fn reason_code(reason: EndReason) -> i64 {
    match reason {
        EndReason::HungUpHere => 0,
        EndReason::HungUpThere => 1,
        EndReason::DeclinedHere => 2,
        EndReason::DeclinedThere => 3,
        EndReason::BusyThere => 4,
        EndReason::NoAnswer => 5,
        EndReason::Missed => 6,
        EndReason::ConnectTimeout => 7,
        EndReason::MediaFailed => 8,
    }
}

fn reason_from_code(code: i64) -> Option<EndReason> {
    Some(match code {
        0 => EndReason::HungUpHere,
        1 => EndReason::HungUpThere,
        2 => EndReason::DeclinedHere,
        3 => EndReason::DeclinedThere,
        4 => EndReason::BusyThere,
        5 => EndReason::NoAnswer,
        6 => EndReason::Missed,
        7 => EndReason::ConnectTimeout,
        8 => EndReason::MediaFailed,
        _ => return None,
    })
}

/// A row as read, before its codes are checked.
struct Row {
    id: i64,
    call_id: Option<Vec<u8>>,
    contact: String,
    direction: i64,
    started_at_ms: u64,
    connected_at_ms: Option<u64>,
    ended_at_ms: u64,
    end_reason: Option<i64>,
    path: Option<i64>,
    while_busy: bool,
    expires_at_ms: Option<u64>,
}

impl Row {
    fn entry(self) -> Result<CallLogEntry> {
        let call_id = self
            .call_id
            .map(|bytes| <[u8; 16]>::try_from(bytes.as_slice()).map(CallId))
            .transpose()
            .map_err(|_| Error::CorruptStore)?;
        let direction = match self.direction {
            0 => CallDirection::Incoming,
            1 => CallDirection::Outgoing,
            _ => return Err(Error::CorruptStore),
        };
        let end_reason = self
            .end_reason
            .map(|code| reason_from_code(code).ok_or(Error::CorruptStore))
            .transpose()?;
        let path = match self.path {
            None => None,
            Some(0) => Some(PathKind::Direct),
            Some(1) => Some(PathKind::Relayed),
            Some(_) => return Err(Error::CorruptStore),
        };
        Ok(CallLogEntry {
            id: self.id,
            call_id,
            contact: ContactId::from_string(self.contact),
            direction,
            started_at_ms: self.started_at_ms,
            connected_at_ms: self.connected_at_ms,
            ended_at_ms: self.ended_at_ms,
            end_reason,
            path,
            while_busy: self.while_busy,
            expires_at_ms: self.expires_at_ms,
        })
    }
}

impl SqlCipherStore {
    /// Adds an entry; returns its id.
    pub(crate) fn call_log_insert(&mut self, entry: &NewCallLogEntry) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO call_log (call_id, contact, direction, started_at_ms,
                 connected_at_ms, ended_at_ms, end_reason, path, while_busy, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                entry.call_id.map(|id| id.0.to_vec()),
                entry.contact.as_str(),
                match entry.direction {
                    CallDirection::Incoming => 0i64,
                    CallDirection::Outgoing => 1,
                },
                entry.started_at_ms,
                entry.connected_at_ms,
                entry.ended_at_ms,
                entry.end_reason.map(reason_code),
                entry.path.map(|path| match path {
                    PathKind::Direct => 0i64,
                    PathKind::Relayed => 1,
                }),
                entry.while_busy,
                entry.expires_at_ms,
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest `limit` entries that started before `before_ms` (all if
    /// `None`) and have not expired by `now_ms`, newest first.
    pub(crate) fn call_log(
        &self,
        limit: usize,
        before_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<Vec<CallLogEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, call_id, contact, direction, started_at_ms, connected_at_ms,
                    ended_at_ms, end_reason, path, while_busy, expires_at_ms
             FROM call_log
             WHERE started_at_ms < ?1 AND (expires_at_ms IS NULL OR expires_at_ms > ?3)
             ORDER BY started_at_ms DESC, id DESC LIMIT ?2",
        )?;
        let (before, limit) = super::page(before_ms, limit);
        let rows = stmt.query_map(params![before, limit, now_ms], |row| {
            Ok(Row {
                id: row.get(0)?,
                call_id: row.get(1)?,
                contact: row.get(2)?,
                direction: row.get(3)?,
                started_at_ms: row.get(4)?,
                connected_at_ms: row.get(5)?,
                ended_at_ms: row.get(6)?,
                end_reason: row.get(7)?,
                path: row.get(8)?,
                while_busy: row.get(9)?,
                expires_at_ms: row.get(10)?,
            })
        })?;
        rows.map(|row| row?.entry()).collect()
    }

    /// Deletes one entry; returns whether it existed.
    pub(crate) fn call_log_delete(&mut self, id: i64) -> Result<bool> {
        let deleted = self
            .conn
            .prepare_cached("DELETE FROM call_log WHERE id = ?1")?
            .execute([id])?;
        Ok(deleted > 0)
    }

    /// Deletes the entries whose timer ran out by `now_ms`; returns how many.
    pub(crate) fn call_log_delete_expired(&mut self, now_ms: u64) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM call_log WHERE expires_at_ms <= ?1")?
            .execute([now_ms])?)
    }

    /// Deletes every entry (of `contact` only, if given); returns how many.
    pub(crate) fn call_log_clear(&mut self, contact: Option<&ContactId>) -> Result<usize> {
        let deleted = match contact {
            Some(contact) => self
                .conn
                .prepare_cached("DELETE FROM call_log WHERE contact = ?1")?
                .execute([contact.as_str()])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM call_log")?
                .execute([])?,
        };
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_reason_survives_its_code_and_unknown_codes_are_refused() {
        let all = [
            EndReason::HungUpHere,
            EndReason::HungUpThere,
            EndReason::DeclinedHere,
            EndReason::DeclinedThere,
            EndReason::BusyThere,
            EndReason::NoAnswer,
            EndReason::Missed,
            EndReason::ConnectTimeout,
            EndReason::MediaFailed,
        ];
        for reason in all {
            assert_eq!(reason_from_code(reason_code(reason)), Some(reason));
        }
        assert_eq!(reason_from_code(9), None);
        assert_eq!(reason_from_code(-1), None);
    }

    #[test]
    fn a_row_with_an_unknown_code_is_a_corrupt_store() {
        let row = |direction, path| Row {
            id: 1,
            call_id: None,
            contact: "c".into(),
            direction,
            started_at_ms: 0,
            connected_at_ms: None,
            ended_at_ms: 0,
            end_reason: None,
            path,
            while_busy: false,
            expires_at_ms: None,
        };
        assert!(row(0, None).entry().is_ok());
        assert!(matches!(row(2, None).entry(), Err(Error::CorruptStore)));
        assert!(matches!(row(1, Some(5)).entry(), Err(Error::CorruptStore)));
    }
}
