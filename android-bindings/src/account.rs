//! The exported `Account`: a thin shell over `account_core::AccountCore`
//! that owns the account's runtime and its maintenance task.
//!
//! Every method blocks the calling thread until the work is done (store
//! access, and Argon2id when opening with a passphrase). Android code calls
//! them from a background dispatcher, never from the main thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;
use zeroize::Zeroizing;

use crate::account_core::{AccountCore, Unlock};
use crate::error::{Result, SottoError};
use crate::events::{AccountListener, Subscription};
use crate::records::{AccountOptions, ContactSummary, MaintenanceReport, SafetyNumber};
use crate::runtime::OwnedRuntime;

/// One open account: its encrypted store, its identity, its background
/// tasks and its events. Close it with `close()` (Kotlin `use {}`); after
/// that every call throws `IllegalStateException`, and the store file is
/// released so it can be opened again.
#[derive(uniffi::Object)]
pub struct Account {
    core: Arc<AccountCore>,
    maintenance: Option<AbortHandle>,
    // Dropped last: the runtime ends the tasks above.
    runtime: OwnedRuntime,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Account(..)")
    }
}

#[uniffi::export]
impl Account {
    /// Opens the account stored at `path` with a raw 32-byte key (on
    /// Android, unwrapped by the Keystore), creating store and account on
    /// first use.
    ///
    /// Throws `WrongKey` for a wrong key, `StoreLocked` when the store is
    /// already open, `InvalidInput` when the key is not 32 bytes.
    #[uniffi::constructor]
    pub fn open_with_key(path: String, key: Vec<u8>, options: AccountOptions) -> Result<Arc<Self>> {
        let unlock = Unlock::key(Zeroizing::new(key))?;
        Self::open(path, unlock, options)
    }

    /// Opens the account stored at `path` with a passphrase (stretched with
    /// Argon2id, which takes a noticeable fraction of a second), creating
    /// store and account on first use. The salt lives in `<path>.salt`.
    ///
    /// Throws `WrongKey` for a wrong passphrase, `StoreLocked` when the
    /// store is already open.
    #[uniffi::constructor]
    pub fn open_with_passphrase(
        path: String,
        passphrase: String,
        options: AccountOptions,
    ) -> Result<Arc<Self>> {
        Self::open(
            path,
            Unlock::Passphrase(Zeroizing::new(passphrase)),
            options,
        )
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
    fn open(path: String, unlock: Unlock, options: AccountOptions) -> Result<Arc<Self>> {
        if options.prekey_batch == 0 {
            return Err(SottoError::InvalidInput("prekey_batch must be at least 1"));
        }
        let runtime = OwnedRuntime::new()?;
        let core = Arc::new(AccountCore::open(
            &PathBuf::from(path),
            unlock,
            options.prekey_policy(),
        )?);
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
            runtime,
        }))
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        if let Some(task) = &self.maintenance {
            task.abort();
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
