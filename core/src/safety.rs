//! Safety numbers: libsignal fingerprints of our identity and a contact's,
//! as 60 digits to read aloud and as a code to scan.
//!
//! Both sides must compute the same number, so the stable identifiers fed to
//! the fingerprint are the identity keys themselves (Sotto has no phone-number
//! or account-id identity that both sides agree on).

use libsignal_protocol::Fingerprint;

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
    let account = store.local_account()?.ok_or(Error::NoAccount)?;
    let theirs = store.identity_record(contact)?.ok_or(Error::NoSession)?.key;
    let ours = *account.identity.identity_key();
    Fingerprint::new(
        FINGERPRINT_VERSION,
        FINGERPRINT_ITERATIONS,
        &ours.serialize(),
        &ours,
        &theirs.serialize(),
        &theirs,
    )
    .map_err(|_| Error::Protocol("fingerprint"))
}

/// The safety number of our identity and `contact`'s trusted identity.
pub fn safety_number<S: SottoStore>(store: &S, contact: &ContactId) -> Result<SafetyNumber> {
    let fp = fingerprint(store, contact)?;
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
    in_transaction(store, |store| store.set_identity_verified(contact, true))
}
