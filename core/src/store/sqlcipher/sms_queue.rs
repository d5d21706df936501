//! The SMS bridge's queue in the SQLCipher store (schema version 6): SMS
//! the core made and the app has not yet seen through to sent, delivered or
//! failed, and the encrypted texts each batch of them carries.
//!
//! Only the application facade (`app::sms`) uses it, and the facade always
//! runs on an [`SqlCipherStore`], so these are inherent methods rather than
//! part of [`super::SottoStore`]: the protocol layer never queues SMS.
//! Callers wrap writes in a transaction (`store::in_transaction`).

use rusqlite::{params, OptionalExtension};

use super::SqlCipherStore;
use crate::error::{Error, Result};
use crate::message::MessageId;
use crate::sms::phone::PhoneNumber;
use crate::sms::{LegKind, WaitingLeg};
use crate::store::ContactId;

/// How far one queued SMS has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum QueueState {
    /// Waiting for the app to take it.
    Queued,
    /// Taken by the app, not reported yet.
    HandedOut,
    /// The radio sent it.
    Sent,
    /// The carrier reported its delivery.
    Delivered,
    /// Sending failed.
    Failed,
}

impl QueueState {
    fn code(self) -> i64 {
        match self {
            QueueState::Queued => 0,
            QueueState::HandedOut => 1,
            QueueState::Sent => 2,
            QueueState::Delivered => 3,
            QueueState::Failed => 4,
        }
    }

    fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => QueueState::Queued,
            1 => QueueState::HandedOut,
            2 => QueueState::Sent,
            3 => QueueState::Delivered,
            4 => QueueState::Failed,
            _ => return None,
        })
    }
}

/// One queued SMS.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct QueuedSmsRow {
    /// Its row id: the id the app reports status with.
    pub(crate) id: i64,
    /// The rows carrying one payload or one plain SMS share it.
    pub(crate) batch: i64,
    /// The recipient.
    pub(crate) to: PhoneNumber,
    /// `Some(port)` for a data SMS.
    pub(crate) data_port: Option<u16>,
    /// The text's UTF-8, or the data SMS user data.
    pub(crate) body: Vec<u8>,
    /// Sotto ciphertext (else a plain SMS).
    pub(crate) encrypted: bool,
    /// The plain-SMS model row a plain SMS carries.
    pub(crate) plain_message: Option<i64>,
    /// Its progress.
    pub(crate) state: QueueState,
}

/// A new row for [`SqlCipherStore::sms_queue_push`].
pub(crate) struct NewQueuedSms<'a> {
    pub(crate) batch: i64,
    pub(crate) to: &'a PhoneNumber,
    pub(crate) data_port: Option<u16>,
    pub(crate) body: &'a [u8],
    pub(crate) encrypted: bool,
    pub(crate) plain_message: Option<i64>,
    pub(crate) at_ms: u64,
}

const COLUMNS: &str = "id, batch, phone, data_port, body, encrypted, plain_message, state";

fn row_to_sms(row: &rusqlite::Row<'_>) -> rusqlite::Result<(QueuedSmsRowParts, i64)> {
    Ok((
        QueuedSmsRowParts {
            id: row.get(0)?,
            batch: row.get(1)?,
            phone: row.get(2)?,
            data_port: row.get(3)?,
            body: row.get(4)?,
            encrypted: row.get(5)?,
            plain_message: row.get(6)?,
        },
        row.get(7)?,
    ))
}

struct QueuedSmsRowParts {
    id: i64,
    batch: i64,
    phone: String,
    data_port: Option<u16>,
    body: Vec<u8>,
    encrypted: bool,
    plain_message: Option<i64>,
}

fn finish(parts: QueuedSmsRowParts, state: i64) -> Result<QueuedSmsRow> {
    Ok(QueuedSmsRow {
        id: parts.id,
        batch: parts.batch,
        to: PhoneNumber::from_stored(parts.phone).map_err(|_| Error::CorruptStore)?,
        data_port: parts.data_port,
        body: parts.body,
        encrypted: parts.encrypted,
        plain_message: parts.plain_message,
        state: QueueState::from_code(state).ok_or(Error::CorruptStore)?,
    })
}

impl SqlCipherStore {
    /// The SMS handshake legs kept across restarts.
    pub(crate) fn sms_legs(&self) -> Result<Vec<WaitingLeg>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT phone, kind, contact, payload, sent_at_ms, attempts FROM sms_legs
             ORDER BY phone, kind",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, u64>(4)?,
                row.get::<_, u8>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (phone, kind, contact, payload, sent_at_ms, attempts) = row?;
            Ok(WaitingLeg {
                kind: match kind {
                    0 => LegKind::Hello,
                    1 => LegKind::Answer,
                    2 => LegKind::RelayOwed,
                    _ => return Err(Error::CorruptStore),
                },
                to: PhoneNumber::from_stored(phone).map_err(|_| Error::CorruptStore)?,
                contact: ContactId::from_string(contact),
                payload,
                sent_at_ms,
                attempts,
            })
        })
        .collect()
    }

    /// Replaces the kept SMS handshake legs with `legs`.
    pub(crate) fn replace_sms_legs(&mut self, legs: &[WaitingLeg]) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM sms_legs")?
            .execute([])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO sms_legs (phone, kind, contact, payload, sent_at_ms, attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for leg in legs {
            let kind = match leg.kind {
                LegKind::Hello => 0,
                LegKind::Answer => 1,
                LegKind::RelayOwed => 2,
            };
            insert.execute(params![
                leg.to.as_str(),
                kind,
                leg.contact.as_str(),
                leg.payload,
                leg.sent_at_ms,
                leg.attempts
            ])?;
        }
        Ok(())
    }

    /// A batch number no queued row uses.
    pub(crate) fn sms_queue_new_batch(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(batch), 0) + 1 FROM sms_queue")?
            .query_row([], |row| row.get(0))?)
    }

    /// Queues one SMS; returns its id.
    pub(crate) fn sms_queue_push(&mut self, sms: &NewQueuedSms<'_>) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO sms_queue
                 (batch, phone, data_port, body, encrypted, plain_message, state, queued_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                sms.batch,
                sms.to.as_str(),
                sms.data_port,
                sms.body,
                sms.encrypted,
                sms.plain_message,
                QueueState::Queued.code(),
                sms.at_ms
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records that `batch` carries the encrypted text `message_id` to
    /// `contact`.
    pub(crate) fn sms_queue_add_text(
        &mut self,
        batch: i64,
        contact: &ContactId,
        message_id: &MessageId,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO sms_queue_texts (batch, contact, message_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![batch, contact.as_str(), &message_id.0[..]])?;
        Ok(())
    }

    /// The encrypted texts `batch` carries.
    pub(crate) fn sms_queue_texts(&self, batch: i64) -> Result<Vec<(ContactId, MessageId)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT contact, message_id FROM sms_queue_texts WHERE batch = ?1")?;
        let rows = stmt.query_map([batch], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (contact, id) = row?;
            let id = MessageId(<[u8; 16]>::try_from(&id[..]).map_err(|_| Error::CorruptStore)?);
            Ok((ContactId::from_string(contact), id))
        })
        .collect()
    }

    /// Every row in `state`, oldest first.
    pub(crate) fn sms_queue_in_state(&self, state: QueueState) -> Result<Vec<QueuedSmsRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sms_queue WHERE state = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([state.code()], row_to_sms)?;
        rows.map(|row| {
            let (parts, state) = row?;
            finish(parts, state)
        })
        .collect()
    }

    /// One row.
    pub(crate) fn sms_queue_row(&self, id: i64) -> Result<Option<QueuedSmsRow>> {
        let row = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM sms_queue WHERE id = ?1"))?
            .query_row([id], row_to_sms)
            .optional()?;
        row.map(|(parts, state)| finish(parts, state)).transpose()
    }

    /// The states of every row of `batch`.
    pub(crate) fn sms_queue_batch_states(&self, batch: i64) -> Result<Vec<QueueState>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state FROM sms_queue WHERE batch = ?1")?;
        let rows = stmt.query_map([batch], |row| row.get::<_, i64>(0))?;
        rows.map(|code| QueueState::from_code(code?).ok_or(Error::CorruptStore))
            .collect()
    }

    /// Sets the state of row `id`.
    pub(crate) fn sms_queue_set_state(&mut self, id: i64, state: QueueState) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sms_queue SET state = ?2 WHERE id = ?1")?
            .execute(params![id, state.code()])?;
        Ok(())
    }

    /// Puts rows handed out but never reported back in the queue (after a
    /// restart the app cannot know whether it sent them); returns how many.
    pub(crate) fn sms_queue_requeue_handed_out(&mut self) -> Result<usize> {
        Ok(self
            .conn
            .prepare_cached("UPDATE sms_queue SET state = ?1 WHERE state = ?2")?
            .execute(params![
                QueueState::Queued.code(),
                QueueState::HandedOut.code()
            ])?)
    }

    /// Forgets `batch` and its texts.
    pub(crate) fn sms_queue_remove_batch(&mut self, batch: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM sms_queue WHERE batch = ?1")?
            .execute([batch])?;
        self.conn
            .prepare_cached("DELETE FROM sms_queue_texts WHERE batch = ?1")?
            .execute([batch])?;
        Ok(())
    }

    /// Forgets batches queued before `before_ms` of which no row waits for
    /// the radio any more (sent ones whose delivery report never came).
    /// A batch with a failed row stays: it waits for `retry_failed_sms`,
    /// and its texts (taken out of the relay outbox) exist nowhere else.
    pub(crate) fn sms_queue_prune(&mut self, before_ms: u64) -> Result<usize> {
        let kept = [
            QueueState::Queued.code(),
            QueueState::HandedOut.code(),
            QueueState::Failed.code(),
        ];
        let removed = self
            .conn
            .prepare_cached(
                "DELETE FROM sms_queue WHERE queued_at_ms < ?1 AND batch NOT IN
                 (SELECT batch FROM sms_queue WHERE state IN (?2, ?3, ?4))",
            )?
            .execute(params![before_ms, kept[0], kept[1], kept[2]])?;
        self.conn
            .prepare_cached(
                "DELETE FROM sms_queue_texts WHERE batch NOT IN (SELECT batch FROM sms_queue)",
            )?
            .execute([])?;
        Ok(removed)
    }

    /// How many rows are in `state`.
    pub(crate) fn sms_queue_count(&self, state: QueueState) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM sms_queue WHERE state = ?1")?
            .query_row([state.code()], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// How many rows wait for the app to take them or report them.
    pub(crate) fn sms_queue_waiting(&self) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM sms_queue WHERE state IN (?1, ?2)")?
            .query_row(
                params![QueueState::Queued.code(), QueueState::HandedOut.code()],
                |row| row.get(0),
            )?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DatabaseKey;

    #[test]
    fn every_kind_of_waiting_leg_survives_the_store() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|_| Error::CorruptStore)?;
        let mut store = SqlCipherStore::open(
            &dir.path().join("legs.db"),
            &DatabaseKey::from_bytes([3; 32]),
        )?;
        let to = PhoneNumber::parse("+4930901820", "DE")?;
        let leg = |kind, payload: &[u8], attempts| WaitingLeg {
            kind,
            to: to.clone(),
            contact: ContactId::from_string("c1".into()),
            payload: payload.to_vec(),
            sent_at_ms: 1_700_000_000_000,
            attempts,
        };
        let legs = vec![
            leg(LegKind::Hello, b"hello", 1),
            leg(LegKind::Answer, b"answer", 2),
            leg(LegKind::RelayOwed, b"", 1),
        ];
        store.replace_sms_legs(&legs)?;
        let mut back = store.sms_legs()?;
        back.sort_by_key(|l| l.payload.clone());
        let mut expected = legs;
        expected.sort_by_key(|l| l.payload.clone());
        assert_eq!(back, expected);
        Ok(())
    }
}
