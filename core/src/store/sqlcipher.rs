//! `SqlCipherStore`: the encrypted on-disk [`SottoStore`].
//!
//! One SQLCipher connection per store, opened in exclusive locking mode so a
//! second writer (another process) is refused rather than interleaved. The
//! database runs in WAL mode with `synchronous = FULL`, so a committed
//! transaction survives a crash or power loss, and with `secure_delete` so
//! deleted rows are overwritten. Temporary tables stay in memory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use libsignal_protocol::{
    Direction as SignalDirection, GenericSignedPreKey, IdentityChange, IdentityKey,
    IdentityKeyPair, IdentityKeyStore, KyberPreKeyId, KyberPreKeyRecord, KyberPreKeyStore,
    PreKeyId, PreKeyRecord, PreKeyStore, ProtocolAddress, PublicKey, SenderKeyRecord,
    SenderKeyStore, SessionRecord, SessionStore, SignalProtocolError, SignedPreKeyId,
    SignedPreKeyRecord, SignedPreKeyStore,
};
use rand::{CryptoRng, RngCore};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::key::{create_salt, read_salt, salt_path};
use super::{
    schema, Attachment, Contact, ContactId, ConversationSettings, DatabaseKey, DeliveryState,
    Direction, HeldEnvelope, HeldSmsPart, IdentityRecord, LocalAccount, NewPlainMessage,
    OutboxEntry, PlainMessage, PlainState, PlainThread, PreKeyState, SottoStore, StoredMessage,
};
use super::{Group, GroupId, GroupMessage, SentSms};
use crate::error::{Error, Result, StoreFailure};
use crate::message::{Envelope, MessageId};
use crate::relay::invite::RelayInvite;
use crate::sms::phone::PhoneNumber;

pub(crate) mod call_log;
pub(crate) mod plain_read_marks;
pub(crate) mod read_marks;
mod rekey;
pub(crate) mod sms_queue;
pub(crate) mod text_transport;

type SignalResult<T> = std::result::Result<T, SignalProtocolError>;

/// A page query's bounds as SQLite integers: rows before `before_ms` (all
/// when `None`), at most `limit`.
pub(crate) fn page(before_ms: Option<u64>, limit: usize) -> (i64, i64) {
    let before = before_ms.map_or(i64::MAX, |ms| i64::try_from(ms).unwrap_or(i64::MAX));
    (before, i64::try_from(limit).unwrap_or(i64::MAX))
}

/// The default page cache of a store, in KiB.
pub const DEFAULT_CACHE_KIB: u32 = 8 * 1024;

/// A [`SottoStore`] in an SQLCipher database file.
pub struct SqlCipherStore {
    conn: Connection,
    in_transaction: bool,
    /// The database file, for [`SqlCipherStore::rekey`].
    path: PathBuf,
}

impl std::fmt::Debug for SqlCipherStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlCipherStore(..)")
    }
}

impl SqlCipherStore {
    /// Whether outbox row `id` still waits (not sent nor taken yet).
    pub(crate) fn outbox_contains(&self, id: i64) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM outbox WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Opens (or creates) the database at `path` with a raw 256-bit key.
    ///
    /// A wrong key gives [`Error::WrongKey`] and leaves the file as it was.
    pub fn open(path: &Path, key: &DatabaseKey) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)?;
        // The key must be the first statement. It goes in as a blob literal
        // so SQLCipher uses it as is (no PBKDF2 on top of Argon2id). The SQL
        // text is built in a wiped buffer and handed to SQLite without a copy.
        let mut statement = zeroize::Zeroizing::new(String::with_capacity(80));
        statement.push_str("PRAGMA key = \"");
        statement.push_str(&key.pragma_literal());
        statement.push_str("\";");
        conn.execute_batch(&statement)?;
        // SQLCipher logs a failed HMAC (a wrong key) to stderr; the caller
        // gets `Error::WrongKey` instead. Set after the key: SQLCipher turns
        // its logging on (level WARN, to stderr) when the key activates it,
        // unless a level other than its initial NONE was set before.
        conn.pragma_update(None, "cipher_log_level", "NONE")?;
        // Nothing is written before the key is known to be right: this read
        // fails with SQLITE_NOTADB on a wrong key, and changes nothing.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(classify_open_error)?;
        // A copy a crashed rekey left behind is never needed: without the
        // rename that ends a rekey, this file is the store.
        rekey::remove_staged(path)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(classify_open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::CorruptStore);
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Every page read from disk costs an HMAC check and a decryption, so
        // a larger page cache than SQLite's 2 MiB pays for itself.
        conn.pragma_update(None, "cache_size", -i64::from(DEFAULT_CACHE_KIB))?;
        // Room for every statement the store prepares (rusqlite keeps 16 by
        // default, fewer than a message's path uses).
        conn.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut conn).map_err(|e| match e {
            Error::Storage(e) => classify_open_error(e),
            other => other,
        })?;
        Ok(Self {
            conn,
            in_transaction: false,
            path: path.to_owned(),
        })
    }

    /// Opens (or creates) the database at `path` with a passphrase. The key
    /// is derived with Argon2id from the passphrase and a random salt kept in
    /// `<path>.salt`, which is created with a new database.
    pub fn open_with_passphrase<R: RngCore + CryptoRng>(
        path: &Path,
        passphrase: &[u8],
        rng: &mut R,
    ) -> Result<Self> {
        let database_exists = path.metadata().map(|m| m.len() > 0).unwrap_or(false);
        let salt = if database_exists || salt_path(path).exists() {
            read_salt(path)?
        } else {
            create_salt(path, rng)?
        };
        let key = DatabaseKey::from_passphrase(passphrase, &salt)?;
        Self::open(path, &key)
    }

    /// Runs SQLCipher's HMAC check over every page; returns the problems it
    /// reports (empty when the file is intact).
    pub fn cipher_integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA cipher_integrity_check")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets the page cache size in KiB (default [`DEFAULT_CACHE_KIB`]).
    ///
    /// Every page read from disk costs an HMAC check and a decryption, so
    /// the cache should hold the store's hot pages. Note that the bundled
    /// SQLite is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so all stores
    /// in one process share one page-cache LRU: a process that keeps several
    /// busy stores open (tests, benchmarks) needs larger caches than a phone
    /// with its one store.
    pub fn set_cache_kib(&mut self, kib: u32) -> Result<()> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(kib))?;
        Ok(())
    }

    fn identity_exists(&self, contact: &ContactId) -> Result<bool> {
        let found = self
            .conn
            .prepare_cached("SELECT 1 FROM identities WHERE contact = ?1")?
            .exists([contact.as_str()])?;
        Ok(found)
    }
}

fn classify_open_error(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::WrongKey,
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => Error::StoreLocked,
        Some(ErrorCode::DatabaseCorrupt) => Error::CorruptStore,
        _ => Error::Storage(e),
    }
}

/// Maps a storage error for return through a libsignal store trait.
fn signal_err(op: &'static str) -> impl FnOnce(rusqlite::Error) -> SignalProtocolError {
    move |e| StoreFailure::into_signal(Error::Storage(e), op)
}

fn corrupt(op: &'static str) -> SignalProtocolError {
    StoreFailure::into_signal(Error::CorruptStore, op)
}

fn message_id_from(bytes: Vec<u8>) -> rusqlite::Result<MessageId> {
    let id: [u8; 16] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "message id is not 16 bytes".into(),
        )
    })?;
    Ok(MessageId(id))
}

fn envelope_from(bytes: Vec<u8>) -> rusqlite::Result<Envelope> {
    Envelope::from_bytes(&bytes).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "stored envelope is malformed".into(),
        )
    })
}

fn parse_stored_relay(text: Option<String>) -> Result<Option<RelayInvite>> {
    text.map(|text| RelayInvite::parse(&text).map_err(|_| Error::CorruptStore))
        .transpose()
}

fn identity_from(bytes: &[u8]) -> rusqlite::Result<IdentityKey> {
    IdentityKey::decode(bytes).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "stored identity key is malformed".into(),
        )
    })
}

#[async_trait(?Send)]
impl IdentityKeyStore for SqlCipherStore {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        let account = self
            .local_account()
            .map_err(|e| StoreFailure::into_signal(e, "get_identity_key_pair"))?;
        let account = account
            .ok_or_else(|| StoreFailure::into_signal(Error::NoAccount, "get_identity_key_pair"))?;
        Ok(account.identity)
    }

    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        self.conn
            .prepare_cached("SELECT registration_id FROM account WHERE id = 1")
            .and_then(|mut s| s.query_row([], |row| row.get(0)))
            .optional()
            .map_err(signal_err("get_local_registration_id"))?
            .ok_or_else(|| StoreFailure::into_signal(Error::NoAccount, "get_local_registration_id"))
    }

    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SignalResult<IdentityChange> {
        let existing = self.get_identity(address).await?;
        if existing.as_ref() == Some(identity) {
            return Ok(IdentityChange::NewOrUnchanged);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO identities (contact, identity_key, verified) VALUES (?1, ?2, 0)
                 ON CONFLICT (contact) DO UPDATE SET identity_key = ?2, verified = 0",
            )
            .and_then(|mut s| s.execute(params![address.name(), &*identity.serialize()]))
            .map_err(signal_err("save_identity"))?;
        Ok(IdentityChange::from_changed(existing.is_some()))
    }

    async fn is_trusted_identity(
        &self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
        _direction: SignalDirection,
    ) -> SignalResult<bool> {
        // Trust on first use; afterwards only the key the user trusted.
        Ok(match self.get_identity(address).await? {
            None => true,
            Some(known) => known == *identity,
        })
    }

    async fn get_identity(&self, address: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT identity_key FROM identities WHERE contact = ?1")
            .and_then(|mut s| s.query_row([address.name()], |row| row.get(0)).optional())
            .map_err(signal_err("get_identity"))?;
        bytes
            .map(|b| IdentityKey::decode(&b).map_err(|_| corrupt("get_identity")))
            .transpose()
    }
}

#[async_trait(?Send)]
impl PreKeyStore for SqlCipherStore {
    async fn get_pre_key(&self, id: PreKeyId) -> SignalResult<PreKeyRecord> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM prekeys WHERE id = ?1")
            .and_then(|mut s| s.query_row([u32::from(id)], |row| row.get(0)).optional())
            .map_err(signal_err("get_pre_key"))?;
        let bytes = bytes.ok_or(SignalProtocolError::InvalidPreKeyId)?;
        PreKeyRecord::deserialize(&bytes).map_err(|_| corrupt("get_pre_key"))
    }

    async fn save_pre_key(&mut self, id: PreKeyId, record: &PreKeyRecord) -> SignalResult<()> {
        let bytes = record.serialize()?;
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO prekeys (id, record) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![u32::from(id), bytes]))
            .map_err(signal_err("save_pre_key"))?;
        Ok(())
    }

    async fn remove_pre_key(&mut self, id: PreKeyId) -> SignalResult<()> {
        self.conn
            .prepare_cached("DELETE FROM prekeys WHERE id = ?1")
            .and_then(|mut s| s.execute([u32::from(id)]))
            .map_err(signal_err("remove_pre_key"))?;
        Ok(())
    }
}

#[async_trait(?Send)]
impl SignedPreKeyStore for SqlCipherStore {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SignalResult<SignedPreKeyRecord> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM signed_prekeys WHERE id = ?1")
            .and_then(|mut s| s.query_row([u32::from(id)], |row| row.get(0)).optional())
            .map_err(signal_err("get_signed_pre_key"))?;
        let bytes = bytes.ok_or(SignalProtocolError::InvalidSignedPreKeyId)?;
        SignedPreKeyRecord::deserialize(&bytes).map_err(|_| corrupt("get_signed_pre_key"))
    }

    async fn save_signed_pre_key(
        &mut self,
        id: SignedPreKeyId,
        record: &SignedPreKeyRecord,
    ) -> SignalResult<()> {
        let bytes = record.serialize()?;
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO signed_prekeys (id, record) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![u32::from(id), bytes]))
            .map_err(signal_err("save_signed_pre_key"))?;
        Ok(())
    }
}

#[async_trait(?Send)]
impl KyberPreKeyStore for SqlCipherStore {
    async fn get_kyber_pre_key(&self, id: KyberPreKeyId) -> SignalResult<KyberPreKeyRecord> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM kyber_prekeys WHERE id = ?1")
            .and_then(|mut s| s.query_row([u32::from(id)], |row| row.get(0)).optional())
            .map_err(signal_err("get_kyber_pre_key"))?;
        let bytes = bytes.ok_or(SignalProtocolError::InvalidKyberPreKeyId)?;
        KyberPreKeyRecord::deserialize(&bytes).map_err(|_| corrupt("get_kyber_pre_key"))
    }

    async fn save_kyber_pre_key(
        &mut self,
        id: KyberPreKeyId,
        record: &KyberPreKeyRecord,
    ) -> SignalResult<()> {
        let bytes = record.serialize()?;
        self.conn
            .prepare_cached(
                "INSERT INTO kyber_prekeys (id, record) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET record = ?2",
            )
            .and_then(|mut s| s.execute(params![u32::from(id), bytes]))
            .map_err(signal_err("save_kyber_pre_key"))?;
        Ok(())
    }

    async fn mark_kyber_pre_key_used(
        &mut self,
        id: KyberPreKeyId,
        ec_prekey_id: SignedPreKeyId,
        base_key: &PublicKey,
    ) -> SignalResult<()> {
        let id = u32::from(id);
        let last_resort: Option<bool> = self
            .conn
            .prepare_cached("SELECT last_resort FROM kyber_prekeys WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |row| row.get(0)).optional())
            .map_err(signal_err("mark_kyber_pre_key_used"))?;
        if last_resort != Some(true) {
            // A one-time key is used up.
            self.remove_kyber_prekey(id)
                .map_err(|e| StoreFailure::into_signal(e, "mark_kyber_pre_key_used"))?;
            return Ok(());
        }
        // A last-resort key may serve many sessions, but never the same base
        // key twice (libsignal's KyberPreKeyStore contract).
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO kyber_base_keys_seen (kyber_id, signed_id, base_key)
                 VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| {
                s.execute(params![id, u32::from(ec_prekey_id), &*base_key.serialize()])
            })
            .map_err(signal_err("mark_kyber_pre_key_used"))?;
        if inserted == 0 {
            return Err(SignalProtocolError::InvalidMessage(
                libsignal_protocol::CiphertextMessageType::PreKey,
                "reused base key",
            ));
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl SessionStore for SqlCipherStore {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT record FROM sessions WHERE contact = ?1")
            .and_then(|mut s| s.query_row([address.name()], |row| row.get(0)).optional())
            .map_err(signal_err("load_session"))?;
        bytes
            .map(|b| SessionRecord::deserialize(&b).map_err(|_| corrupt("load_session")))
            .transpose()
    }

    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> SignalResult<()> {
        let bytes = record.serialize()?;
        self.conn
            .prepare_cached(
                // An in-place update, not REPLACE: the ~6 KB record keeps
                // its overflow pages instead of freeing and reallocating them.
                "INSERT INTO sessions (contact, record) VALUES (?1, ?2)
                 ON CONFLICT (contact) DO UPDATE SET record = ?2",
            )
            .and_then(|mut s| s.execute(params![address.name(), bytes]))
            .map_err(signal_err("store_session"))?;
        Ok(())
    }
}

#[async_trait(?Send)]
impl SenderKeyStore for SqlCipherStore {
    async fn store_sender_key(
        &mut self,
        sender: &ProtocolAddress,
        distribution_id: uuid::Uuid,
        record: &SenderKeyRecord,
    ) -> SignalResult<()> {
        let bytes = record.serialize()?;
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO sender_keys (sender, device, distribution_id, record)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    sender.name(),
                    u32::from(sender.device_id()),
                    &distribution_id.as_bytes()[..],
                    bytes,
                ])
            })
            .map_err(signal_err("store_sender_key"))?;
        Ok(())
    }

    async fn load_sender_key(
        &mut self,
        sender: &ProtocolAddress,
        distribution_id: uuid::Uuid,
    ) -> SignalResult<Option<SenderKeyRecord>> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT record FROM sender_keys
                 WHERE sender = ?1 AND device = ?2 AND distribution_id = ?3",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        sender.name(),
                        u32::from(sender.device_id()),
                        &distribution_id.as_bytes()[..]
                    ],
                    |row| row.get(0),
                )
                .optional()
            })
            .map_err(signal_err("load_sender_key"))?;
        bytes
            .map(|b| SenderKeyRecord::deserialize(&b).map_err(|_| corrupt("load_sender_key")))
            .transpose()
    }
}

impl SottoStore for SqlCipherStore {
    fn begin(&mut self) -> Result<()> {
        if self.in_transaction {
            return Err(Error::NestedTransaction);
        }
        // IMMEDIATE takes the write lock now, so the transaction cannot fail
        // half-way for lack of it.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.in_transaction = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::NoTransaction);
        }
        self.in_transaction = false;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // A failed COMMIT may leave the transaction open; close it so the
            // connection stays usable, and report the failure.
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::NoTransaction);
        }
        self.in_transaction = false;
        self.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }

    fn local_account(&self) -> Result<Option<LocalAccount>> {
        let row: Option<(Vec<u8>, u32)> = self
            .conn
            .prepare_cached("SELECT identity, registration_id FROM account WHERE id = 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        row.map(|(identity, registration_id)| {
            let identity =
                IdentityKeyPair::try_from(&identity[..]).map_err(|_| Error::CorruptStore)?;
            Ok(LocalAccount {
                identity,
                registration_id,
            })
        })
        .transpose()
    }

    fn create_local_account(&mut self, account: &LocalAccount) -> Result<()> {
        if self.local_account()?.is_some() {
            return Err(Error::AccountExists);
        }
        let identity = zeroize::Zeroizing::new(account.identity.serialize());
        self.conn.execute(
            "INSERT INTO account (id, identity, registration_id) VALUES (1, ?1, ?2)",
            params![&identity[..], account.registration_id],
        )?;
        Ok(())
    }

    fn prekey_state(&self) -> Result<PreKeyState> {
        let state = self
            .conn
            .prepare_cached(
                "SELECT next_ec_id, next_kyber_id, next_signed_id, active_signed_id,
                        signed_created_at_ms, active_last_resort_id, last_resort_created_at_ms,
                        ec_handed_out_below, kyber_handed_out_below
                 FROM prekey_state WHERE id = 1",
            )?
            .query_row([], |row| {
                Ok(PreKeyState {
                    next_ec_id: row.get(0)?,
                    next_kyber_id: row.get(1)?,
                    next_signed_id: row.get(2)?,
                    active_signed_id: row.get(3)?,
                    signed_created_at_ms: row.get(4)?,
                    active_last_resort_id: row.get(5)?,
                    last_resort_created_at_ms: row.get(6)?,
                    ec_handed_out_below: row.get(7)?,
                    kyber_handed_out_below: row.get(8)?,
                })
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    fn save_prekey_state(&mut self, state: &PreKeyState) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO prekey_state (id, next_ec_id, next_kyber_id,
                    next_signed_id, active_signed_id, signed_created_at_ms,
                    active_last_resort_id, last_resort_created_at_ms,
                    ec_handed_out_below, kyber_handed_out_below)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                state.next_ec_id,
                state.next_kyber_id,
                state.next_signed_id,
                state.active_signed_id,
                state.signed_created_at_ms,
                state.active_last_resort_id,
                state.last_resort_created_at_ms,
                state.ec_handed_out_below,
                state.kyber_handed_out_below,
            ])?;
        Ok(())
    }

    fn one_time_prekey_ids(&self) -> Result<Vec<u32>> {
        collect_ids(&self.conn, "SELECT id FROM prekeys ORDER BY id")
    }

    fn one_time_kyber_prekey_ids(&self) -> Result<Vec<u32>> {
        collect_ids(
            &self.conn,
            "SELECT id FROM kyber_prekeys WHERE last_resort = 0 ORDER BY id",
        )
    }

    fn signed_prekey_ids(&self) -> Result<Vec<u32>> {
        collect_ids(&self.conn, "SELECT id FROM signed_prekeys ORDER BY id")
    }

    fn last_resort_kyber_prekey_ids(&self) -> Result<Vec<u32>> {
        collect_ids(
            &self.conn,
            "SELECT id FROM kyber_prekeys WHERE last_resort = 1 ORDER BY id",
        )
    }

    fn mark_kyber_last_resort(&mut self, id: u32) -> Result<()> {
        self.conn.execute(
            "UPDATE kyber_prekeys SET last_resort = 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    fn remove_signed_prekey(&mut self, id: u32) -> Result<()> {
        self.conn
            .execute("DELETE FROM signed_prekeys WHERE id = ?1", [id])?;
        Ok(())
    }

    fn remove_kyber_prekey(&mut self, id: u32) -> Result<()> {
        self.conn
            .execute("DELETE FROM kyber_prekeys WHERE id = ?1", [id])?;
        self.conn
            .execute("DELETE FROM kyber_base_keys_seen WHERE kyber_id = ?1", [id])?;
        Ok(())
    }

    fn identity_record(&self, contact: &ContactId) -> Result<Option<IdentityRecord>> {
        let row: Option<(Vec<u8>, bool)> = self
            .conn
            .prepare_cached("SELECT identity_key, verified FROM identities WHERE contact = ?1")?
            .query_row([contact.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        row.map(|(key, verified)| {
            Ok(IdentityRecord {
                key: identity_from(&key)?,
                verified,
            })
        })
        .transpose()
    }

    fn trust_identity(&mut self, contact: &ContactId, key: &IdentityKey) -> Result<()> {
        self.conn.execute(
            "INSERT INTO identities (contact, identity_key, verified) VALUES (?1, ?2, 0)
             ON CONFLICT (contact) DO UPDATE SET identity_key = ?2, verified = 0",
            params![contact.as_str(), &*key.serialize()],
        )?;
        Ok(())
    }

    fn contact_by_identity(&self, key: &IdentityKey) -> Result<Option<ContactId>> {
        let contact: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT contact FROM identities WHERE identity_key = ?1 ORDER BY contact LIMIT 1",
            )?
            .query_row([&*key.serialize()], |row| row.get(0))
            .optional()?;
        Ok(contact.map(ContactId::from_string))
    }

    fn set_identity_verified(&mut self, contact: &ContactId, verified: bool) -> Result<()> {
        if !self.identity_exists(contact)? {
            return Err(Error::UnknownContact);
        }
        self.conn.execute(
            "UPDATE identities SET verified = ?2 WHERE contact = ?1",
            params![contact.as_str(), verified],
        )?;
        Ok(())
    }

    fn delete_session(&mut self, contact: &ContactId) -> Result<()> {
        self.conn.execute(
            "DELETE FROM sessions WHERE contact = ?1",
            [contact.as_str()],
        )?;
        Ok(())
    }

    fn save_contact(&mut self, contact: &Contact) -> Result<()> {
        self.conn.execute(
            "INSERT INTO contacts (id, name, relay) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = ?2, relay = ?3",
            params![
                contact.id.as_str(),
                contact.name,
                contact.relay.as_ref().map(|relay| relay.to_string())
            ],
        )?;
        Ok(())
    }

    fn contact(&self, id: &ContactId) -> Result<Option<Contact>> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .prepare_cached("SELECT name, relay FROM contacts WHERE id = ?1")?
            .query_row([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        row.map(|(name, relay)| {
            Ok(Contact {
                id: id.clone(),
                name,
                relay: parse_stored_relay(relay)?,
            })
        })
        .transpose()
    }

    fn contacts(&self) -> Result<Vec<Contact>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, relay FROM contacts ORDER BY name, id")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                ContactId::from_string(row.get(0)?),
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (id, name, relay) = row?;
            Ok(Contact {
                id,
                name,
                relay: parse_stored_relay(relay)?,
            })
        })
        .collect()
    }

    fn conversation_settings(&self, contact: &ContactId) -> Result<ConversationSettings> {
        let settings = self
            .conn
            .prepare_cached(
                "SELECT expire_timer_secs, keep_no_history FROM conversation_settings
                 WHERE contact = ?1",
            )?
            .query_row([contact.as_str()], |row| {
                Ok(ConversationSettings {
                    expire_timer_secs: row.get(0)?,
                    keep_no_history: row.get(1)?,
                })
            })
            .optional()?;
        Ok(settings.unwrap_or_default())
    }

    fn save_conversation_settings(
        &mut self,
        contact: &ContactId,
        settings: &ConversationSettings,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO conversation_settings
                (contact, expire_timer_secs, keep_no_history) VALUES (?1, ?2, ?3)",
            params![
                contact.as_str(),
                settings.expire_timer_secs,
                settings.keep_no_history
            ],
        )?;
        Ok(())
    }

    fn insert_message(&mut self, m: &StoredMessage) -> Result<()> {
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO messages (message_id, contact, direction, body, sent_at_ms,
                    stored_at_ms, state, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, MAX(?6, COALESCE(
                    (SELECT MAX(stored_at_ms) + 1 FROM messages WHERE contact = ?2),
                    0)), ?7, ?8)",
            )?
            .execute(params![
                &m.id.0[..],
                m.contact.as_str(),
                direction_code(m.direction),
                m.body,
                m.sent_at_ms,
                m.stored_at_ms,
                m.state.code(),
                m.expires_at_ms,
            ]);
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(Error::AlreadyStored)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn messages(
        &self,
        contact: &ContactId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<StoredMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT message_id, direction, body, sent_at_ms, stored_at_ms, state, expires_at_ms
             FROM messages
             WHERE contact = ?1 AND stored_at_ms < ?2
             ORDER BY stored_at_ms DESC, id DESC
             LIMIT ?3",
        )?;
        let (before, limit) = page(before_ms, limit);
        let rows = stmt.query_map(params![contact.as_str(), before, limit], |row| {
            message_from_row(contact, row)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn outgoing_message(
        &self,
        contact: &ContactId,
        id: &MessageId,
    ) -> Result<Option<StoredMessage>> {
        let message = self
            .conn
            .prepare_cached(
                "SELECT message_id, direction, body, sent_at_ms, stored_at_ms, state, expires_at_ms
                 FROM messages WHERE contact = ?1 AND message_id = ?2 AND direction = ?3",
            )?
            .query_row(
                params![
                    contact.as_str(),
                    &id.0[..],
                    direction_code(Direction::Outgoing)
                ],
                |row| message_from_row(contact, row),
            )
            .optional()?;
        Ok(message)
    }

    fn advance_delivery_state(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        state: DeliveryState,
    ) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE messages SET state = ?4
                 WHERE contact = ?1 AND message_id = ?2 AND direction = ?3 AND state < ?4",
            )?
            .execute(params![
                contact.as_str(),
                &id.0[..],
                direction_code(Direction::Outgoing),
                state.code()
            ])?;
        Ok(changed > 0)
    }

    fn delete_expired_messages(&mut self, now_ms: u64) -> Result<usize> {
        let deleted = self.conn.execute(
            "DELETE FROM messages WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1",
            [now_ms],
        )?;
        Ok(deleted)
    }

    fn delete_conversation_messages(&mut self, contact: &ContactId) -> Result<usize> {
        let deleted = self.conn.execute(
            "DELETE FROM messages WHERE contact = ?1",
            [contact.as_str()],
        )?;
        Ok(deleted)
    }

    fn record_received_id(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        now_ms: u64,
    ) -> Result<bool> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO received_ids (contact, message_id, received_at_ms)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![contact.as_str(), &id.0[..], now_ms])?;
        Ok(inserted == 1)
    }

    fn push_outbox(
        &mut self,
        contact: &ContactId,
        message_id: &MessageId,
        envelope: &Envelope,
    ) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (contact, message_id, envelope) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                contact.as_str(),
                &message_id.0[..],
                envelope.to_bytes()
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, contact, message_id, envelope FROM outbox ORDER BY id")?;
        let rows = stmt.query_map([], |row| {
            Ok(OutboxEntry {
                id: row.get(0)?,
                contact: ContactId::from_string(row.get(1)?),
                message_id: message_id_from(row.get(2)?)?,
                envelope: envelope_from(row.get(3)?)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn take_outbox(&mut self, id: i64) -> Result<Option<OutboxEntry>> {
        let entry = self
            .conn
            .prepare_cached(
                "DELETE FROM outbox WHERE id = ?1 RETURNING contact, message_id, envelope",
            )?
            .query_row([id], |row| {
                Ok(OutboxEntry {
                    id,
                    contact: ContactId::from_string(row.get(0)?),
                    message_id: message_id_from(row.get(1)?)?,
                    envelope: envelope_from(row.get(2)?)?,
                })
            })
            .optional()?;
        Ok(entry)
    }

    fn hold_envelope(
        &mut self,
        contact: &ContactId,
        envelope: &Envelope,
        offered_identity: Option<&IdentityKey>,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO held_envelopes (contact, envelope, offered_identity) VALUES (?1, ?2, ?3)",
            params![
                contact.as_str(),
                envelope.to_bytes(),
                offered_identity.map(|k| k.serialize().to_vec())
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn held_envelopes(&self, contact: &ContactId) -> Result<Vec<HeldEnvelope>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, envelope, offered_identity FROM held_envelopes
             WHERE contact = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([contact.as_str()], |row| {
            let offered: Option<Vec<u8>> = row.get(2)?;
            Ok(HeldEnvelope {
                id: row.get(0)?,
                contact: contact.clone(),
                envelope: envelope_from(row.get(1)?)?,
                offered_identity: offered.map(|k| identity_from(&k)).transpose()?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn held_envelope_count(&self, contact: &ContactId) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM held_envelopes WHERE contact = ?1")?
            .query_row([contact.as_str()], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn remove_held_envelope(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM held_envelopes WHERE id = ?1", [id])?;
        Ok(())
    }

    fn app_setting(&self, key: &str) -> Result<Option<String>> {
        let value = self
            .conn
            .prepare_cached("SELECT value FROM app_settings WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?;
        Ok(value)
    }

    fn save_app_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO app_settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
            )?
            .execute([key, value])?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        // TRUNCATE: copy the WAL into the database, then cut the WAL to zero
        // bytes so no old page image of a deleted row stays in it.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn link_phone(&mut self, phone: &PhoneNumber, contact: &ContactId) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO contact_phones (phone, contact) VALUES (?1, ?2)",
            )?
            .execute(params![phone.as_str(), contact.as_str()])?;
        Ok(())
    }

    fn contact_by_phone(&self, phone: &PhoneNumber) -> Result<Option<ContactId>> {
        let contact: Option<String> = self
            .conn
            .prepare_cached("SELECT contact FROM contact_phones WHERE phone = ?1")?
            .query_row([phone.as_str()], |row| row.get(0))
            .optional()?;
        Ok(contact.map(ContactId::from_string))
    }

    fn set_handshake_pending(&mut self, phone: &PhoneNumber, pending: bool) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE contact_phones SET handshake_pending = ?2 WHERE phone = ?1")?
            .execute(params![phone.as_str(), pending])?;
        Ok(())
    }

    fn handshake_pending(&self, contact: &ContactId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM contact_phones
                 WHERE contact = ?1 AND handshake_pending != 0)",
            )?
            .query_row([contact.as_str()], |row| row.get(0))?)
    }

    fn phones_of(&self, contact: &ContactId) -> Result<Vec<PhoneNumber>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT phone FROM contact_phones WHERE contact = ?1 ORDER BY phone")?;
        let rows = stmt.query_map([contact.as_str()], |row| row.get::<_, String>(0))?;
        rows.map(|row| PhoneNumber::from_stored(row?).map_err(|_| Error::CorruptStore))
            .collect()
    }

    fn insert_plain_message(&mut self, m: &NewPlainMessage) -> Result<Option<i64>> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO plain_messages
                    (phone, direction, body, parts, at_ms, state, attachment_count, external_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                m.phone.as_str(),
                direction_code(m.direction),
                m.body,
                m.parts,
                m.at_ms,
                m.state.code(),
                m.attachments.len() as u32,
                m.external_id,
            ])?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = self.conn.last_insert_rowid();
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO plain_attachments (message, position, mime, data) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (position, attachment) in m.attachments.iter().enumerate() {
            stmt.execute(params![
                id,
                position as i64,
                attachment.mime,
                attachment.data
            ])?;
        }
        Ok(Some(id))
    }

    fn plain_messages(
        &self,
        phone: &PhoneNumber,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<PlainMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, direction, body, parts, at_ms, state, attachment_count
             FROM plain_messages
             WHERE phone = ?1 AND at_ms < ?2
             ORDER BY at_ms DESC, id DESC
             LIMIT ?3",
        )?;
        let (before, limit) = page(before_ms, limit);
        let rows = stmt.query_map(params![phone.as_str(), before, limit], |row| {
            let state: i64 = row.get(5)?;
            Ok(PlainMessage {
                id: row.get(0)?,
                phone: phone.clone(),
                direction: direction_from(row.get(1)?)?,
                body: row.get(2)?,
                parts: row.get(3)?,
                at_ms: row.get(4)?,
                state: PlainState::from_code(state)
                    .ok_or(rusqlite::Error::IntegralValueOutOfRange(5, state))?,
                attachment_count: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn plain_attachments(&self, id: i64) -> Result<Vec<Attachment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT mime, data FROM plain_attachments WHERE message = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map([id], |row| {
            Ok(Attachment {
                mime: row.get(0)?,
                data: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_plain_state(&mut self, id: i64, state: PlainState) -> Result<bool> {
        let current: Option<i64> = self
            .conn
            .prepare_cached("SELECT state FROM plain_messages WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?;
        let Some(current) = current.and_then(PlainState::from_code) else {
            return Ok(false);
        };
        if !current.may_become(state) {
            return Ok(false);
        }
        self.conn
            .prepare_cached("UPDATE plain_messages SET state = ?2 WHERE id = ?1")?
            .execute(params![id, state.code()])?;
        Ok(true)
    }

    fn plain_threads(&self) -> Result<Vec<PlainThread>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT phone, MAX(at_ms) AS last, COUNT(*) FROM plain_messages
             GROUP BY phone ORDER BY last DESC, phone",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
        })?;
        rows.map(|row| {
            let (phone, last_at_ms, messages) = row?;
            Ok(PlainThread {
                phone: PhoneNumber::from_stored(phone).map_err(|_| Error::CorruptStore)?,
                last_at_ms,
                messages,
            })
        })
        .collect()
    }

    fn hold_sms_part(&mut self, part: &HeldSmsPart) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO sms_parts (phone, wire_id, part_count, data, body, received_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                part.phone.as_str(),
                part.wire_id,
                part.count,
                part.data,
                part.body,
                part.received_at_ms
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn held_sms_parts(&self) -> Result<Vec<HeldSmsPart>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, phone, wire_id, part_count, data, body, received_at_ms
             FROM sms_parts ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, u8>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, Vec<u8>>(5)?,
                row.get::<_, u64>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (id, phone, wire_id, count, data, body, received_at_ms) = row?;
            Ok(HeldSmsPart {
                id,
                phone: PhoneNumber::from_stored(phone).map_err(|_| Error::CorruptStore)?,
                wire_id,
                count,
                data,
                body,
                received_at_ms,
            })
        })
        .collect()
    }

    fn keep_sent_sms(&mut self, sent: &SentSms) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO sms_sent (phone, wire_id, payload, data, sent_at_ms, contact,
                    message_id, refreshes_left)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                sent.phone.as_str(),
                sent.wire_id,
                sent.payload,
                sent.data,
                sent.sent_at_ms,
                sent.text.as_ref().map(|(contact, _)| contact.as_str()),
                sent.text.as_ref().map(|(_, id)| id.0.to_vec()),
                sent.refreshes_left
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn sent_sms(&self) -> Result<Vec<SentSms>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, phone, wire_id, payload, data, sent_at_ms, contact, message_id,
                refreshes_left
             FROM sms_sent ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            let text = match (
                row.get::<_, Option<String>>(6)?,
                row.get::<_, Option<Vec<u8>>>(7)?,
            ) {
                (Some(contact), Some(id)) => {
                    Some((ContactId::from_string(contact), message_id_from(id)?))
                }
                _ => None,
            };
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, u64>(5)?,
                text,
                row.get::<_, u8>(8)?,
            ))
        })?;
        rows.map(|row| {
            let (id, phone, wire_id, payload, data, sent_at_ms, text, refreshes_left) = row?;
            Ok(SentSms {
                id,
                phone: PhoneNumber::from_stored(phone).map_err(|_| Error::CorruptStore)?,
                wire_id,
                payload,
                data,
                sent_at_ms,
                text,
                refreshes_left,
            })
        })
        .collect()
    }

    fn set_sent_sms_refreshes(&mut self, id: i64, refreshes_left: u8) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sms_sent SET refreshes_left = ?2 WHERE id = ?1")?
            .execute(params![id, refreshes_left])?;
        Ok(())
    }

    fn forget_sent_sms(&mut self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM sms_sent WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    fn release_sms_parts(&mut self, phone: &PhoneNumber, wire_id: u32, count: u8) -> Result<usize> {
        let deleted = self
            .conn
            .prepare_cached(
                "DELETE FROM sms_parts WHERE phone = ?1 AND wire_id = ?2 AND part_count = ?3",
            )?
            .execute(params![phone.as_str(), wire_id, count])?;
        Ok(deleted)
    }

    fn save_group(&mut self, group: &Group) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO groups (id, name, revision, distribution_id, active)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                &group.id.0[..],
                group.name,
                group.revision,
                &group.distribution_id[..],
                group.active
            ])?;
        self.conn
            .prepare_cached("DELETE FROM group_members WHERE group_id = ?1")?
            .execute([&group.id.0[..]])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO group_members (group_id, contact, key_sent) VALUES (?1, ?2, ?3)",
        )?;
        for member in &group.members {
            let key_sent = group.key_sent_to.contains(member);
            insert.execute(params![&group.id.0[..], member.as_str(), key_sent])?;
        }
        Ok(())
    }

    fn group(&self, id: &GroupId) -> Result<Option<Group>> {
        let row: Option<(String, u64, Vec<u8>, bool)> = self
            .conn
            .prepare_cached(
                "SELECT name, revision, distribution_id, active FROM groups WHERE id = ?1",
            )?
            .query_row([&id.0[..]], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        let Some((name, revision, distribution_id, active)) = row else {
            return Ok(None);
        };
        let mut members = Vec::new();
        let mut key_sent_to = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT contact, key_sent FROM group_members WHERE group_id = ?1 ORDER BY contact",
        )?;
        let rows = stmt.query_map([&id.0[..]], |row| {
            Ok((ContactId::from_string(row.get(0)?), row.get::<_, bool>(1)?))
        })?;
        for row in rows {
            let (contact, key_sent) = row?;
            if key_sent {
                key_sent_to.push(contact.clone());
            }
            members.push(contact);
        }
        Ok(Some(Group {
            id: *id,
            name,
            revision,
            distribution_id: distribution_id
                .try_into()
                .map_err(|_| Error::CorruptStore)?,
            members,
            key_sent_to,
            active,
        }))
    }

    fn groups(&self) -> Result<Vec<Group>> {
        let ids: Vec<Vec<u8>> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id FROM groups ORDER BY name, id")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        ids.into_iter()
            .map(|id| {
                let id = GroupId::from_slice(&id).map_err(|_| Error::CorruptStore)?;
                self.group(&id)?.ok_or(Error::CorruptStore)
            })
            .collect()
    }

    fn insert_group_message(&mut self, m: &GroupMessage) -> Result<bool> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO group_messages
                    (group_id, sender, message_id, body, sent_at_ms, stored_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, MAX(?6, COALESCE(
                    (SELECT MAX(stored_at_ms) + 1 FROM group_messages WHERE group_id = ?1),
                    0)))",
            )?
            .execute(params![
                &m.group.0[..],
                m.sender.as_ref().map_or("", |c| c.as_str()),
                &m.id.0[..],
                m.body,
                m.sent_at_ms,
                m.stored_at_ms
            ])?;
        Ok(inserted == 1)
    }

    fn group_messages(
        &self,
        group: &GroupId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<GroupMessage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sender, message_id, body, sent_at_ms, stored_at_ms FROM group_messages
             WHERE group_id = ?1 AND stored_at_ms < ?2
             ORDER BY stored_at_ms DESC, id DESC
             LIMIT ?3",
        )?;
        let (before, limit) = page(before_ms, limit);
        let rows = stmt.query_map(params![&group.0[..], before, limit], |row| {
            group_message_from_row(group, row)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn outgoing_group_message(
        &self,
        group: &GroupId,
        id: &MessageId,
    ) -> Result<Option<GroupMessage>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT sender, message_id, body, sent_at_ms, stored_at_ms FROM group_messages
                 WHERE group_id = ?1 AND sender = '' AND message_id = ?2",
            )?
            .query_row(params![&group.0[..], &id.0[..]], |row| {
                group_message_from_row(group, row)
            })
            .optional()?)
    }

    fn hold_group_text(&mut self, m: &GroupMessage) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO held_group_texts
                    (group_id, sender, message_id, body, sent_at_ms, stored_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                &m.group.0[..],
                m.sender.as_ref().map_or("", |c| c.as_str()),
                &m.id.0[..],
                m.body,
                m.sent_at_ms,
                m.stored_at_ms
            ])?;
        Ok(())
    }

    fn held_group_text_count(&self, sender: &ContactId) -> Result<usize> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM held_group_texts WHERE sender = ?1")?
            .query_row([sender.as_str()], |row| row.get(0))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    fn sender_key_distributions(&self, sender: &ContactId) -> Result<Vec<[u8; 16]>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT distribution_id FROM sender_keys
             WHERE sender = ?1 ORDER BY distribution_id",
        )?;
        let rows = stmt.query_map([sender.as_str()], |row| row.get::<_, Vec<u8>>(0))?;
        let mut found = Vec::new();
        for row in rows {
            found.push(<[u8; 16]>::try_from(row?.as_slice()).map_err(|_| Error::CorruptStore)?);
        }
        Ok(found)
    }

    fn forget_sender_key(&mut self, sender: &ContactId, distribution: &[u8; 16]) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM sender_keys WHERE sender = ?1 AND distribution_id = ?2")?
            .execute(params![sender.as_str(), &distribution[..]])?;
        Ok(())
    }

    fn take_held_group_texts(&mut self, group: &GroupId) -> Result<Vec<GroupMessage>> {
        let held = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT sender, message_id, body, sent_at_ms, stored_at_ms FROM held_group_texts
                 WHERE group_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([&group.0[..]], |row| group_message_from_row(group, row))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        self.conn
            .prepare_cached("DELETE FROM held_group_texts WHERE group_id = ?1")?
            .execute([&group.0[..]])?;
        Ok(held)
    }
}

/// Reads a `group_messages` row selected as (sender, message_id, body,
/// sent_at_ms, stored_at_ms).
fn group_message_from_row(
    group: &GroupId,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<GroupMessage> {
    let sender: String = row.get(0)?;
    Ok(GroupMessage {
        id: message_id_from(row.get(1)?)?,
        group: *group,
        sender: (!sender.is_empty()).then(|| ContactId::from_string(sender)),
        body: row.get(2)?,
        sent_at_ms: row.get(3)?,
        stored_at_ms: row.get(4)?,
    })
}

/// Reads a `messages` row selected as (message_id, direction, body,
/// sent_at_ms, stored_at_ms, state, expires_at_ms).
fn message_from_row(
    contact: &ContactId,
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredMessage> {
    let state: i64 = row.get(5)?;
    Ok(StoredMessage {
        id: message_id_from(row.get(0)?)?,
        contact: contact.clone(),
        direction: direction_from(row.get(1)?)?,
        body: row.get(2)?,
        sent_at_ms: row.get(3)?,
        stored_at_ms: row.get(4)?,
        state: DeliveryState::from_code(state)
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(5, state))?,
        expires_at_ms: row.get(6)?,
    })
}

fn collect_ids(conn: &Connection, sql: &str) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let ids = stmt.query_map([], |row| row.get(0))?;
    Ok(ids.collect::<rusqlite::Result<_>>()?)
}

fn direction_code(direction: Direction) -> i64 {
    match direction {
        Direction::Incoming => 0,
        Direction::Outgoing => 1,
    }
}

fn direction_from(code: i64) -> rusqlite::Result<Direction> {
    match code {
        0 => Ok(Direction::Incoming),
        1 => Ok(Direction::Outgoing),
        other => Err(rusqlite::Error::IntegralValueOutOfRange(1, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores written before relay invites lost their certificate pin hold
    /// `sotto-relay:1/…` text for the account's relay and its contacts'.
    /// They open as they are (no migration: the parser reads version 1) and
    /// keep every relay.
    #[test]
    fn relays_stored_as_version_1_invites_still_load() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut store = SqlCipherStore::open(
            &dir.path().join("store.db"),
            &DatabaseKey::from_bytes([1; 32]),
        )?;
        let relay = RelayInvite {
            host: "relay.example".into(),
            port: 7443,
            trust_root: libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key,
        };
        let v1 = format!(
            "sotto-relay:1/relay.example/7443/{}/{}",
            "ab".repeat(32),
            hex::encode(relay.trust_root.serialize())
        );
        let contact = Contact {
            id: ContactId::from_string("c".into()),
            name: "Carol".into(),
            relay: None,
        };
        store.save_contact(&contact)?;
        store
            .conn
            .execute("UPDATE contacts SET relay = ?1", [&v1])?;
        store.save_app_setting("relay", &v1)?;
        drop(store);

        let store = SqlCipherStore::open(
            &dir.path().join("store.db"),
            &DatabaseKey::from_bytes([1; 32]),
        )?;
        let loaded = store.contact(&contact.id)?.ok_or(Error::UnknownContact)?;
        assert_eq!(loaded.relay, Some(relay.clone()));
        assert_eq!(store.contacts()?[0].relay, Some(relay.clone()));
        assert_eq!(crate::app::AppSettings::load(&store)?.relay, relay);
        Ok(())
    }
}
