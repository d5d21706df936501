//! Safety numbers: libsignal fingerprints of our identity and a contact's,
//! as 60 digits to read aloud and as a code to scan.
//!
//! Both sides must compute the same number, so the stable identifiers fed to
//! the fingerprint are the identity keys themselves (Sotto has no phone-number
//! or account-id identity that both sides agree on).

use libsignal_protocol::{Fingerprint, IdentityKey};

use crate::error::{Error, Result};
use crate::store::{in_transaction, ContactId, SottoStore};

/// Fingerprint format version 2 with 5200 iterations, as Signal uses.
const FINGERPRINT_VERSION: u32 = 2;
const FINGERPRINT_ITERATIONS: u32 = 5200;

/// A safety number for one contact.
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    /// Sixty digits; the same on both phones.
    pub digits: String,
    /// The payload of the QR code to show (a libsignal scannable fingerprint).
    pub scannable: Vec<u8>,
}

impl SafetyNumber {
    /// The digits in twelve groups of five, as shown to users.
    pub fn grouped(&self) -> String {
        let chars: Vec<char> = self.digits.chars().collect();
        chars
            .chunks(5)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SafetyNumber(..)")
    }
}

fn fingerprint<S: SottoStore>(store: &S, contact: &ContactId) -> Result<Fingerprint> {
    let theirs = store.identity_record(contact)?.ok_or(Error::NoSession)?.key;
    fingerprint_with(store, &theirs)
}

fn fingerprint_with<S: SottoStore>(store: &S, theirs: &IdentityKey) -> Result<Fingerprint> {
    let account = store.local_account()?.ok_or(Error::NoAccount)?;
    let ours = *account.identity.identity_key();
    Fingerprint::new(
        FINGERPRINT_VERSION,
        FINGERPRINT_ITERATIONS,
        &ours.serialize(),
        &ours,
        &theirs.serialize(),
        theirs,
    )
    .map_err(|_| Error::Protocol("fingerprint"))
}

/// The safety number of our identity and `contact`'s trusted identity.
pub fn safety_number<S: SottoStore>(store: &S, contact: &ContactId) -> Result<SafetyNumber> {
    safety_number_of(fingerprint(store, contact)?)
}

/// The safety number of our identity and any identity key, whether or not
/// it belongs to a contact yet (for example one read from an invite before
/// it is accepted). Both sides compute the same number.
pub fn safety_number_with<S: SottoStore>(store: &S, theirs: &IdentityKey) -> Result<SafetyNumber> {
    safety_number_of(fingerprint_with(store, theirs)?)
}

/// Compares a code scanned from the phone that holds `theirs` with ours,
/// without recording anything. Returns whether it matched.
pub fn scanned_code_matches<S: SottoStore>(
    store: &S,
    theirs: &IdentityKey,
    scanned: &[u8],
) -> Result<bool> {
    fingerprint_with(store, theirs)?
        .scannable
        .compare(scanned)
        .map_err(|_| Error::InvalidSafetyCode)
}

fn safety_number_of(fp: Fingerprint) -> Result<SafetyNumber> {
    Ok(SafetyNumber {
        digits: fp
            .display_string()
            .map_err(|_| Error::Protocol("fingerprint"))?,
        scannable: fp
            .scannable
            .serialize()
            .map_err(|_| Error::Protocol("fingerprint"))?,
    })
}

/// Compares a code scanned from the contact's phone with ours. On a match
/// the contact's identity is marked verified. Returns whether it matched.
pub fn verify_scanned<S: SottoStore>(
    store: &mut S,
    contact: &ContactId,
    scanned: &[u8],
) -> Result<bool> {
    crate::session::refuse_while_key_offered(store, contact)?;
    let fp = fingerprint(store, contact)?;
    let matches = fp
        .scannable
        .compare(scanned)
        .map_err(|_| Error::InvalidSafetyCode)?;
    if matches {
        in_transaction(store, |store| store.set_identity_verified(contact, true))?;
    }
    Ok(matches)
}

/// Marks the contact's identity verified after the user compared the digits
/// by other means (read aloud, in person).
pub fn mark_verified<S: SottoStore>(store: &mut S, contact: &ContactId) -> Result<()> {
    crate::session::refuse_while_key_offered(store, contact)?;
    in_transaction(store, |store| store.set_identity_verified(contact, true))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::prekeys::{create_account, PreKeyPolicy};
    use crate::store::InMemStore;

    fn account() -> Result<(InMemStore, IdentityKey)> {
        let mut store = InMemStore::new();
        let policy = PreKeyPolicy {
            batch: 1,
            ..PreKeyPolicy::default()
        };
        let account = create_account(&mut store, &policy, SystemTime::now(), &mut rand::rng())?;
        Ok((store, *account.identity.identity_key()))
    }

    #[test]
    fn safety_numbers_with_any_identity_agree_and_scan_only_between_the_pair() -> Result<()> {
        let (alice, alice_key) = account()?;
        let (bob, bob_key) = account()?;
        let (_, carol_key) = account()?;

        let at_alice = safety_number_with(&alice, &bob_key)?;
        let at_bob = safety_number_with(&bob, &alice_key)?;
        assert_eq!(at_alice.digits, at_bob.digits);
        assert_eq!(at_alice.digits.len(), 60);
        assert_ne!(
            at_alice.digits,
            safety_number_with(&alice, &carol_key)?.digits
        );

        assert!(scanned_code_matches(&alice, &bob_key, &at_bob.scannable)?);
        assert!(!scanned_code_matches(
            &alice,
            &carol_key,
            &at_bob.scannable
        )?);
        assert!(matches!(
            scanned_code_matches(&alice, &bob_key, b"junk"),
            Err(Error::InvalidSafetyCode)
        ));
        Ok(())
    }
}
