//! The application facade: one [`Account`] that a client (the `sotto` CLI,
//! the UniFFI bindings) holds, with coarse operations that each do a whole
//! user-level job — open the encrypted store, add a contact from an invite,
//! send a text (starting the session if needed), list a conversation, show
//! and verify a safety number — and a [`Connection`] that keeps the account
//! on its relay and reports [`Event`]s.
//!
//! It owns the wiring between the store, the protocol functions and the
//! relay agent; it owns no protocol logic of its own and knows nothing of
//! terminals, prompts or output formats. Calls run on the connection
//! ([`Connection::calls`], [`CallEvent`]); the SMS bridge (incoming SMS, the
//! outgoing queue, routed sending, plain threads) is in `sms`.
//!
//! Threading: an `Account` is `Send + Sync`; the store sits behind a mutex
//! shared with the relay agent. Network operations are `async` and need a
//! Tokio runtime, which the caller owns.

mod call_log;
mod call_shell;
mod calls;
mod connection;
mod contact_invite;
mod conversation;
mod error_kind;
mod groups;
mod settings;
mod sms;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use libsignal_protocol::IdentityKey;
use tokio::sync::{mpsc, Notify};
use zeroize::Zeroizing;

pub(crate) use call_log::NewCallLogEntry;
pub use call_log::{CallDirection, CallLogEntry};
pub use calls::{BoxedSink, BoxedSource, CallAudio, CallEvent, CallStatus, Calls, RecordingSink};
pub use connection::{Connection, Event};
pub use contact_invite::ContactInvite;
pub use error_kind::ErrorKind;
pub use settings::AppSettings;
pub use sms::{
    NumberConversation, QueuedSms, SentText, SmsReceived, SmsSettings, SmsStatus, SmsTick,
    TextProgress, DEFAULT_REGION,
};

use crate::error::{Error, Result};
use crate::message::{MessageId, ReceiptKind};
use crate::messaging::{self, Received};
use crate::prekeys::{self, PreKeyPolicy};
use crate::relay::client::{Login, RelayConnection};
use crate::relay::invite::RelayInvite;
use crate::safety::{self, SafetyNumber};
use crate::session;
use crate::store::{
    in_transaction, Contact, ContactId, DatabaseKey, SottoStore, SqlCipherStore, StoredMessage,
};

/// The database file inside an account's data directory.
pub const DATABASE_FILE: &str = "sotto.db";

/// The longest contact name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// How the store is unlocked.
pub enum StoreKey {
    /// A raw 256-bit key (Android: unwrapped by the Keystore; desktop: a key
    /// file).
    Raw(DatabaseKey),
    /// A passphrase, stretched with Argon2id and the salt kept beside the
    /// database.
    Passphrase(Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKey::Raw(_) => f.write_str("StoreKey::Raw(..)"),
            StoreKey::Passphrase(_) => f.write_str("StoreKey::Passphrase(..)"),
        }
    }
}

/// Where a contact can be reached over data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// On the relay this account uses: texts go through it.
    OurRelay,
    /// On another relay; delivery across relays is not supported yet.
    OtherRelay,
    /// No relay known (such as a contact known only by SMS).
    NoRelay,
}

/// A contact as a client shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ContactInfo {
    /// The local id.
    pub id: ContactId,
    /// The name the user gave (or "Unknown sender").
    pub name: String,
    /// Whether the user verified the safety number of the current key, and
    /// no new key is offered since.
    pub verified: bool,
    /// Where the contact receives.
    pub reach: Reach,
    /// A new identity key is offered in the contact's name; texts under it
    /// wait until the user compares its safety number and accepts it
    /// ([`Account::offered_identities`], [`Account::accept_new_identity`]).
    pub identity_changed: bool,
    /// More than one new identity key is offered in the contact's name: at
    /// most one can be theirs. An alert, never resolved silently.
    pub identity_conflict: bool,
    /// The contact is reached by a phone number that nothing has proven to
    /// belong to their key (anyone can send SMS in a number's name): shown
    /// as "number not proven" until the safety number is compared.
    pub unproven_number: bool,
}

impl std::fmt::Debug for ContactInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactInfo")
            .field("id", &self.id)
            .field("verified", &self.verified)
            .field("reach", &self.reach)
            .field("identity_changed", &self.identity_changed)
            .field("identity_conflict", &self.identity_conflict)
            .finish_non_exhaustive()
    }
}

/// A new identity key offered in a contact's name, and the safety number
/// the user compares with the contact's phone before accepting it.
#[derive(Clone, PartialEq, Eq)]
pub struct OfferedIdentity {
    /// The key, to pass to [`Account::accept_new_identity`] or
    /// [`Account::reject_new_identity`].
    pub key: IdentityKey,
    /// The safety number of our identity and this key.
    pub safety_number: SafetyNumber,
}

impl std::fmt::Debug for OfferedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfferedIdentity(..)")
    }
}

/// A conversation in the list of conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    /// Who it is with.
    pub contact: ContactInfo,
    /// The newest stored message, if any.
    pub last_message: Option<StoredMessage>,
}

/// State shared by the account and its connection's tasks.
pub(crate) struct Shared {
    pub(crate) store: Arc<Mutex<SqlCipherStore>>,
    pub(crate) settings: Mutex<AppSettings>,
    /// Held across a read-modify-write of the settings
    /// ([`Account::update_settings`]), so two changes made at once (the
    /// proxy and the receipts, say) cannot undo each other. Taken before
    /// the store's lock, which is taken before `settings`.
    pub(crate) settings_update: Mutex<()>,
    pub(crate) outbox_changed: Arc<Notify>,
    /// Whether a relay agent runs: two would both flush the outbox and send
    /// its envelopes twice.
    pub(crate) connected: std::sync::atomic::AtomicBool,
    /// Whether the relay connection is logged in now (routes texts).
    pub(crate) online: std::sync::atomic::AtomicBool,
    /// The account's SMS endpoint: the facade's SMS bridge and the call
    /// shell (call signals by SMS) both use it.
    pub(crate) sms: sms::SmsBridge,
    /// Where call signals received by SMS go: the running call shell's
    /// inbox, set by each connection.
    pub(crate) sms_call_signals: Mutex<Option<mpsc::UnboundedSender<call_shell::IncomingSignal>>>,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, SqlCipherStore> {
        // A panic while the lock was held rolled its transaction back
        // (`in_transaction`), so the store itself is consistent.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn settings(&self) -> AppSettings {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// One Sotto account: its encrypted store, its settings and its relay.
pub struct Account {
    shared: Arc<Shared>,
    identity: IdentityKey,
    data_dir: PathBuf,
    /// Opened with a raw key (not a passphrase): [`Account::rekey`] applies.
    raw_key: bool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Account(..)")
    }
}

/// The database path of the account in `data_dir`.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

fn open_store(path: &Path, key: &StoreKey) -> Result<SqlCipherStore> {
    match key {
        StoreKey::Raw(key) => SqlCipherStore::open(path, key),
        StoreKey::Passphrase(passphrase) => {
            SqlCipherStore::open_with_passphrase(path, passphrase, &mut rand::rng())
        }
    }
}

/// Creates `dir` (and its parents) readable by the owner only.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    Ok(())
}

/// Maps a failure to reach the relay at all to [`Error::RelayUnreachable`]
/// (the client reports it as a plain I/O error).
fn unreachable(e: Error) -> Error {
    match e {
        Error::Io(_) => Error::RelayUnreachable,
        other => other,
    }
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Error::InvalidName);
    }
    Ok(name.to_owned())
}

impl Account {
    /// Creates a new account in `data_dir` (made if missing, owner-only):
    /// the encrypted store, the identity key, the first prekeys, and the
    /// settings with `relay` as the relay it receives on. Nothing goes over
    /// the network; see [`Account::register`].
    ///
    /// Fails with [`Error::AccountExists`] if the directory holds one.
    pub fn create(data_dir: &Path, key: &StoreKey, relay: RelayInvite) -> Result<Self> {
        Self::create_with_policy(data_dir, key, relay, &PreKeyPolicy::default())
    }

    /// [`Account::create`] with the first prekeys made under `policy`
    /// (a client with its own prekey batch size, such as the bindings).
    pub fn create_with_policy(
        data_dir: &Path,
        key: &StoreKey,
        relay: RelayInvite,
        policy: &PreKeyPolicy,
    ) -> Result<Self> {
        create_private_dir(data_dir)?;
        let mut store = open_store(&database_path(data_dir), key)?;
        if store.local_account()?.is_some() {
            return Err(Error::AccountExists);
        }
        // The settings first: the account row is what marks creation as
        // done, so a crash in between leaves a directory `create` finishes.
        in_transaction(&mut store, |store| AppSettings::new(relay).save(store))?;
        prekeys::create_account(&mut store, policy, SystemTime::now(), &mut rand::rng())?;
        Self::from_store(store, data_dir, key)
    }

    /// Opens the account in `data_dir`. [`Error::NoAccount`] if there is
    /// none (nothing is created), [`Error::WrongKey`] for a wrong key or
    /// passphrase, [`Error::StoreLocked`] if another process has it open.
    pub fn open(data_dir: &Path, key: &StoreKey) -> Result<Self> {
        let path = database_path(data_dir);
        if !path.is_file() {
            return Err(Error::NoAccount);
        }
        let store = open_store(&path, key)?;
        if store.local_account()?.is_none() {
            return Err(Error::NoAccount);
        }
        Self::from_store(store, data_dir, key)
    }

    /// Whether `data_dir` holds an account database (without opening it).
    pub fn exists(data_dir: &Path) -> bool {
        database_path(data_dir).is_file()
    }

    fn from_store(store: SqlCipherStore, data_dir: &Path, key: &StoreKey) -> Result<Self> {
        let identity = *store
            .local_account()?
            .ok_or(Error::NoAccount)?
            .identity
            .identity_key();
        let settings = AppSettings::load(&store)?;
        Ok(Self {
            shared: Arc::new(Shared {
                store: Arc::new(Mutex::new(store)),
                settings: Mutex::new(settings),
                settings_update: Mutex::new(()),
                outbox_changed: Arc::new(Notify::new()),
                connected: std::sync::atomic::AtomicBool::new(false),
                online: std::sync::atomic::AtomicBool::new(false),
                sms: sms::SmsBridge::default(),
                sms_call_signals: Mutex::new(None),
            }),
            identity,
            data_dir: data_dir.to_owned(),
            raw_key: matches!(key, StoreKey::Raw(_)),
        })
    }

    /// Re-encrypts the store under `new_key` (the Android app does this when
    /// the passphrase lock changes, so an older copy of the wrapped key stops
    /// opening it). The account stays open; from now on only `new_key` opens
    /// the store. Waits for the store's lock, then holds it for the whole
    /// copy. See [`SqlCipherStore::rekey`] for what an error leaves.
    ///
    /// Only for accounts opened with a raw key: a passphrase store's key
    /// comes from its passphrase and salt ([`Error::PassphraseStore`]).
    pub fn rekey(&self, new_key: &DatabaseKey) -> Result<()> {
        if !self.raw_key {
            return Err(Error::PassphraseStore);
        }
        self.shared.store().rekey(new_key)
    }

    /// Runs `work` on the store, under the same lock as everything else.
    /// For store-level jobs the facade does not wrap (prekey maintenance,
    /// safety numbers with keys not yet added, conversation settings);
    /// `work` should be short, since the relay agent waits for the lock.
    pub fn with_store<T>(&self, work: impl FnOnce(&mut SqlCipherStore) -> Result<T>) -> Result<T> {
        work(&mut self.shared.store())
    }

    /// The directory the account lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// This account's identity key.
    pub fn identity_key(&self) -> IdentityKey {
        self.identity
    }

    /// The current settings.
    pub fn settings(&self) -> AppSettings {
        self.shared.settings()
    }

    /// Saves new settings. A change of relay or proxy takes effect at the
    /// next [`Account::connect`]; SMS handshakes advertise the new relay
    /// from now on. To change one setting while others may change at the
    /// same time, use [`Account::update_settings`].
    pub fn save_settings(&self, settings: AppSettings) -> Result<()> {
        let _update = self
            .shared
            .settings_update
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.store_settings(settings)
    }

    /// Changes the settings with `change` and saves them, as one step
    /// against other changes; returns what was saved.
    pub fn update_settings(&self, change: impl FnOnce(&mut AppSettings)) -> Result<AppSettings> {
        let _update = self
            .shared
            .settings_update
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut settings = self.settings();
        change(&mut settings);
        self.store_settings(settings.clone())?;
        Ok(settings)
    }

    /// Writes `settings` to the store and makes them current; the caller
    /// holds `settings_update`.
    fn store_settings(&self, settings: AppSettings) -> Result<()> {
        in_transaction(&mut *self.shared.store(), |store| settings.save(store))?;
        *self
            .shared
            .settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
        sms::relay_changed(&self.shared)
    }

    /// The invite others add this account with.
    pub fn contact_invite(&self) -> ContactInvite {
        ContactInvite {
            identity: self.identity,
            relay: self.settings().relay,
        }
    }

    /// Logs in to the relay and uploads the prekeys it does not have yet, so
    /// that others can start sessions with this account. [`Account::connect`]
    /// does the same on every connection; this is for a one-shot check right
    /// after creating the account.
    pub async fn register(&self) -> Result<()> {
        let settings = self.settings();
        let account = self
            .shared
            .store()
            .local_account()?
            .ok_or(Error::NoAccount)?;
        let login = Login {
            identity: &account.identity,
            registration_id: account.registration_id,
        };
        let mut connection = open_relay(&settings, Some(login)).await?;
        let upload = prekeys::take_for_upload(&mut *self.shared.store())?;
        connection.upload_prekeys(&upload).await?;
        Ok(())
    }

    /// Adds the account of `invite` as a contact called `name`, trusting its
    /// identity key (trust on first use; compare safety numbers to verify).
    /// If a contact with that identity exists (one that wrote first, say), it
    /// is renamed and its relay recorded instead; its trust is unchanged.
    pub fn add_contact(&self, invite: &ContactInvite, name: &str) -> Result<ContactId> {
        let name = check_name(name)?;
        if invite.identity == self.identity {
            return Err(Error::InvalidContactInvite(
                "it is this account's own invite",
            ));
        }
        in_transaction(&mut *self.shared.store(), |store| {
            let id = match store.contact_by_identity(&invite.identity)? {
                Some(existing) => existing,
                None => {
                    let id = ContactId::random(&mut rand::rng());
                    store.trust_identity(&id, &invite.identity)?;
                    id
                }
            };
            store.save_contact(&Contact {
                id: id.clone(),
                name,
                relay: Some(invite.relay.clone()),
            })?;
            Ok(id)
        })
    }

    /// Renames a contact.
    pub fn rename_contact(&self, contact: &ContactId, name: &str) -> Result<()> {
        let name = check_name(name)?;
        in_transaction(&mut *self.shared.store(), |store| {
            let mut record = store.contact(contact)?.ok_or(Error::UnknownContact)?;
            record.name = name;
            store.save_contact(&record)
        })
    }

    fn info(&self, store: &SqlCipherStore, contact: Contact) -> Result<ContactInfo> {
        let record = store.identity_record(&contact.id)?;
        let reach = match &contact.relay {
            None => Reach::NoRelay,
            Some(relay) if *relay == self.settings().relay => Reach::OurRelay,
            Some(_) => Reach::OtherRelay,
        };
        let offered = session::offered_identities(store, &contact.id)?;
        // A verification was of the old key: it does not carry over to a
        // key offered since, whoever offers it.
        let verified = record.is_some_and(|r| r.verified) && offered.is_empty();
        Ok(ContactInfo {
            verified,
            identity_changed: !offered.is_empty(),
            identity_conflict: offered.len() > 1,
            unproven_number: !verified && !store.phones_of(&contact.id)?.is_empty(),
            reach,
            name: contact.name,
            id: contact.id,
        })
    }

    /// Every contact, by name.
    pub fn contacts(&self) -> Result<Vec<ContactInfo>> {
        let store = self.shared.store();
        store
            .contacts()?
            .into_iter()
            .map(|contact| self.info(&store, contact))
            .collect()
    }

    /// One contact.
    pub fn contact(&self, id: &ContactId) -> Result<ContactInfo> {
        let store = self.shared.store();
        let contact = store.contact(id)?.ok_or(Error::UnknownContact)?;
        self.info(&store, contact)
    }

    /// Every conversation with its newest message, most recent first;
    /// contacts without messages come last, by name.
    pub fn conversations(&self) -> Result<Vec<ConversationSummary>> {
        let store = self.shared.store();
        let mut list = store
            .contacts()?
            .into_iter()
            .map(|contact| {
                let last_message = store.messages(&contact.id, 1, None)?.into_iter().next();
                Ok(ConversationSummary {
                    contact: self.info(&store, contact)?,
                    last_message,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        list.sort_by_key(|c| {
            std::cmp::Reverse(c.last_message.as_ref().map_or(0, |m| m.stored_at_ms))
        });
        Ok(list)
    }

    /// One page of a conversation: the newest `limit` messages stored before
    /// `before_ms` (from the start if `None`), newest first. For the next
    /// page, pass the `stored_at_ms` of the last message returned. (Texts
    /// stored in the very millisecond a page ends on are all on that page or
    /// skipped by the next one: the cursor is a time, not a row.)
    pub fn messages(
        &self,
        contact: &ContactId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<StoredMessage>> {
        let store = self.shared.store();
        if store.contact(contact)?.is_none() {
            return Err(Error::UnknownContact);
        }
        store.messages(contact, limit, before_ms)
    }

    /// Sends a text: starts the session first if there is none (fetching
    /// the contact's prekey bundle from the relay), encrypts and stores it,
    /// and queues it for the connection. Returns once it is queued; an open
    /// [`Connection`] sends it at once and reports [`Event::Sent`], otherwise
    /// it goes with the next connection.
    pub async fn send_text(&self, contact: &ContactId, text: &str) -> Result<MessageId> {
        self.refuse_if_identity_changed(contact)?;
        // A key from a hello we answered whose number has not yet shown it
        // holds it: nothing is encrypted to it, by the relay either.
        if self.shared.store().handshake_pending(contact)? {
            return Err(Error::HandshakeIncomplete);
        }
        self.ensure_session(contact).await?;
        let outgoing = messaging::send_text(
            &mut *self.shared.store(),
            contact,
            text,
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.shared.outbox_changed.notify_one();
        Ok(outgoing.message_id)
    }

    async fn ensure_session(&self, contact: &ContactId) -> Result<()> {
        ensure_session(&self.shared, contact).await
    }

    /// Marks received texts as read: sends the contact a read receipt if
    /// read receipts are on.
    pub fn mark_read(&self, contact: &ContactId, message_ids: Vec<MessageId>) -> Result<()> {
        if message_ids.is_empty() || !self.settings().read_receipts {
            return Ok(());
        }
        messaging::send_receipt(
            &mut *self.shared.store(),
            contact,
            ReceiptKind::Read,
            message_ids,
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.shared.outbox_changed.notify_one();
        Ok(())
    }

    /// How many envelopes (texts, receipts) wait to be sent.
    pub fn pending_outgoing(&self) -> Result<usize> {
        Ok(self.shared.store().outbox()?.len())
    }

    /// The safety number with `contact`, to compare or scan.
    pub fn safety_number(&self, contact: &ContactId) -> Result<SafetyNumber> {
        safety::safety_number(&*self.shared.store(), contact)
    }

    /// Marks the contact's current identity key as verified, after the user
    /// compared the safety numbers.
    pub fn mark_verified(&self, contact: &ContactId) -> Result<()> {
        safety::mark_verified(&mut *self.shared.store(), contact)
    }

    /// Compares a safety-number code scanned from the contact's screen;
    /// marks the contact verified when it matches. Returns whether it did.
    pub fn verify_scanned(&self, contact: &ContactId, scanned: &[u8]) -> Result<bool> {
        safety::verify_scanned(&mut *self.shared.store(), contact, scanned)
    }

    /// The new identity keys offered in the contact's name (see
    /// [`Event::IdentityChanged`]), oldest first, each with the safety
    /// number to compare with the contact's phone before accepting it.
    /// Empty when nothing is offered; more than one is a conflict
    /// ([`ContactInfo::identity_conflict`]).
    pub fn offered_identities(&self, contact: &ContactId) -> Result<Vec<OfferedIdentity>> {
        let store = self.shared.store();
        if store.contact(contact)?.is_none() {
            return Err(Error::UnknownContact);
        }
        session::offered_identities(&*store, contact)?
            .into_iter()
            .map(|key| {
                Ok(OfferedIdentity {
                    safety_number: safety::safety_number_with(&*store, &key)?,
                    key,
                })
            })
            .collect()
    }

    /// Accepts `key`, a new identity key offered for the contact whose
    /// safety number the user compared ([`Account::offered_identities`]),
    /// and decrypts the texts held back under it; returns them, oldest
    /// first. Refused with [`Error::ConflictingIdentities`] while another
    /// key is offered too (it may have arrived after the user looked). The
    /// new key is trusted, not verified.
    pub fn accept_new_identity(
        &self,
        contact: &ContactId,
        key: &IdentityKey,
    ) -> Result<Vec<Result<Received>>> {
        let mut store = self.shared.store();
        let results = session::trust_new_identity(
            &mut *store,
            contact,
            key,
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        drop(store);
        self.shared.outbox_changed.notify_one();
        Ok(results)
    }

    /// Drops, undecrypted, the texts held under `key`, a new identity key
    /// offered in the contact's name whose safety number did not match.
    /// Returns how many were dropped.
    pub fn reject_new_identity(&self, contact: &ContactId, key: &IdentityKey) -> Result<usize> {
        session::reject_new_identity(&mut *self.shared.store(), contact, key)
    }

    /// One page of the call log: the newest `limit` calls that started
    /// before `before_ms` (from the newest if `None`), newest first. For
    /// the next page, pass the `started_at_ms` of the last entry returned.
    /// Entries whose disappearing timer ran out are left out (and deleted
    /// by [`Account::delete_expired_calls`]).
    pub fn call_log(&self, limit: usize, before_ms: Option<u64>) -> Result<Vec<CallLogEntry>> {
        let now = crate::millis(SystemTime::now());
        self.shared.store().call_log(limit, before_ms, now)
    }

    /// Deletes the call log entries whose disappearing timer ran out by
    /// `now` (as `history::delete_expired` does for texts); returns how
    /// many.
    pub fn delete_expired_calls(&self, now: SystemTime) -> Result<usize> {
        let mut store = self.shared.store();
        let deleted = in_transaction(&mut *store, |store| {
            store.call_log_delete_expired(crate::millis(now))
        })?;
        if deleted > 0 {
            store.checkpoint()?;
        }
        Ok(deleted)
    }

    /// Deletes one call log entry; returns whether it existed.
    pub fn delete_call_log_entry(&self, id: i64) -> Result<bool> {
        let mut store = self.shared.store();
        let deleted = in_transaction(&mut *store, |store| store.call_log_delete(id))?;
        // `secure_delete` overwrote the row; the checkpoint drops its old
        // page image from the WAL too.
        store.checkpoint()?;
        Ok(deleted)
    }

    /// Deletes the call log (only the calls with `contact`, if given);
    /// returns how many entries went.
    pub fn clear_call_log(&self, contact: Option<&ContactId>) -> Result<usize> {
        let mut store = self.shared.store();
        let deleted = in_transaction(&mut *store, |store| store.call_log_clear(contact))?;
        store.checkpoint()?;
        Ok(deleted)
    }

    /// Turns "keep no history" on or off for the conversation with
    /// `contact`. Turning it on deletes the texts already stored and the
    /// calls with the contact in the call log; later calls with them are
    /// not logged either (see `call_log`).
    pub fn set_keep_no_history(&self, contact: &ContactId, keep_no_history: bool) -> Result<()> {
        let mut store = self.shared.store();
        // One commit: the setting never stands with the calls still stored.
        in_transaction(&mut *store, |store| {
            crate::history::apply_keep_no_history(store, contact, keep_no_history)?;
            if keep_no_history {
                store.call_log_clear(Some(contact))?;
            }
            Ok(())
        })?;
        store.checkpoint()
    }

    /// Connects to the relay and keeps the account there (reconnecting with
    /// backoff) until the [`Connection`] is closed or dropped: sends what is
    /// queued, receives and stores texts, sends delivery receipts, and
    /// reports [`Event`]s. Its tasks run on `runtime`.
    ///
    /// One connection at a time: [`Error::AlreadyConnected`] until the
    /// previous one has stopped ([`Connection::close`] waits for that).
    pub fn connect(&self, runtime: &tokio::runtime::Handle) -> Result<Connection> {
        use std::sync::atomic::Ordering;
        if self.shared.connected.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyConnected);
        }
        Ok(connection::start(self.shared.clone(), runtime))
    }
}

/// Starts the session with `contact` if there is none, from the prekey
/// bundle its relay (ours) hands out.
async fn ensure_session(shared: &Shared, contact: &ContactId) -> Result<()> {
    let (record, identity) = {
        let store = shared.store();
        if session::has_session(&*store, contact, SystemTime::now())? {
            return Ok(());
        }
        let record = store.contact(contact)?.ok_or(Error::UnknownContact)?;
        let identity = store.identity_record(contact)?.ok_or(Error::NoSession)?.key;
        (record, identity)
    };
    let settings = shared.settings();
    match record.relay {
        None => return Err(Error::NoRelay),
        Some(relay) if relay != settings.relay => return Err(Error::OtherRelay),
        Some(_) => {}
    }
    let bundle = open_relay(&settings, None)
        .await?
        .fetch_bundle(&identity)
        .await?;
    // The bundle's identity must be the trusted one: libsignal refuses
    // it with `UntrustedIdentity` otherwise.
    session::start_session(
        &mut *shared.store(),
        contact,
        &bundle,
        SystemTime::now(),
        &mut rand::rng(),
    )
}

/// Opens a connection to the account's relay, directly or through its
/// SOCKS5 proxy, logged in with `login` or anonymous.
async fn open_relay(settings: &AppSettings, login: Option<Login<'_>>) -> Result<RelayConnection> {
    // Not the thread-local RNG: this future may move between threads.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_os_rng();
    let connecting = async {
        match settings.socks5 {
            Some(proxy) => {
                RelayConnection::connect_via_socks5(&settings.relay, proxy, login, &mut rng).await
            }
            None => RelayConnection::connect(&settings.relay, login, &mut rng).await,
        }
    };
    tokio::time::timeout(RELAY_CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| Error::RelayTimeout)?
        .map_err(unreachable)
}

/// How long opening a relay connection may take.
const RELAY_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
