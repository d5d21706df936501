//! The locked inbox: SMS that arrive while the store is closed (the phone
//! locked, the database key not in memory) wait in a spool file until the
//! next unlock. The app seals each one to the account's locked-inbox public
//! key, which it keeps in the clear beside the database; the private key
//! lives only in the encrypted store. So the spool holds nothing but
//! ciphertext (no number, no text) for anyone who reads the phone's storage
//! while it is locked, and only the unlocked account can open it.
//!
//! Sealing is HPKE in base mode (RFC 9180: X25519, HKDF-SHA256,
//! AES-256-GCM) through libsignal's `signal-crypto`; the info string binds
//! every box to this use.

use libsignal_protocol::{PrivateKey, PublicKey};
use signal_crypto::{SimpleHpkeReceiver, SimpleHpkeSender};

use crate::error::{Error, Result};

/// Binds a box to the locked inbox, so it opens nowhere else.
const INFO: &[u8] = b"Sotto locked inbox v1";

/// The largest record sealed: far above an SMS joined from 255 parts with
/// its sender and time.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// Seals `record` to `public_key` (the locked-inbox key in libsignal's
/// 33-byte form). Needs no store, so it works while the account is locked.
pub fn seal(public_key: &[u8], record: &[u8]) -> Result<Vec<u8>> {
    if record.len() > MAX_RECORD_BYTES {
        return Err(Error::MessageTooLong);
    }
    let key = PublicKey::deserialize(public_key).map_err(|_| Error::InvalidLockedInboxKey)?;
    key.seal(INFO, &[], record)
        .map_err(|_| Error::Protocol("locked inbox sealing failed"))
}

/// Opens a box made by [`seal`] for the key pair of `private_key`.
/// [`Error::Undecryptable`] for a box that is damaged, made for another
/// key, or not a locked-inbox box.
pub fn open(private_key: &PrivateKey, sealed: &[u8]) -> Result<Vec<u8>> {
    private_key
        .open(INFO, &[], sealed)
        .map_err(|_| Error::Undecryptable("not a locked-inbox box for this account"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_opens_only_with_its_key_and_whole() -> Result<()> {
        let mut rng = rand::rng();
        let ours = libsignal_protocol::KeyPair::generate(&mut rng);
        let theirs = libsignal_protocol::KeyPair::generate(&mut rng);
        let record = b"+4930901820 Dinner on Sunday?";
        let sealed = seal(&ours.public_key.serialize(), record)?;
        assert!(
            !sealed.windows(8).any(|w| record.windows(8).any(|r| r == w)),
            "nothing of the record shows"
        );
        assert_eq!(open(&ours.private_key, &sealed)?, record);
        assert!(matches!(
            open(&theirs.private_key, &sealed),
            Err(Error::Undecryptable(_))
        ));
        for i in [0, 1, 33, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[i] ^= 1;
            assert!(open(&ours.private_key, &flipped).is_err(), "byte {i}");
        }
        assert!(open(&ours.private_key, &sealed[..sealed.len() - 1]).is_err());
        assert!(matches!(
            seal(b"not a key", record),
            Err(Error::InvalidLockedInboxKey)
        ));
        assert!(matches!(
            seal(&ours.public_key.serialize(), &vec![0; MAX_RECORD_BYTES + 1]),
            Err(Error::MessageTooLong)
        ));
        Ok(())
    }
}
