//! The form of uploaded prekeys, checked before anything is stored.
//!
//! The relay hands these keys to strangers, and stores them on its disk, so
//! every one must be exactly what a Sotto client makes: an X25519 public key
//! in libsignal's 33-byte form, or a Kyber-1024 public key in its 1,569-byte
//! form, and, for the signed EC prekey and every Kyber prekey, a 64-byte
//! XEdDSA signature by the account's own identity key (the account *is* that
//! key). A key with trailing bytes, another KEM, or a signature by anyone
//! else is refused, so an upload cannot smuggle bulk data onto the relay and
//! a bundle the relay serves never fails the fetcher's own checks.

use libsignal_protocol::{kem, IdentityKey, PublicKey};
use sotto_core::relay::wire::proto;

/// The only KEM Sotto clients use for their Kyber prekeys.
const KYBER_TYPE: kem::KeyType = kem::KeyType::Kyber1024;

/// Length of a serialized X25519 public key (type byte and 32 bytes).
const EC_KEY_LEN: usize = 33;

/// Length of an XEdDSA signature.
const SIGNATURE_LEN: usize = 64;

/// Why an upload was refused. Carries no key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, displaydoc::Display, thiserror::Error)]
pub enum InvalidUpload {
    /// an EC prekey is not a canonical 33-byte X25519 public key
    EcKey,
    /// a Kyber prekey is not a canonical Kyber-1024 public key
    KyberKey,
    /// a one-time EC prekey carries a signature
    UnexpectedSignature,
    /// a signed prekey's signature is not the account's identity key's
    BadSignature,
}

/// Checks every key of `upload` for the account `identity`.
pub fn check_upload(
    identity: &IdentityKey,
    upload: &proto::UploadPreKeys,
) -> Result<(), InvalidUpload> {
    // The cheap checks of every key first, so that a malformed upload
    // costs no signature verification.
    if let Some(key) = &upload.signed_prekey {
        check_ec(&key.public_key)?;
    }
    for key in &upload.one_time_prekeys {
        check_ec(&key.public_key)?;
        if !key.signature.is_empty() {
            return Err(InvalidUpload::UnexpectedSignature);
        }
    }
    let kyber_keys = || {
        upload
            .kyber_last_resort
            .iter()
            .chain(&upload.one_time_kyber_prekeys)
    };
    for key in kyber_keys() {
        check_kyber(&key.public_key)?;
    }
    for key in upload.signed_prekey.iter().chain(kyber_keys()) {
        check_signature(identity, key)?;
    }
    Ok(())
}

fn check_ec(bytes: &[u8]) -> Result<(), InvalidUpload> {
    // libsignal accepts (and logs) trailing bytes after an EC key; the
    // relay must not store them, so the length is checked first and the
    // key must re-serialize to itself.
    if bytes.len() != EC_KEY_LEN {
        return Err(InvalidUpload::EcKey);
    }
    match PublicKey::deserialize(bytes) {
        Ok(key) if *key.serialize() == *bytes => Ok(()),
        _ => Err(InvalidUpload::EcKey),
    }
}

fn check_kyber(bytes: &[u8]) -> Result<(), InvalidUpload> {
    match kem::PublicKey::deserialize(bytes) {
        Ok(key) if key.key_type() == KYBER_TYPE && *key.serialize() == *bytes => Ok(()),
        _ => Err(InvalidUpload::KyberKey),
    }
}

fn check_signature(identity: &IdentityKey, key: &proto::SignedKey) -> Result<(), InvalidUpload> {
    let signed = key.signature.len() == SIGNATURE_LEN
        && identity
            .public_key()
            .verify_signature(&key.public_key, &key.signature);
    signed.then_some(()).ok_or(InvalidUpload::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use libsignal_protocol::{IdentityKeyPair, KeyPair};

    struct Keys {
        identity: IdentityKeyPair,
        upload: proto::UploadPreKeys,
    }

    /// A valid upload, made the way a Sotto client makes one.
    fn valid() -> Keys {
        let mut rng = rand::rng();
        let identity = IdentityKeyPair::generate(&mut rng);
        let sign = |bytes: &[u8]| -> Vec<u8> {
            identity
                .private_key()
                .calculate_signature(bytes, &mut rand::rng())
                .expect("sign")
                .to_vec()
        };
        let signed_ec = KeyPair::generate(&mut rng).public_key.serialize().to_vec();
        let kyber = || {
            kem::KeyPair::generate(KYBER_TYPE, &mut rand::rng())
                .public_key
                .serialize()
                .to_vec()
        };
        let (last_resort, one_time_kyber) = (kyber(), kyber());
        let upload = proto::UploadPreKeys {
            signed_prekey: Some(proto::SignedKey {
                id: 1,
                signature: sign(&signed_ec),
                public_key: signed_ec,
            }),
            kyber_last_resort: Some(proto::SignedKey {
                id: 2,
                signature: sign(&last_resort),
                public_key: last_resort,
            }),
            one_time_prekeys: vec![proto::SignedKey {
                id: 3,
                public_key: KeyPair::generate(&mut rng).public_key.serialize().to_vec(),
                signature: Vec::new(),
            }],
            one_time_kyber_prekeys: vec![proto::SignedKey {
                id: 4,
                signature: sign(&one_time_kyber),
                public_key: one_time_kyber,
            }],
        };
        Keys { identity, upload }
    }

    #[test]
    fn a_client_made_upload_passes() {
        let keys = valid();
        assert_eq!(
            check_upload(keys.identity.identity_key(), &keys.upload),
            Ok(())
        );
    }

    #[test]
    fn keys_of_the_wrong_size_or_kind_are_refused() {
        let keys = valid();
        let check = |change: &dyn Fn(&mut proto::UploadPreKeys)| {
            let mut upload = keys.upload.clone();
            change(&mut upload);
            check_upload(keys.identity.identity_key(), &upload)
        };
        assert_eq!(
            check(&|u| u.one_time_prekeys[0].public_key.push(0)),
            Err(InvalidUpload::EcKey)
        );
        assert_eq!(
            check(&|u| u.one_time_prekeys[0].public_key = vec![5; 200 * 1024]),
            Err(InvalidUpload::EcKey)
        );
        assert_eq!(
            check(&|u| u.one_time_prekeys[0].signature = vec![0; 64]),
            Err(InvalidUpload::UnexpectedSignature)
        );
        assert_eq!(
            check(&|u| u.one_time_kyber_prekeys[0].public_key.push(0)),
            Err(InvalidUpload::KyberKey)
        );
        // An EC key where a Kyber key belongs.
        assert_eq!(
            check(&|u| u.kyber_last_resort = u.signed_prekey.clone()),
            Err(InvalidUpload::KyberKey)
        );
        assert_eq!(
            check(&|u| {
                if let Some(key) = u.signed_prekey.as_mut() {
                    key.signature.push(0)
                }
            }),
            Err(InvalidUpload::BadSignature)
        );
    }

    #[test]
    fn signatures_by_another_identity_are_refused() {
        let keys = valid();
        let other = IdentityKeyPair::generate(&mut rand::rng());
        assert_eq!(
            check_upload(other.identity_key(), &keys.upload),
            Err(InvalidUpload::BadSignature)
        );
    }
}
