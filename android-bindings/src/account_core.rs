//! `AccountCore`: the work behind the exported `Account` — the core's
//! application facade (`sotto_core::app::Account`: store, settings,
//! contacts, messaging, relay), maintenance, and the event hub. It speaks in
//! core types and `SottoError`; the exported shell only converts.
//!
//! The facade sits behind one mutex. It is taken out when the account
//! closes, so the store is released as soon as the calls in flight return;
//! a later call (or a background task that still holds this value) gets
//! [`SottoError::AccountClosed`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use sotto_core::app::{self, ContactInvite, StoreKey};
use sotto_core::message::MessageId;
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::{ContactId, DatabaseKey, SottoStore, SqlCipherStore};
use sotto_core::{history, safety, IdentityKey};
use zeroize::Zeroizing;

use crate::error::{Result, SottoError};
use crate::events::{AccountEvent, EventHub};
use crate::records::{
    ContactSummary, ConversationSummary, MaintenanceReport, Message, SafetyNumber,
};

/// A raw key handed in as bytes; it must be exactly 32 of them.
pub(crate) fn raw_key(bytes: Zeroizing<Vec<u8>>) -> Result<StoreKey> {
    database_key(bytes).map(StoreKey::Raw)
}

/// The database key in `bytes`, which must be exactly 32 of them.
pub(crate) fn database_key(bytes: Zeroizing<Vec<u8>>) -> Result<DatabaseKey> {
    let mut raw: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| SottoError::InvalidInput("the database key must be 32 bytes"))?;
    let key = DatabaseKey::from_bytes(raw);
    // `raw` is a copy on the stack; wipe it too.
    zeroize::Zeroize::zeroize(&mut raw);
    Ok(key)
}

/// A passphrase handed in as a string.
pub(crate) fn passphrase_key(passphrase: Zeroizing<String>) -> StoreKey {
    StoreKey::Passphrase(Zeroizing::new(passphrase.as_bytes().to_vec()))
}

/// An open account.
pub(crate) struct AccountCore {
    app: Mutex<Option<Arc<app::Account>>>,
    identity: IdentityKey,
    policy: PreKeyPolicy,
    events: EventHub,
}

impl AccountCore {
    /// Creates a new account in `data_dir` that receives on the relay of
    /// `relay_invite` (a `sotto-relay:` line). Nothing goes over the network.
    pub(crate) fn create(
        data_dir: &Path,
        key: &StoreKey,
        relay_invite: &str,
        policy: PreKeyPolicy,
    ) -> Result<Self> {
        let relay = RelayInvite::parse(relay_invite)?;
        let account = app::Account::create_with_policy(data_dir, key, relay, &policy)?;
        Ok(Self::new(account, policy))
    }

    /// Opens the account in `data_dir` and brings prekeys and disappearing
    /// messages up to date.
    pub(crate) fn open(data_dir: &Path, key: &StoreKey, policy: PreKeyPolicy) -> Result<Self> {
        let account = app::Account::open(data_dir, key)?;
        account.with_store(|store| {
            let now = SystemTime::now();
            prekeys::maintain_prekeys(store, &policy, now, &mut rand::rng())?;
            history::delete_expired(store, now)?;
            Ok(())
        })?;
        account.delete_expired_calls(SystemTime::now())?;
        Ok(Self::new(account, policy))
    }

    fn new(account: app::Account, policy: PreKeyPolicy) -> Self {
        Self {
            identity: account.identity_key(),
            app: Mutex::new(Some(Arc::new(account))),
            policy,
            events: EventHub::new(),
        }
    }

    /// The facade, for the calls that go through it (and the relay
    /// connection); [`SottoError::AccountClosed`] once closed.
    pub(crate) fn app(&self) -> Result<Arc<app::Account>> {
        self.lock_app().clone().ok_or(SottoError::AccountClosed)
    }

    /// The invite others add this account with (a `sotto-contact:` line).
    pub(crate) fn contact_invite(&self) -> Result<String> {
        Ok(self.app()?.contact_invite().to_string())
    }

    /// Adds the account of a contact invite as a contact; returns its id.
    pub(crate) fn add_contact(&self, invite: &str, name: &str) -> Result<String> {
        let invite = ContactInvite::parse(invite)?;
        let id = self.app()?.add_contact(&invite, name)?;
        Ok(id.as_str().to_owned())
    }

    /// One page of a conversation, newest first.
    pub(crate) fn messages(
        &self,
        contact: &str,
        limit: u32,
        before_ms: Option<u64>,
    ) -> Result<Vec<Message>> {
        let contact = ContactId::from_string(contact.to_owned());
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let app = self.app()?;
        let page = app.messages(&contact, limit, before_ms)?;
        let ids: Vec<_> = page.iter().map(|message| message.id).collect();
        let transports = app.text_transports(&contact, &ids)?;
        Ok(page
            .into_iter()
            .zip(transports)
            .map(|(message, transport)| Message::from(message).with_transport(transport))
            .collect())
    }

    /// Marks received texts read (a read receipt goes out if those are on).
    pub(crate) fn mark_read(&self, contact: &str, message_ids: &[String]) -> Result<()> {
        let contact = ContactId::from_string(contact.to_owned());
        let ids = message_ids
            .iter()
            .map(|id| parse_message_id(id))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.app()?.mark_read(&contact, ids)?)
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
        let app = self.app()?;
        let mut summaries = Vec::new();
        for contact in app.contacts()? {
            let settings = self.with_store(|store| store.conversation_settings(&contact.id))?;
            summaries.push(ContactSummary {
                id: contact.id.as_str().to_owned(),
                on_relay: contact.reach != sotto_core::app::Reach::NoRelay,
                name: contact.name,
                verified: contact.verified,
                identity_changed: contact.identity_changed,
                identity_conflict: contact.identity_conflict,
                unproven_number: contact.unproven_number,
                disappearing_timer_secs: settings.expire_timer_secs,
                keep_no_history: settings.keep_no_history,
            });
        }
        Ok(summaries)
    }

    /// Every conversation with a contact, with its newest text and counts,
    /// most recent first (contacts without texts last, by name).
    pub(crate) fn conversations(&self) -> Result<Vec<ConversationSummary>> {
        let app = self.app()?;
        let mut contacts: HashMap<String, ContactSummary> = self
            .contacts()?
            .into_iter()
            .map(|contact| (contact.id.clone(), contact))
            .collect();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut list = Vec::new();
        for conversation in app.conversations()? {
            let id = conversation.contact.id;
            // A contact added between the two reads comes with the next call.
            let Some(contact) = contacts.remove(id.as_str()) else {
                continue;
            };
            list.push(ConversationSummary {
                contact,
                last_message: match conversation.last_message {
                    Some(message) => {
                        let transport = app.text_transports(&id, &[message.id])?;
                        let transport = transport.into_iter().next().unwrap_or_default();
                        Some(Message::from(message).with_transport(transport))
                    }
                    None => None,
                },
                unread_count: count(app.unread_count(&id)?),
                held_message_count: count(app.held_message_count(&id)?),
            });
        }
        Ok(list)
    }

    /// The disappearing-messages timer of a conversation, in seconds.
    pub(crate) fn disappearing_timer(&self, contact: &str) -> Result<u32> {
        let contact = ContactId::from_string(contact.to_owned());
        self.with_store(|store| {
            require_contact(store, &contact)?;
            Ok(store.conversation_settings(&contact)?.expire_timer_secs)
        })
    }

    /// Turns "keep no history" on (deleting the texts and calls stored)
    /// or off.
    pub(crate) fn set_keep_no_history(&self, contact: &str, keep_no_history: bool) -> Result<()> {
        let contact = ContactId::from_string(contact.to_owned());
        Ok(self.app()?.set_keep_no_history(&contact, keep_no_history)?)
    }

    /// Rotates and replenishes prekeys, deletes expired messages, drives
    /// the SMS timeouts (`Account::sms_tick`), and publishes what changed.
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
        // Outside `with_store`: the facade takes the store's lock itself.
        self.app()?.delete_expired_calls(SystemTime::now())?;
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
        let app = self.app()?;
        app.sms_tick()?;
        let to_take = app.sms_to_take()?;
        if to_take > 0 {
            self.events.emit(AccountEvent::OutgoingSmsWaiting {
                count: u32::try_from(to_take).unwrap_or(u32::MAX),
            });
        }
        Ok(report)
    }

    /// Ends every subscription and lets go of the store: it is released
    /// once the calls in flight and the connection's tasks (which the
    /// caller stops) are done. Later calls fail with
    /// [`SottoError::AccountClosed`].
    pub(crate) fn close(&self) {
        self.events.close();
        let app = self.lock_app().take();
        drop(app);
    }

    fn with_store<T>(
        &self,
        work: impl FnOnce(&mut SqlCipherStore) -> sotto_core::Result<T>,
    ) -> Result<T> {
        Ok(self.app()?.with_store(work)?)
    }

    fn lock_app(&self) -> MutexGuard<'_, Option<Arc<app::Account>>> {
        // Nothing runs under this lock but taking or cloning the handle.
        self.app.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A message id as the bindings show it: 32 lowercase hex digits.
pub(crate) fn message_id_text(id: &MessageId) -> String {
    hex::encode(id.0)
}

fn parse_message_id(text: &str) -> Result<MessageId> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .map(MessageId)
        .ok_or(SottoError::InvalidInput("a message id is malformed"))
}

pub(crate) fn parse_identity(bytes: &[u8]) -> Result<IdentityKey> {
    IdentityKey::decode(bytes)
        .map_err(|_| SottoError::InvalidInput("the identity key is malformed"))
}

fn require_contact(store: &SqlCipherStore, contact: &ContactId) -> sotto_core::Result<()> {
    match store.contact(contact)? {
        Some(_) => Ok(()),
        None => Err(sotto_core::Error::UnknownContact),
    }
}
