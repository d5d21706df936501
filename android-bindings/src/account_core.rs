//! `AccountCore`: the work behind the exported `Account` — the open store,
//! the account's identity, maintenance, and the event hub. It speaks in
//! core types and `SottoError`; the exported shell only converts.
//!
//! The store sits behind one mutex (it is the one writer connection). It is
//! taken out when the account closes, so the database file is released at
//! once even if a background task still holds this value; such a task then
//! gets [`SottoError::AccountClosed`].
//!
//! This holds no messaging or relay logic: sending, receiving and the relay
//! agent come from the core's application facade when the bindings wrap it.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::store::{ContactId, DatabaseKey, SottoStore, SqlCipherStore};
use sotto_core::{history, safety, IdentityKey};
use zeroize::Zeroizing;

use crate::error::{Result, SottoError};
use crate::events::{AccountEvent, EventHub};
use crate::records::{ContactSummary, MaintenanceReport, SafetyNumber};

/// How the store is unlocked.
pub(crate) enum Unlock {
    /// A raw 256-bit key (from the Android Keystore).
    Key(DatabaseKey),
    /// A passphrase, stretched with Argon2id (desktop).
    Passphrase(Zeroizing<String>),
}

impl Unlock {
    /// A raw key handed in as bytes; it must be exactly 32 of them.
    pub(crate) fn key(bytes: Zeroizing<Vec<u8>>) -> Result<Self> {
        let mut raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SottoError::InvalidInput("the database key must be 32 bytes"))?;
        let key = DatabaseKey::from_bytes(raw);
        // `raw` is a copy on the stack; wipe it too.
        zeroize::Zeroize::zeroize(&mut raw);
        Ok(Unlock::Key(key))
    }
}

/// An open account.
pub(crate) struct AccountCore {
    store: Mutex<Option<SqlCipherStore>>,
    identity: IdentityKey,
    policy: PreKeyPolicy,
    events: EventHub,
}

impl AccountCore {
    /// Opens (or creates) the store at `path`, creates the account on first
    /// open, and brings prekeys and disappearing messages up to date.
    pub(crate) fn open(path: &Path, unlock: Unlock, policy: PreKeyPolicy) -> Result<Self> {
        let mut rng = rand::rng();
        let mut store = match unlock {
            Unlock::Key(key) => SqlCipherStore::open(path, &key)?,
            Unlock::Passphrase(passphrase) => {
                SqlCipherStore::open_with_passphrase(path, passphrase.as_bytes(), &mut rng)?
            }
        };
        let now = SystemTime::now();
        let account = match store.local_account()? {
            Some(account) => {
                prekeys::maintain_prekeys(&mut store, &policy, now, &mut rng)?;
                account
            }
            None => prekeys::create_account(&mut store, &policy, now, &mut rng)?,
        };
        history::delete_expired(&mut store, now)?;
        Ok(Self {
            store: Mutex::new(Some(store)),
            identity: *account.identity.identity_key(),
            policy,
            events: EventHub::new(),
        })
    }

    pub(crate) fn events(&self) -> &EventHub {
        &self.events
    }

    /// Our public identity key, serialized.
    pub(crate) fn identity_key(&self) -> Vec<u8> {
        self.identity.serialize().to_vec()
    }

    /// The safety number of our identity and any identity key.
    pub(crate) fn safety_number(&self, theirs: &[u8]) -> Result<SafetyNumber> {
        let theirs = parse_identity(theirs)?;
        self.with_store(|store| safety::safety_number_with(store, &theirs))
            .map(SafetyNumber::from)
    }

    /// Whether a scanned QR payload is the one the holder of `theirs` shows.
    pub(crate) fn safety_code_matches(&self, theirs: &[u8], scanned: &[u8]) -> Result<bool> {
        let theirs = parse_identity(theirs)?;
        self.with_store(|store| safety::scanned_code_matches(store, &theirs, scanned))
    }

    /// The safety number with a contact's trusted identity.
    pub(crate) fn contact_safety_number(&self, contact: &str) -> Result<SafetyNumber> {
        let contact = ContactId::from_string(contact.to_owned());
        self.with_store(|store| {
            require_contact(store, &contact)?;
            safety::safety_number(store, &contact)
        })
        .map(SafetyNumber::from)
    }

    /// Checks a code scanned from the contact's phone; marks the contact
    /// verified when it matches.
    pub(crate) fn verify_contact_code(&self, contact: &str, scanned: &[u8]) -> Result<bool> {
        let contact = ContactId::from_string(contact.to_owned());
        self.with_store(|store| {
            require_contact(store, &contact)?;
            safety::verify_scanned(store, &contact, scanned)
        })
    }

    /// Marks a contact verified after the digits were compared by voice.
    pub(crate) fn mark_contact_verified(&self, contact: &str) -> Result<()> {
        let contact = ContactId::from_string(contact.to_owned());
        self.with_store(|store| {
            require_contact(store, &contact)?;
            safety::mark_verified(store, &contact)
        })
    }

    /// Every contact, by name.
    pub(crate) fn contacts(&self) -> Result<Vec<ContactSummary>> {
        self.with_store(|store| {
            let mut summaries = Vec::new();
            for contact in store.contacts()? {
                let settings = store.conversation_settings(&contact.id)?;
                let verified = store
                    .identity_record(&contact.id)?
                    .is_some_and(|record| record.verified);
                summaries.push(ContactSummary {
                    id: contact.id.as_str().to_owned(),
                    name: contact.name,
                    on_relay: contact.relay.is_some(),
                    verified,
                    disappearing_timer_secs: settings.expire_timer_secs,
                    keep_no_history: settings.keep_no_history,
                });
            }
            Ok(summaries)
        })
    }

    /// The disappearing-messages timer of a conversation, in seconds.
    pub(crate) fn disappearing_timer(&self, contact: &str) -> Result<u32> {
        let contact = ContactId::from_string(contact.to_owned());
        self.with_store(|store| {
            require_contact(store, &contact)?;
            Ok(store.conversation_settings(&contact)?.expire_timer_secs)
        })
    }

    /// Turns "keep no history" on (deleting what is stored) or off.
    pub(crate) fn set_keep_no_history(&self, contact: &str, keep_no_history: bool) -> Result<()> {
        let contact = ContactId::from_string(contact.to_owned());
        self.with_store(|store| history::set_keep_no_history(store, &contact, keep_no_history))
    }

    /// Rotates and replenishes prekeys, deletes expired messages, and
    /// publishes what changed.
    pub(crate) fn maintain(&self) -> Result<MaintenanceReport> {
        let report = self.with_store(|store| {
            let now = SystemTime::now();
            let prekeys = prekeys::maintain_prekeys(store, &self.policy, now, &mut rand::rng())?;
            let expired = history::delete_expired(store, now)?;
            Ok(MaintenanceReport {
                one_time_prekeys_made: prekeys.new_one_time,
                kyber_prekeys_made: prekeys.new_one_time_kyber,
                signed_prekey_rotated: prekeys.rotated_signed,
                last_resort_prekey_rotated: prekeys.rotated_last_resort,
                messages_expired: u32::try_from(expired).unwrap_or(u32::MAX),
            })
        })?;
        let prekeys_changed = report.one_time_prekeys_made > 0
            || report.kyber_prekeys_made > 0
            || report.signed_prekey_rotated
            || report.last_resort_prekey_rotated;
        if prekeys_changed {
            self.events.emit(AccountEvent::PrekeysRefreshed {
                one_time: report.one_time_prekeys_made,
                kyber: report.kyber_prekeys_made,
                rotated: report.signed_prekey_rotated || report.last_resort_prekey_rotated,
            });
        }
        if report.messages_expired > 0 {
            self.events.emit(AccountEvent::MessagesExpired {
                count: report.messages_expired,
            });
        }
        Ok(report)
    }

    /// Ends every subscription and releases the store. Later calls fail
    /// with [`SottoError::AccountClosed`].
    pub(crate) fn close(&self) {
        self.events.close();
        // Waits for a store call in progress (a maintenance run) to finish.
        let store = self.lock_store().take();
        drop(store);
    }

    fn with_store<T>(
        &self,
        work: impl FnOnce(&mut SqlCipherStore) -> sotto_core::Result<T>,
    ) -> Result<T> {
        let mut guard = self.lock_store();
        let store = guard.as_mut().ok_or(SottoError::AccountClosed)?;
        Ok(work(store)?)
    }

    fn lock_store(&self) -> MutexGuard<'_, Option<SqlCipherStore>> {
        // A panic inside a store call rolls its transaction back
        // (`in_transaction`), so the store is still consistent.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn parse_identity(bytes: &[u8]) -> Result<IdentityKey> {
    IdentityKey::decode(bytes)
        .map_err(|_| SottoError::InvalidInput("the identity key is malformed"))
}

fn require_contact(store: &SqlCipherStore, contact: &ContactId) -> sotto_core::Result<()> {
    match store.contact(contact)? {
        Some(_) => Ok(()),
        None => Err(sotto_core::Error::UnknownContact),
    }
}
