//! Starting sessions and deciding whom to trust.
//!
//! A contact's identity key is trusted on first use. After that, a different
//! key is never accepted silently: sending fails with
//! [`Error::UntrustedIdentity`], and incoming envelopes under the new key are
//! held undecrypted (see [`crate::messaging::Received::HeldForUntrustedIdentity`])
//! until the user compares safety numbers and calls [`trust_new_identity`].
//!
//! Anyone can put a PreKey message under a key of their choosing in front of
//! us (an SMS sender is easily forged), so an offered key proves nothing
//! about who holds it. The user is shown the safety number of the key that
//! is offered, trusts exactly that key, and is never given a silent choice
//! between several.

use std::cell::RefCell;
use std::time::SystemTime;

use libsignal_protocol::{IdentityKey, PreKeyBundle, SessionUsabilityRequirements};
use rand::{CryptoRng, Rng};

use crate::error::{Error, Result};
use crate::messaging::{self, Received};
use crate::signal_views::View;
use crate::store::{in_transaction, ContactId, SottoStore};
use crate::{address_of, block_on};

/// Starts (or restarts) a session with `contact` from their bundle (PQXDH).
/// The first messages sent afterwards are PreKey messages.
///
/// Fails with [`Error::UntrustedIdentity`] if the bundle's identity differs
/// from the one trusted for the contact, and [`Error::InvalidBundle`] if its
/// signatures do not verify.
pub fn start_session<S, R>(
    store: &mut S,
    contact: &ContactId,
    bundle: &PreKeyBundle,
    now: SystemTime,
    rng: &mut R,
) -> Result<()>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        if store.contact(contact)?.is_none() {
            return Err(Error::UnknownContact);
        }
        let address = address_of(contact);
        let cell = RefCell::new(store);
        let view = View::new(&cell);
        block_on(libsignal_protocol::process_prekey_bundle(
            &address,
            &mut view.clone(),
            &mut view.clone(),
            bundle,
            now,
            rng,
        ))?;
        Ok(())
    })
}

/// Whether a usable (not stale) session with `contact` exists at `now`.
pub fn has_session<S: SottoStore>(store: &S, contact: &ContactId, now: SystemTime) -> Result<bool> {
    match block_on(store.load_session(&address_of(contact)))? {
        None => Ok(false),
        Some(record) => {
            Ok(record.has_usable_sender_chain(now, SessionUsabilityRequirements::NotStale)?)
        }
    }
}

/// The new identity keys a contact presented in held envelopes, each once,
/// oldest first. Only keys whose envelope decrypted in a trial are held
/// with a key (see `messaging::receive`). One key is a change for the user
/// to check; more than one means someone else is offering keys in the
/// contact's name too, and the user must compare each before trusting one.
pub fn offered_identities<S: SottoStore>(
    store: &S,
    contact: &ContactId,
) -> Result<Vec<IdentityKey>> {
    let mut keys: Vec<IdentityKey> = Vec::new();
    for held in store.held_envelopes(contact)? {
        if let Some(key) = held.offered_identity {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// [`Error::UntrustedIdentity`] while a new key is offered in the contact's
/// name: nothing is sent to the old key (whose owner may be gone), no call
/// agrees keys with it, and no verification mark lands on it, until the
/// user compared the offered key's number and accepted or rejected it.
pub fn refuse_while_key_offered<S: SottoStore>(store: &S, contact: &ContactId) -> Result<()> {
    if offered_identities(store, contact)?.is_empty() {
        Ok(())
    } else {
        Err(Error::UntrustedIdentity)
    }
}

/// Trusts `key` as the contact's new identity (after the user checked the
/// safety number of exactly this key), drops the session built on the old
/// key, and decrypts the envelopes held while the key was untrusted.
/// Returns what each held envelope turned out to be, oldest first.
///
/// Refused with [`Error::NoIdentityChange`] unless `key` is offered, and
/// with [`Error::ConflictingIdentities`] while another key is offered too
/// (it may have come after the user looked): reject the one that is not
/// the contact's first ([`reject_new_identity`]).
pub fn trust_new_identity<S, R>(
    store: &mut S,
    contact: &ContactId,
    key: &IdentityKey,
    now: SystemTime,
    rng: &mut R,
) -> Result<Vec<Result<Received>>>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        if store.contact(contact)?.is_none() {
            return Err(Error::UnknownContact);
        }
        let offered = offered_identities(store, contact)?;
        if !offered.contains(key) {
            return Err(Error::NoIdentityChange);
        }
        if offered.len() > 1 {
            return Err(Error::ConflictingIdentities);
        }
        store.trust_identity(contact, key)?;
        store.delete_session(contact)?;
        // The user compared this key's safety number: stronger than any SMS
        // handshake could prove, so one still waiting ends here.
        for phone in store.phones_of(contact)? {
            store.set_handshake_pending(&phone, false)?;
        }
        Ok(())
    })?;
    let mut results = Vec::new();
    for held in store.held_envelopes(contact)? {
        let result = messaging::receive_held(store, &held, now, rng);
        results.push(result);
    }
    Ok(results)
}

/// Drops the envelopes held under `key` without decrypting them: the user
/// compared its safety number with the contact and it did not match.
/// Returns how many were dropped; [`Error::NoIdentityChange`] if `key` is
/// not offered.
pub fn reject_new_identity<S: SottoStore>(
    store: &mut S,
    contact: &ContactId,
    key: &IdentityKey,
) -> Result<usize> {
    in_transaction(store, |store| {
        let under_key: Vec<i64> = store
            .held_envelopes(contact)?
            .into_iter()
            .filter(|held| held.offered_identity.as_ref() == Some(key))
            .map(|held| held.id)
            .collect();
        if under_key.is_empty() {
            return Err(Error::NoIdentityChange);
        }
        for id in &under_key {
            store.remove_held_envelope(*id)?;
        }
        Ok(under_key.len())
    })
}
