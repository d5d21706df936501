//! What the relay keeps, behind [`RelayStorage`], with an embedded SQLite
//! implementation.
//!
//! Stored: accounts (identity public key and registration id), their
//! published prekeys, and mailboxes of sealed envelopes (recipient, opaque
//! payload and its size, arrival and expiry times). Nothing else: no sender, no phone
//! number, no contact list, no plaintext. A PostgreSQL implementation for
//! several relays can implement the same trait.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use sotto_core::relay::wire::proto;

/// Storage failures. They carry no user data.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum StorageError {
    /// database error: {0}
    Database(#[from] rusqlite::Error),
    /// the account does not exist
    NoAccount,
    /// the recipient's mailbox is full
    MailboxFull,
    /// the upload would take the account past its prekey count or byte quota
    TooManyPreKeys,
}

/// One-time prekeys of each kind an account may keep on the relay; a client
/// uploads 100 at a time and tops up when few are left.
pub const MAX_ONE_TIME_PREKEYS: u32 = 1_000;

/// What one mailbox may hold: envelopes and payload bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxQuota {
    /// Envelopes at most.
    pub envelopes: u64,
    /// Payload bytes at most, all envelopes together.
    pub bytes: u64,
}

/// Result alias for storage calls.
pub type StorageResult<T> = Result<T, StorageError>;

/// One queued envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedEnvelope {
    /// Mailbox id, used to acknowledge it.
    pub id: u64,
    /// The sealed payload.
    pub payload: Vec<u8>,
    /// When the relay accepted it (ms since the epoch).
    pub received_at_ms: u64,
}

/// The parts of a bundle the relay hands out: the account's current keys
/// and at most one one-time key of each kind, which are deleted as they are
/// handed out.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleParts {
    /// The account's registration id.
    pub registration_id: u32,
    /// Signed EC prekey.
    pub signed: proto::SignedKey,
    /// A one-time Kyber prekey, or the last-resort one.
    pub kyber: proto::SignedKey,
    /// A one-time EC prekey, if any are left.
    pub one_time: Option<proto::SignedKey>,
}

/// A mailbox write, applied with others in one transaction by
/// [`RelayStorage::write_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxWrite {
    /// Queue an envelope (see [`RelayStorage::enqueue`]).
    Enqueue {
        /// The recipient account.
        recipient: Vec<u8>,
        /// The sealed payload.
        payload: Vec<u8>,
        /// Arrival time.
        now_ms: u64,
        /// Expiry time.
        expires_at_ms: u64,
        /// The recipient's quota.
        quota: MailboxQuota,
    },
    /// Delete an acknowledged envelope (see [`RelayStorage::ack`]).
    Ack {
        /// The account acknowledging.
        recipient: Vec<u8>,
        /// The envelope.
        id: u64,
    },
}

/// What one [`MailboxWrite`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxOutcome {
    /// Queued with this id.
    Queued(u64),
    /// Not queued: no such account.
    NoAccount,
    /// Not queued: the mailbox is full.
    MailboxFull,
    /// Acknowledged; whether the envelope was there.
    Acked(bool),
}

/// Storage of accounts, prekeys and mailboxes. Every method is one
/// transaction; an envelope is durable when [`RelayStorage::enqueue`] returns.
pub trait RelayStorage: Send {
    /// Creates the account or updates its registration id.
    fn upsert_account(
        &mut self,
        identity: &[u8],
        registration_id: u32,
        now_ms: u64,
    ) -> StorageResult<()>;
    /// Whether the account exists.
    fn account_exists(&self, identity: &[u8]) -> StorageResult<bool>;
    /// Deletes the account, its prekeys and its mailbox.
    fn delete_account(&mut self, identity: &[u8]) -> StorageResult<()>;
    /// Stores uploaded prekeys (already checked, see [`crate::prekeys`]);
    /// returns the one-time counts afterwards. Fails with `TooManyPreKeys`,
    /// storing nothing, if the account would then hold more than
    /// [`MAX_ONE_TIME_PREKEYS`] of a kind or more than `byte_quota` bytes of
    /// prekeys (public keys and signatures) in all.
    fn store_prekeys(
        &mut self,
        identity: &[u8],
        upload: &proto::UploadPreKeys,
        byte_quota: u64,
    ) -> StorageResult<proto::PreKeyCounts>;
    /// How many one-time prekeys the account has left.
    fn prekey_counts(&self, identity: &[u8]) -> StorageResult<proto::PreKeyCounts>;
    /// Takes a bundle for the account, consuming its one-time keys: each is
    /// handed out at most once, however many fetches run at the same time.
    fn take_bundle(&mut self, identity: &[u8]) -> StorageResult<Option<BundleParts>>;
    /// Queues one envelope (a batch of one); fails with `MailboxFull` if it
    /// would take the mailbox past `quota`.
    fn enqueue(
        &mut self,
        recipient: &[u8],
        payload: &[u8],
        now_ms: u64,
        expires_at_ms: u64,
        quota: MailboxQuota,
    ) -> StorageResult<u64> {
        let write = MailboxWrite::Enqueue {
            recipient: recipient.to_vec(),
            payload: payload.to_vec(),
            now_ms,
            expires_at_ms,
            quota,
        };
        match self.write_batch(&[write])?.first() {
            Some(MailboxOutcome::Queued(id)) => Ok(*id),
            Some(MailboxOutcome::MailboxFull) => Err(StorageError::MailboxFull),
            _ => Err(StorageError::NoAccount),
        }
    }
    /// Up to `limit` queued envelopes for `recipient` with ids above `after`,
    /// in id order.
    ///
    /// The server remembers the highest id it pushed on a connection and
    /// asks only for ids above it, so an implementation must make ids
    /// visible in increasing order: an envelope must never become visible
    /// with an id below one already returned. One SQLite writer guarantees
    /// this; a shared PostgreSQL store needs a per-recipient sequence.
    fn pending(
        &self,
        recipient: &[u8],
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<QueuedEnvelope>>;
    /// Deletes an acknowledged envelope (a batch of one); returns whether it
    /// was there.
    fn ack(&mut self, recipient: &[u8], id: u64) -> StorageResult<bool> {
        let write = MailboxWrite::Ack {
            recipient: recipient.to_vec(),
            id,
        };
        Ok(matches!(
            self.write_batch(&[write])?.first(),
            Some(MailboxOutcome::Acked(true))
        ))
    }
    /// Deletes envelopes past their expiry; returns how many.
    fn expire(&mut self, now_ms: u64) -> StorageResult<usize>;
    /// A second handle on the same storage, for the reads on the push path
    /// ([`RelayStorage::pending`]), so that they need not wait behind the
    /// writer's commits. SQLite: another connection to the WAL database.
    fn reader(&self) -> StorageResult<Box<dyn RelayStorage>>;
    /// Applies many mailbox writes in one transaction, with one durable
    /// commit (group commit): the relay's hot path. A write that cannot be
    /// done (no account, full mailbox) is an outcome, not a failure; a
    /// database failure fails the whole batch and changes nothing.
    fn write_batch(&mut self, writes: &[MailboxWrite]) -> StorageResult<Vec<MailboxOutcome>>;
}

const SCHEMA: &[&str] = &[
    r#"
    CREATE TABLE accounts (
        identity BLOB PRIMARY KEY,
        registration_id INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE signed_prekeys (
        identity BLOB PRIMARY KEY,
        key_id INTEGER NOT NULL,
        public_key BLOB NOT NULL,
        signature BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE last_resort_prekeys (
        identity BLOB PRIMARY KEY,
        key_id INTEGER NOT NULL,
        public_key BLOB NOT NULL,
        signature BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE one_time_prekeys (
        identity BLOB NOT NULL,
        kyber INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        public_key BLOB NOT NULL,
        signature BLOB NOT NULL,
        PRIMARY KEY (identity, kyber, key_id)
    ) WITHOUT ROWID;
    CREATE TABLE mailbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient BLOB NOT NULL,
        payload BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );
    CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id);
    CREATE INDEX mailbox_by_expiry ON mailbox (expires_at_ms);
"#,
    r#"
    -- Payload sizes in the recipient index, so that the byte quota is
    -- checked from the index alone, as the envelope count already was.
    ALTER TABLE mailbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
    UPDATE mailbox SET size = length(payload);
    DROP INDEX mailbox_by_recipient;
    CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id, size);
"#,
];

/// [`RelayStorage`] in an embedded SQLite database.
pub struct SqliteStorage {
    conn: Connection,
    path: std::path::PathBuf,
}

impl SqliteStorage {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> StorageResult<Self> {
        let mut conn = Connection::open(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        debug_assert!(mode.eq_ignore_ascii_case("wal"));
        // An envelope is acknowledged to its sender only after this commit,
        // so it must survive power loss.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.set_prepared_statement_cache_capacity(64);
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (index, sql) in SCHEMA.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index + 1)?;
            tx.commit()?;
        }
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    fn counts(conn: &Connection, identity: &[u8]) -> StorageResult<proto::PreKeyCounts> {
        let count = |kyber: bool| -> rusqlite::Result<u32> {
            conn.prepare_cached(
                "SELECT count(*) FROM one_time_prekeys WHERE identity = ?1 AND kyber = ?2",
            )?
            .query_row(params![identity, kyber], |r| r.get(0))
        };
        Ok(proto::PreKeyCounts {
            one_time: count(false)?,
            one_time_kyber: count(true)?,
        })
    }
}

fn signed_key(row: &rusqlite::Row<'_>) -> rusqlite::Result<proto::SignedKey> {
    Ok(proto::SignedKey {
        id: row.get(0)?,
        public_key: row.get(1)?,
        signature: row.get(2)?,
    })
}

impl RelayStorage for SqliteStorage {
    fn upsert_account(
        &mut self,
        identity: &[u8],
        registration_id: u32,
        now_ms: u64,
    ) -> StorageResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO accounts (identity, registration_id, created_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (identity) DO UPDATE SET registration_id = ?2",
            )?
            .execute(params![identity, registration_id, now_ms])?;
        Ok(())
    }

    fn account_exists(&self, identity: &[u8]) -> StorageResult<bool> {
        account_exists_in(&self.conn, identity)
    }

    fn delete_account(&mut self, identity: &[u8]) -> StorageResult<()> {
        let tx = self.conn.transaction()?;
        for table in [
            "accounts",
            "signed_prekeys",
            "last_resort_prekeys",
            "one_time_prekeys",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE identity = ?1"),
                [identity],
            )?;
        }
        tx.execute("DELETE FROM mailbox WHERE recipient = ?1", [identity])?;
        tx.commit()?;
        Ok(())
    }

    fn store_prekeys(
        &mut self,
        identity: &[u8],
        upload: &proto::UploadPreKeys,
        byte_quota: u64,
    ) -> StorageResult<proto::PreKeyCounts> {
        let tx = self.conn.transaction()?;
        if !account_exists_in(&tx, identity)? {
            return Err(StorageError::NoAccount);
        }
        for (table, key) in [
            ("signed_prekeys", &upload.signed_prekey),
            ("last_resort_prekeys", &upload.kyber_last_resort),
        ] {
            if let Some(key) = key {
                tx.execute(
                    &format!(
                        "INSERT OR REPLACE INTO {table} (identity, key_id, public_key, signature)
                         VALUES (?1, ?2, ?3, ?4)"
                    ),
                    params![identity, key.id, key.public_key, key.signature],
                )?;
            }
        }
        for (kyber, keys) in [
            (false, &upload.one_time_prekeys),
            (true, &upload.one_time_kyber_prekeys),
        ] {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO one_time_prekeys
                    (identity, kyber, key_id, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for key in keys {
                insert.execute(params![
                    identity,
                    kyber,
                    key.id,
                    key.public_key,
                    key.signature
                ])?;
            }
        }
        let counts = Self::counts(&tx, identity)?;
        if counts.one_time > MAX_ONE_TIME_PREKEYS
            || counts.one_time_kyber > MAX_ONE_TIME_PREKEYS
            || prekey_bytes(&tx, identity)? > byte_quota
        {
            // Dropping `tx` rolls the upload back.
            return Err(StorageError::TooManyPreKeys);
        }
        tx.commit()?;
        Ok(counts)
    }

    fn prekey_counts(&self, identity: &[u8]) -> StorageResult<proto::PreKeyCounts> {
        Self::counts(&self.conn, identity)
    }

    fn take_bundle(&mut self, identity: &[u8]) -> StorageResult<Option<BundleParts>> {
        // One transaction with the write lock taken up front: two fetches
        // cannot both read the same one-time key before either deletes it.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let registration_id: Option<u32> = tx
            .prepare_cached("SELECT registration_id FROM accounts WHERE identity = ?1")?
            .query_row([identity], |r| r.get(0))
            .optional()?;
        let Some(registration_id) = registration_id else {
            return Ok(None);
        };
        let signed = tx
            .prepare_cached(
                "SELECT key_id, public_key, signature FROM signed_prekeys WHERE identity = ?1",
            )?
            .query_row([identity], signed_key)
            .optional()?;
        let last_resort = tx
            .prepare_cached(
                "SELECT key_id, public_key, signature FROM last_resort_prekeys WHERE identity = ?1",
            )?
            .query_row([identity], signed_key)
            .optional()?;
        let (Some(signed), Some(last_resort)) = (signed, last_resort) else {
            return Ok(None);
        };
        let take_one_time = |kyber: bool| -> rusqlite::Result<Option<proto::SignedKey>> {
            tx.prepare_cached(
                "DELETE FROM one_time_prekeys
                 WHERE identity = ?1 AND kyber = ?2 AND key_id = (
                     SELECT min(key_id) FROM one_time_prekeys WHERE identity = ?1 AND kyber = ?2)
                 RETURNING key_id, public_key, signature",
            )?
            .query_row(params![identity, kyber], signed_key)
            .optional()
        };
        let one_time = take_one_time(false)?;
        let kyber = take_one_time(true)?.unwrap_or(last_resort);
        tx.commit()?;
        Ok(Some(BundleParts {
            registration_id,
            signed,
            kyber,
            one_time,
        }))
    }

    fn pending(
        &self,
        recipient: &[u8],
        after: u64,
        limit: usize,
    ) -> StorageResult<Vec<QueuedEnvelope>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, payload, received_at_ms FROM mailbox
             WHERE recipient = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![recipient, after, limit as i64], |r| {
            Ok(QueuedEnvelope {
                id: r.get(0)?,
                payload: r.get(1)?,
                received_at_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn reader(&self) -> StorageResult<Box<dyn RelayStorage>> {
        Ok(Box::new(Self::open(&self.path)?))
    }

    fn expire(&mut self, now_ms: u64) -> StorageResult<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM mailbox WHERE expires_at_ms <= ?1", [now_ms])?)
    }

    fn write_batch(&mut self, writes: &[MailboxWrite]) -> StorageResult<Vec<MailboxOutcome>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            outcomes.push(match write {
                MailboxWrite::Enqueue {
                    recipient,
                    payload,
                    now_ms,
                    expires_at_ms,
                    quota,
                } => match enqueue_in(&tx, recipient, payload, *now_ms, *expires_at_ms, *quota) {
                    Ok(id) => MailboxOutcome::Queued(id),
                    Err(StorageError::NoAccount) => MailboxOutcome::NoAccount,
                    Err(StorageError::MailboxFull) => MailboxOutcome::MailboxFull,
                    Err(e) => return Err(e),
                },
                MailboxWrite::Ack { recipient, id } => {
                    let deleted = tx
                        .prepare_cached("DELETE FROM mailbox WHERE recipient = ?1 AND id = ?2")?
                        .execute(params![recipient, id])?;
                    MailboxOutcome::Acked(deleted > 0)
                }
            });
        }
        tx.commit()?;
        Ok(outcomes)
    }
}

/// Bytes of prekeys (public keys and signatures) the account holds.
fn prekey_bytes(conn: &Connection, identity: &[u8]) -> StorageResult<u64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(sum(length(public_key) + length(signature)), 0) FROM (
                 SELECT public_key, signature FROM signed_prekeys WHERE identity = ?1
                 UNION ALL
                 SELECT public_key, signature FROM last_resort_prekeys WHERE identity = ?1
                 UNION ALL
                 SELECT public_key, signature FROM one_time_prekeys WHERE identity = ?1)",
        )?
        .query_row([identity], |r| r.get(0))?)
}

fn account_exists_in(conn: &Connection, identity: &[u8]) -> StorageResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM accounts WHERE identity = ?1")?
        .exists([identity])?)
}

/// Queues one envelope inside an open transaction.
fn enqueue_in(
    conn: &Connection,
    recipient: &[u8],
    payload: &[u8],
    now_ms: u64,
    expires_at_ms: u64,
    quota: MailboxQuota,
) -> StorageResult<u64> {
    if !account_exists_in(conn, recipient)? {
        return Err(StorageError::NoAccount);
    }
    let (queued, bytes): (u64, u64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(size), 0) FROM mailbox WHERE recipient = ?1",
        )?
        .query_row([recipient], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let size = payload.len() as u64;
    if queued >= quota.envelopes || bytes.saturating_add(size) > quota.bytes {
        return Err(StorageError::MailboxFull);
    }
    conn.prepare_cached(
        "INSERT INTO mailbox (recipient, payload, size, received_at_ms, expires_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![recipient, payload, size, now_ms, expires_at_ms])?;
    Ok(conn.last_insert_rowid() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> proto::SignedKey {
        proto::SignedKey {
            id,
            public_key: vec![id as u8; 33],
            signature: vec![1; 64],
        }
    }

    /// Envelope quotas only.
    fn envelopes(envelopes: u64) -> MailboxQuota {
        MailboxQuota {
            envelopes,
            bytes: u64::MAX,
        }
    }

    fn storage() -> (tempfile::TempDir, SqliteStorage) {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("relay.db")).expect("open");
        (dir, storage)
    }

    #[test]
    fn one_time_keys_are_handed_out_once_then_last_resort() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        s.upsert_account(b"alice", 7, 1)?;
        let counts = s.store_prekeys(
            b"alice",
            &proto::UploadPreKeys {
                signed_prekey: Some(key(1)),
                kyber_last_resort: Some(key(2)),
                one_time_prekeys: vec![key(10), key(11)],
                one_time_kyber_prekeys: vec![key(20)],
            },
            u64::MAX,
        )?;
        assert_eq!((counts.one_time, counts.one_time_kyber), (2, 1));
        let first = s.take_bundle(b"alice")?.expect("bundle");
        let second = s.take_bundle(b"alice")?.expect("bundle");
        let third = s.take_bundle(b"alice")?.expect("bundle");
        assert_eq!(first.one_time.map(|k| k.id), Some(10));
        assert_eq!(second.one_time.map(|k| k.id), Some(11));
        assert_eq!(third.one_time, None);
        assert_eq!(
            (first.kyber.id, second.kyber.id, third.kyber.id),
            (20, 2, 2)
        );
        assert_eq!(s.take_bundle(b"nobody")?, None);
        Ok(())
    }

    #[test]
    fn one_time_prekey_uploads_are_capped() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        s.upsert_account(b"carol", 1, 1)?;
        let upload = |from: u32, n: u32| proto::UploadPreKeys {
            one_time_prekeys: (from..from + n).map(key).collect(),
            ..Default::default()
        };
        s.store_prekeys(b"carol", &upload(0, MAX_ONE_TIME_PREKEYS), u64::MAX)?;
        assert!(matches!(
            s.store_prekeys(b"carol", &upload(MAX_ONE_TIME_PREKEYS, 1), u64::MAX),
            Err(StorageError::TooManyPreKeys)
        ));
        assert_eq!(s.prekey_counts(b"carol")?.one_time, MAX_ONE_TIME_PREKEYS);
        Ok(())
    }

    #[test]
    fn prekey_bytes_are_capped_and_a_refused_upload_stores_nothing() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        s.upsert_account(b"dave", 1, 1)?;
        // Each test key is 33 + 64 bytes.
        let upload = |ids: std::ops::Range<u32>| proto::UploadPreKeys {
            signed_prekey: Some(key(0)),
            one_time_prekeys: ids.map(key).collect(),
            ..Default::default()
        };
        let quota = 10 * 97;
        assert_eq!(s.store_prekeys(b"dave", &upload(1..10), quota)?.one_time, 9);
        assert!(matches!(
            s.store_prekeys(b"dave", &upload(10..11), quota),
            Err(StorageError::TooManyPreKeys)
        ));
        assert_eq!(s.prekey_counts(b"dave")?.one_time, 9);
        // Replacing the signed prekey is not adding to it.
        assert_eq!(s.store_prekeys(b"dave", &upload(1..1), quota)?.one_time, 9);
        Ok(())
    }

    #[test]
    fn mailbox_bytes_are_capped() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        s.upsert_account(b"erin", 1, 1)?;
        let quota = MailboxQuota {
            envelopes: 100,
            bytes: 10,
        };
        s.enqueue(b"erin", &[1; 6], 1, 100, quota)?;
        assert!(matches!(
            s.enqueue(b"erin", &[2; 5], 1, 100, quota),
            Err(StorageError::MailboxFull)
        ));
        s.enqueue(b"erin", &[3; 4], 1, 100, quota)?;
        assert_eq!(s.pending(b"erin", 0, 10)?.len(), 2);
        Ok(())
    }

    #[test]
    fn a_database_of_the_first_schema_counts_its_mailbox_bytes() -> StorageResult<()> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("relay.db");
        {
            let conn = Connection::open(&path)?;
            conn.execute_batch(SCHEMA[0])?;
            conn.pragma_update(None, "user_version", 1)?;
            conn.execute(
                "INSERT INTO accounts VALUES (?1, 1, 1)",
                [b"frank".as_slice()],
            )?;
            conn.execute(
                "INSERT INTO mailbox (recipient, payload, received_at_ms, expires_at_ms)
                 VALUES (?1, ?2, 1, 100)",
                params![b"frank".as_slice(), [7u8; 8].as_slice()],
            )?;
        }
        let mut s = SqliteStorage::open(&path)?;
        let quota = MailboxQuota {
            envelopes: 100,
            bytes: 10,
        };
        assert!(matches!(
            s.enqueue(b"frank", &[1; 3], 1, 100, quota),
            Err(StorageError::MailboxFull)
        ));
        s.enqueue(b"frank", &[1; 2], 1, 100, quota)?;
        Ok(())
    }

    #[test]
    fn a_reader_sees_every_committed_write() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        let reader = s.reader()?;
        s.upsert_account(b"bob", 1, 1)?;
        let id = s.enqueue(b"bob", b"one", 1, 100, envelopes(10))?;
        assert_eq!(reader.pending(b"bob", 0, 10)?[0].id, id);
        s.ack(b"bob", id)?;
        assert!(reader.pending(b"bob", 0, 10)?.is_empty());
        Ok(())
    }

    #[test]
    fn mailbox_queues_acks_expires_and_enforces_quota() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        s.upsert_account(b"bob", 1, 1)?;
        assert!(matches!(
            s.enqueue(b"nobody", b"x", 1, 100, envelopes(10)),
            Err(StorageError::NoAccount)
        ));
        let a = s.enqueue(b"bob", b"one", 1, 100, envelopes(2))?;
        let b = s.enqueue(b"bob", b"two", 1, 50, envelopes(2))?;
        assert!(matches!(
            s.enqueue(b"bob", b"three", 1, 100, envelopes(2)),
            Err(StorageError::MailboxFull)
        ));
        assert_eq!(s.pending(b"bob", 0, 10)?.len(), 2);
        assert_eq!(s.pending(b"bob", a, 10)?[0].id, b);
        assert!(s.ack(b"bob", a)?);
        assert!(!s.ack(b"bob", a)?);
        assert!(!s.ack(b"mallory", b)?, "only the recipient can acknowledge");
        assert_eq!(s.expire(50)?, 1);
        assert!(s.pending(b"bob", 0, 10)?.is_empty());
        s.delete_account(b"bob")?;
        assert!(!s.account_exists(b"bob")?);
        Ok(())
    }

    #[test]
    fn batches_apply_every_write_and_report_each_outcome() -> StorageResult<()> {
        let (_dir, mut s) = storage();
        s.upsert_account(b"bob", 1, 1)?;
        let enqueue = |recipient: &[u8]| MailboxWrite::Enqueue {
            recipient: recipient.to_vec(),
            payload: b"sealed".to_vec(),
            now_ms: 1,
            expires_at_ms: 100,
            quota: envelopes(2),
        };
        let outcomes = s.write_batch(&[
            enqueue(b"bob"),
            enqueue(b"nobody"),
            enqueue(b"bob"),
            enqueue(b"bob"),
        ])?;
        let MailboxOutcome::Queued(first) = outcomes[0] else {
            panic!("queued")
        };
        assert_eq!(outcomes[1], MailboxOutcome::NoAccount);
        assert!(matches!(outcomes[2], MailboxOutcome::Queued(_)));
        assert_eq!(outcomes[3], MailboxOutcome::MailboxFull);
        let acks = s.write_batch(&[
            MailboxWrite::Ack {
                recipient: b"bob".to_vec(),
                id: first,
            },
            MailboxWrite::Ack {
                recipient: b"bob".to_vec(),
                id: first,
            },
        ])?;
        assert_eq!(
            acks,
            vec![MailboxOutcome::Acked(true), MailboxOutcome::Acked(false)]
        );
        assert_eq!(s.pending(b"bob", 0, 10)?.len(), 1);
        Ok(())
    }
}
