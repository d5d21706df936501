//! Starting sessions and deciding whom to trust.
//!
//! A contact's identity key is trusted on first use. After that, a different
//! key is never accepted silently: sending fails with
//! [`Error::UntrustedIdentity`], and incoming envelopes under the new key are
//! held undecrypted (see [`crate::messaging::Received::HeldForUntrustedIdentity`])
//! until the user compares safety numbers and calls [`trust_new_identity`].

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

/// The new identity key a contact presented in a held envelope, if any: what
/// the user is asked to verify before [`trust_new_identity`].
pub fn offered_identity<S: SottoStore>(
    store: &S,
    contact: &ContactId,
) -> Result<Option<IdentityKey>> {
    let held = store.held_envelopes(contact)?;
    Ok(held.into_iter().rev().find_map(|h| h.offered_identity))
}

/// Trusts `key` as the contact's new identity (after the user checked the
/// new safety number), drops the session built on the old key, and decrypts
/// the envelopes held while the key was untrusted. Returns what each held
/// envelope turned out to be, oldest first.
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
        let unchanged = store
            .identity_record(contact)?
            .is_some_and(|r| r.key == *key);
        if !unchanged {
            store.trust_identity(contact, key)?;
            store.delete_session(contact)?;
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
