//! The exported `Account`: a thin shell over `account_core::AccountCore`
//! that owns the account's runtime and its maintenance task.
//!
//! Every method blocks the calling thread until the work is done (store
//! access, and Argon2id when opening with a passphrase). Android code calls
//! them from a background dispatcher, never from the main thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sotto_core::app::{Calls, StoreKey};
use sotto_core::call::PathPolicy;
use sotto_core::store::ContactId;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use zeroize::Zeroizing;

use crate::account_core::{database_key, passphrase_key, raw_key, AccountCore};
use crate::error::{Result, SottoError};
use crate::events::{AccountListener, Subscription};
use crate::records::{
    AccountOptions, ContactSummary, ConversationSummary, MaintenanceReport, Message, SafetyNumber,
};
use crate::relay_link::RelayLink;
use crate::runtime::OwnedRuntime;

/// One open account: its encrypted store, its identity, its relay
/// connection, its background tasks and its events. Close it with `close()`
/// (Kotlin `use {}`); after that every call throws `IllegalStateException`,
/// and the store is released so it can be opened again.
#[derive(uniffi::Object)]
pub struct Account {
    pub(crate) core: Arc<AccountCore>,
    maintenance: Option<AbortHandle>,
    relay: Mutex<Option<RelayLink>>,
    // Dropped last: the runtime ends the tasks above.
    pub(crate) runtime: OwnedRuntime,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Account(..)")
    }
}

#[uniffi::export]
impl Account {
    /// Creates a new account in the directory `data_dir` (made if missing,
    /// readable by the owner only; the store is `sotto.db` in it), locked
    /// with a raw 32-byte key (on Android, unwrapped by the Keystore). It
    /// receives on the relay of `relay_invite` (a `sotto-relay:` line).
    /// Nothing goes over the network until `connect`.
    ///
    /// Throws `AccountExists` if the directory holds an account,
    /// `InvalidInput` for a malformed invite or a key that is not 32 bytes.
    #[uniffi::constructor]
    pub fn create_with_key(
        data_dir: String,
        key: Vec<u8>,
        relay_invite: String,
        options: AccountOptions,
    ) -> Result<Arc<Self>> {
        let key = raw_key(Zeroizing::new(key))?;
        Self::start(options, |policy| {
            AccountCore::create(&PathBuf::from(data_dir), &key, &relay_invite, policy)
        })
    }

    /// Like `createWithKey`, locked with a passphrase (stretched with
    /// Argon2id; the salt lives beside the store, in `sotto.db.salt`).
    #[uniffi::constructor]
    pub fn create_with_passphrase(
        data_dir: String,
        passphrase: String,
        relay_invite: String,
        options: AccountOptions,
    ) -> Result<Arc<Self>> {
        let key = passphrase_key(Zeroizing::new(passphrase));
        Self::start(options, |policy| {
            AccountCore::create(&PathBuf::from(data_dir), &key, &relay_invite, policy)
        })
    }

    /// Opens the account in `data_dir` with its raw 32-byte key.
    ///
    /// Throws `NoAccount` if there is none (nothing is created), `WrongKey`
    /// for a wrong key, `StoreLocked` when the store is already open,
    /// `InvalidInput` when the key is not 32 bytes.
    #[uniffi::constructor]
    pub fn open_with_key(
        data_dir: String,
        key: Vec<u8>,
        options: AccountOptions,
    ) -> Result<Arc<Self>> {
        let key = raw_key(Zeroizing::new(key))?;
        Self::open(data_dir, key, options)
    }

    /// Opens the account in `data_dir` with its passphrase (Argon2id takes
    /// a noticeable fraction of a second).
    ///
    /// Throws `NoAccount` if there is none, `WrongKey` for a wrong
    /// passphrase, `StoreLocked` when the store is already open.
    #[uniffi::constructor]
    pub fn open_with_passphrase(
        data_dir: String,
        passphrase: String,
        options: AccountOptions,
    ) -> Result<Arc<Self>> {
        Self::open(
            data_dir,
            passphrase_key(Zeroizing::new(passphrase)),
            options,
        )
    }

    /// Re-encrypts the store under `new_key` (32 bytes) and keeps the
    /// account open on it: from now on only `new_key` opens the store, so an
    /// older copy of the wrapped key is useless. The Android app does this
    /// whenever the passphrase lock changes. It copies the whole store,
    /// holding the store's lock meanwhile.
    ///
    /// On an error nothing changed and the old key still opens the store,
    /// except when reopening the replaced store failed (`Storage`): then the
    /// store is under `new_key` and this account must be closed and opened
    /// again with it. Throws `InvalidInput` when the key is not 32 bytes or
    /// the account was opened with a passphrase.
    pub fn rekey(&self, new_key: Vec<u8>) -> Result<()> {
        let key = database_key(Zeroizing::new(new_key))?;
        Ok(self.core.app()?.rekey(&key)?)
    }

    /// The invite others add this account with: one `sotto-contact:` line
    /// (for a QR code or a message). It holds no secret.
    pub fn contact_invite(&self) -> Result<String> {
        self.core.contact_invite()
    }

    /// Adds the account of a contact invite as a contact called `name`,
    /// trusting its identity key on first use (compare safety numbers to
    /// verify it). Returns the contact's id. If the contact exists already
    /// (say, it wrote first), it is renamed and its relay recorded.
    ///
    /// Throws `InvalidInput` for a malformed invite, this account's own
    /// invite, or an empty or over-long name.
    pub fn add_contact(&self, invite: String, name: String) -> Result<String> {
        self.core.add_contact(&invite, &name)
    }

    /// Sends a text and returns its id once it is encrypted, stored and
    /// queued. The first text to a contact fetches their prekeys from the
    /// relay to start the session, so this may wait for the network. A
    /// connected account sends at once (`MessageSent`, later
    /// `DeliveryStateChanged`); otherwise the text goes with the next
    /// connection.
    ///
    /// Throws `NotDeliverable` when the contact has no relay or another
    /// one, `Network` when the prekeys cannot be fetched, `UntrustedIdentity`
    /// when the contact's key changed, `CalledFromCallback` from a listener.
    pub fn send_text(&self, contact_id: String, text: String) -> Result<String> {
        let app = self.core.app()?;
        let contact = ContactId::from_string(contact_id);
        let id = self
            .runtime
            .block_on(async { app.send_text(&contact, &text).await })??;
        Ok(crate::account_core::message_id_text(&id))
    }

    /// One page of the conversation with a contact: the newest `limit`
    /// messages stored before `before_ms` (from the newest if null), newest
    /// first. For the next page pass the `storedAtMs` of the last message
    /// returned.
    pub fn messages(
        &self,
        contact_id: String,
        limit: u32,
        before_ms: Option<u64>,
    ) -> Result<Vec<Message>> {
        self.core.messages(&contact_id, limit, before_ms)
    }

    /// Marks received texts read; a read receipt goes to the contact if
    /// read receipts are on.
    pub fn mark_read(&self, contact_id: String, message_ids: Vec<String>) -> Result<()> {
        self.core.mark_read(&contact_id, &message_ids)
    }

    /// Logs in to the relay once and uploads the prekeys it does not have
    /// yet, so that others can start sessions with this account; waits for
    /// the network. `connect` does the same on every connection; this is a
    /// one-shot check right after `createWithKey`.
    ///
    /// Throws `Network` or `Relay` when the relay cannot be used,
    /// `CalledFromCallback` from a listener.
    pub fn register(&self) -> Result<()> {
        let app = self.core.app()?;
        Ok(self.runtime.block_on(async { app.register().await })??)
    }

    /// Connects to the relay and keeps the account there, reconnecting with
    /// backoff, until `disconnect` or `close`: sends what is queued,
    /// receives texts and receipts, and reports them as events. Returns at
    /// once (`Connected` follows as an event); calling it while connected
    /// does nothing.
    pub fn connect(&self) -> Result<()> {
        let mut relay = self.lock_relay();
        if relay.as_ref().is_some_and(RelayLink::is_running) {
            return Ok(());
        }
        if let Some(finished) = relay.take() {
            finished.stop(&self.runtime)?;
        }
        let app = self.core.app()?;
        *relay = Some(RelayLink::start(
            &self.runtime,
            &app,
            Arc::clone(&self.core),
            self.call_path_policy()?,
        )?);
        Ok(())
    }

    /// Leaves the relay and waits until the connection has stopped. Queued
    /// texts stay queued for the next `connect`. Harmless when not
    /// connected. Throws `CalledFromCallback` from a listener.
    pub fn disconnect(&self) -> Result<()> {
        if Handle::try_current().is_ok() {
            // Checked first so that a refused call leaves the connection up.
            return Err(SottoError::CalledFromCallback);
        }
        match self.lock_relay().take() {
            Some(link) => link.stop(&self.runtime),
            None => Ok(()),
        }
    }

    /// Whether a relay connection runs (it may be between reconnects).
    pub fn is_connected(&self) -> bool {
        self.lock_relay()
            .as_ref()
            .is_some_and(RelayLink::is_running)
    }

    /// Our public identity key (33 bytes). It is not secret: it is what
    /// another phone needs to compute the safety number with us.
    pub fn identity_key(&self) -> Vec<u8> {
        self.core.identity_key()
    }

    /// The safety number of our identity and `their_identity_key` (for
    /// example the key in an invite not yet accepted).
    pub fn safety_number(&self, their_identity_key: Vec<u8>) -> Result<SafetyNumber> {
        self.core.safety_number(&their_identity_key)
    }

    /// Whether `scanned` (a QR payload scanned from the other phone) is the
    /// one the holder of `their_identity_key` shows for us. Records nothing.
    pub fn safety_code_matches(
        &self,
        their_identity_key: Vec<u8>,
        scanned: Vec<u8>,
    ) -> Result<bool> {
        self.core.safety_code_matches(&their_identity_key, &scanned)
    }

    /// The safety number with a contact's trusted identity.
    pub fn contact_safety_number(&self, contact_id: String) -> Result<SafetyNumber> {
        self.core.contact_safety_number(&contact_id)
    }

    /// Checks a QR payload scanned from the contact's phone; when it
    /// matches, the contact is marked verified. Returns whether it matched.
    pub fn verify_contact_code(&self, contact_id: String, scanned: Vec<u8>) -> Result<bool> {
        self.core.verify_contact_code(&contact_id, &scanned)
    }

    /// Marks a contact verified after the user compared the digits by
    /// other means (read aloud, in person).
    pub fn mark_contact_verified(&self, contact_id: String) -> Result<()> {
        self.core.mark_contact_verified(&contact_id)
    }

    /// Every contact, by name.
    pub fn contacts(&self) -> Result<Vec<ContactSummary>> {
        self.core.contacts()
    }

    /// Every conversation with a contact, with its newest text, unread and
    /// held counts: the conversation list in one call. Most recent first;
    /// contacts without texts come last, by name. (Plain SMS threads are
    /// `plainThreads`.)
    pub fn conversations(&self) -> Result<Vec<ConversationSummary>> {
        self.core.conversations()
    }

    /// The disappearing-messages timer of the conversation with a contact,
    /// in seconds (0: messages stay).
    pub fn disappearing_timer(&self, contact_id: String) -> Result<u32> {
        self.core.disappearing_timer(&contact_id)
    }

    /// Turns "keep no history" on or off for a conversation. Turning it on
    /// deletes the messages already stored for it.
    pub fn set_keep_no_history(&self, contact_id: String, keep_no_history: bool) -> Result<()> {
        self.core.set_keep_no_history(&contact_id, keep_no_history)
    }

    /// Runs maintenance now: rotates and replenishes prekeys and deletes
    /// expired messages. The background task does the same on its interval;
    /// call this from the app's periodic work when the process may be
    /// asleep. Changes are also published as events.
    pub fn run_maintenance(&self) -> Result<MaintenanceReport> {
        self.core.maintain()
    }

    /// Delivers this account's events to `listener` until the returned
    /// subscription is cancelled or closed, or the account closes. Every
    /// event published after this returns reaches the listener.
    pub fn subscribe(&self, listener: Arc<dyn AccountListener>) -> Arc<Subscription> {
        Arc::new(
            self.core
                .events()
                .subscribe(self.runtime.handle(), listener),
        )
    }
}

impl Account {
    fn open(data_dir: String, key: StoreKey, options: AccountOptions) -> Result<Arc<Self>> {
        Self::start(options, |policy| {
            AccountCore::open(&PathBuf::from(data_dir), &key, policy)
        })
    }

    /// Checks the options, starts the runtime, opens or creates the account
    /// with `open_core`, and starts maintenance.
    fn start(
        options: AccountOptions,
        open_core: impl FnOnce(sotto_core::prekeys::PreKeyPolicy) -> Result<AccountCore>,
    ) -> Result<Arc<Self>> {
        if options.prekey_batch == 0 {
            return Err(SottoError::InvalidInput("prekey_batch must be at least 1"));
        }
        let runtime = OwnedRuntime::new()?;
        let core = Arc::new(open_core(options.prekey_policy())?);
        let maintenance = match options.maintenance_interval_ms {
            0 => None,
            ms => Some(spawn_maintenance(
                &runtime,
                Arc::clone(&core),
                Duration::from_millis(ms),
            )),
        };
        Ok(Arc::new(Self {
            core,
            maintenance,
            relay: Mutex::new(None),
            runtime,
        }))
    }

    /// The calls of the running relay connection; [`SottoError::NotConnected`]
    /// without one.
    pub(crate) fn calls(&self) -> Result<Calls> {
        match self.lock_relay().as_ref() {
            Some(link) if link.is_running() => Ok(link.calls().clone()),
            _ => Err(SottoError::NotConnected),
        }
    }

    /// The media paths calls may use, as the account's settings say
    /// (`setRelayOnlyCalls` saves them).
    pub(crate) fn call_path_policy(&self) -> Result<PathPolicy> {
        Ok(if self.core.app()?.settings().relay_only_calls {
            PathPolicy::RelayOnly
        } else {
            PathPolicy::All
        })
    }

    /// Saves "always relay calls" in the account's settings (for later
    /// connections, and across restarts) and applies it to the running
    /// connection.
    pub(crate) fn set_call_path_policy(&self, relay_only: bool) -> Result<()> {
        let app = self.core.app()?;
        if app.settings().relay_only_calls != relay_only {
            app.update_settings(|settings| settings.relay_only_calls = relay_only)?;
        }
        let relay = self.lock_relay();
        match relay.as_ref() {
            Some(link) if link.is_running() => {
                // A shell that stopped meanwhile gets the policy with the
                // next connection.
                let policy = if relay_only {
                    PathPolicy::RelayOnly
                } else {
                    PathPolicy::All
                };
                let _ = link.calls().set_path_policy(policy);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn lock_relay(&self) -> MutexGuard<'_, Option<RelayLink>> {
        // Only taking and replacing the link happens under this lock.
        self.relay.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        if let Some(task) = &self.maintenance {
            task.abort();
        }
        if let Some(link) = self.lock_relay().take() {
            // The runtime's shutdown below ends its tasks, and with them
            // their hold on the store.
            link.stop_soon();
        }
        // Subscriptions end and the store is released before this returns;
        // the runtime (a field) shuts down right after.
        self.core.close();
    }
}

/// Runs maintenance every `interval` until the account closes. The store
/// work is synchronous, so it runs on the blocking pool rather than on a
/// worker thread.
fn spawn_maintenance(
    runtime: &OwnedRuntime,
    core: Arc<AccountCore>,
    interval: Duration,
) -> AbortHandle {
    let task = runtime.handle().spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate, and opening just did the same work.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let core = Arc::clone(&core);
            match tokio::task::spawn_blocking(move || core.maintain()).await {
                Ok(Ok(_)) => {}
                Ok(Err(SottoError::AccountClosed)) | Err(_) => break,
                // Already logged by the error mapping; try again next time.
                Ok(Err(_)) => {}
            }
        }
    });
    task.abort_handle()
}
