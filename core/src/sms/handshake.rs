//! The discovery handshake: two phone numbers become two Sotto contacts
//! with a Signal session, over nothing but SMS.
//!
//! ```text
//! A → B  Hello            A's prekey bundle (public keys, 1,799 bytes)     15 texts
//! B → A  PreKey envelope  ContactHandshake { B's relay, wants_reply }   15–16 texts
//! A → B  Signal envelope  ContactHandshake { "same" | "follows" | none }    1 text
//! A → B  A's next text by SMS, with Content.sender_relay = A's relay (across relays)
//! ```
//!
//! At most 32 SMS until both sides hold a confirmed session. Across relays
//! A's address (~55 bytes) does not fit the one-text third leg, so the leg
//! promises it (`relay_follows`) and it rides in A's next text (two at
//! most): usually the text A started the handshake for, or, when A sends
//! nothing within
//! [`super::SmsConfig::hello_retry`], a ContactHandshake of its own
//! (`docs/sms-transport.md`, "Why the relay follows").
//!
//! B starts its session from A's bundle (PQXDH), so B's answer is a PreKey
//! message that A decrypts with the prekeys it handed out; the third leg
//! confirms B's session, after which B's texts are short Signal messages
//! rather than 1.8 KB PreKey messages. A contact on the same relay says so
//! in one bit instead of repeating the address. Relay addresses travel only inside
//! the session, so the carrier never sees them; the relay never sees phone
//! numbers. Identity keys are trusted on first use, as for every contact;
//! a number that comes back with a different identity is refused until the
//! user re-trusts it (`session::trust_new_identity`).

use std::time::SystemTime;

use libsignal_protocol::{kem, IdentityKey, PreKeyBundle, PublicKey};
use rand::{CryptoRng, Rng};

use super::frame::SmsFrame;
use crate::error::{Error, Result};
use crate::message::{Body, ContactHandshake};
use crate::messaging::{self, Outgoing};
use crate::relay::invite::RelayInvite;
use crate::store::{ContactId, SottoStore};
use crate::{prekeys, session, DEVICE_ID};

/// A hello carrying one of our prekey bundles (it uses up one one-time EC
/// prekey and one one-time ML-KEM prekey, as any bundle hand-out does).
pub fn hello<S: SottoStore>(store: &mut S) -> Result<SmsFrame> {
    let bundle = prekeys::take_prekey_bundle(store)?;
    Ok(SmsFrame::Hello {
        bundle: encode_compact_bundle(&bundle)?,
    })
}

/// X25519 public keys on the wire are 32 bytes; libsignal's serialized form
/// adds this type byte in front.
const DJB_TYPE: u8 = 0x05;
/// The type byte of an ML-KEM-1024 public key in libsignal's serialized form.
const KYBER1024_TYPE: u8 = 0x08;
const X25519_LEN: usize = 32;
const KYBER1024_LEN: usize = 1568;
const SIGNATURE_LEN: usize = 64;

/// A PreKeyBundle in the fewest bytes, for SMS (21 fewer than the protobuf
/// form of `encode_bundle`): every key has a fixed length and a known type,
/// so neither tags, lengths nor type bytes are sent, and the device id is
/// always Sotto's one device.
///
/// ```text
/// registration id  u16 big-endian
/// identity key     32           X25519
/// signed prekey    varint id, 32, signature 64
/// ML-KEM prekey    varint id, 1568, signature 64
/// one-time prekey  0 | 1, varint id, 32
/// ```
pub fn encode_compact_bundle(bundle: &PreKeyBundle) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1801);
    let registration =
        u16::try_from(bundle.registration_id()?).map_err(|_| Error::InvalidBundle)?;
    out.extend_from_slice(&registration.to_be_bytes());
    push_key(&mut out, &bundle.identity_key()?.serialize(), DJB_TYPE)?;
    prost::encoding::encode_varint(u32::from(bundle.signed_pre_key_id()?).into(), &mut out);
    push_key(
        &mut out,
        &bundle.signed_pre_key_public()?.serialize(),
        DJB_TYPE,
    )?;
    push_signature(&mut out, bundle.signed_pre_key_signature()?)?;
    prost::encoding::encode_varint(u32::from(bundle.kyber_pre_key_id()?).into(), &mut out);
    push_key(
        &mut out,
        &bundle.kyber_pre_key_public()?.serialize(),
        KYBER1024_TYPE,
    )?;
    push_signature(&mut out, bundle.kyber_pre_key_signature()?)?;
    match bundle.pre_key_id()?.zip(bundle.pre_key_public()?) {
        Some((id, key)) => {
            out.push(1);
            prost::encoding::encode_varint(u32::from(id).into(), &mut out);
            push_key(&mut out, &key.serialize(), DJB_TYPE)?;
        }
        None => out.push(0),
    }
    Ok(out)
}

fn push_key(out: &mut Vec<u8>, serialized: &[u8], key_type: u8) -> Result<()> {
    match serialized.split_first() {
        Some((&t, key)) if t == key_type => {
            out.extend_from_slice(key);
            Ok(())
        }
        _ => Err(Error::InvalidBundle),
    }
}

fn push_signature(out: &mut Vec<u8>, signature: &[u8]) -> Result<()> {
    if signature.len() != SIGNATURE_LEN {
        return Err(Error::InvalidBundle);
    }
    out.extend_from_slice(signature);
    Ok(())
}

/// Reads what [`encode_compact_bundle`] wrote; anything malformed is
/// [`Error::InvalidBundle`]. Signatures are checked when the bundle is used.
pub fn decode_compact_bundle(bytes: &[u8]) -> Result<PreKeyBundle> {
    let mut rest = bytes;
    let registration = u16::from_be_bytes(take(&mut rest)?);
    let identity = IdentityKey::decode(&typed(DJB_TYPE, &take::<X25519_LEN>(&mut rest)?))
        .map_err(|_| Error::InvalidBundle)?;
    let signed_id = varint(&mut rest)?;
    let signed = x25519(&take::<X25519_LEN>(&mut rest)?)?;
    let signed_signature = take::<SIGNATURE_LEN>(&mut rest)?.to_vec();
    let kyber_id = varint(&mut rest)?;
    let kyber =
        kem::PublicKey::deserialize(&typed(KYBER1024_TYPE, &take::<KYBER1024_LEN>(&mut rest)?))
            .map_err(|_| Error::InvalidBundle)?;
    let kyber_signature = take::<SIGNATURE_LEN>(&mut rest)?.to_vec();
    let one_time = match take::<1>(&mut rest)? {
        [0] => None,
        [1] => {
            let id = varint(&mut rest)?;
            Some((id.into(), x25519(&take::<X25519_LEN>(&mut rest)?)?))
        }
        _ => return Err(Error::InvalidBundle),
    };
    if !rest.is_empty() {
        return Err(Error::InvalidBundle);
    }
    PreKeyBundle::new(
        u32::from(registration),
        DEVICE_ID,
        one_time,
        signed_id.into(),
        signed,
        signed_signature,
        kyber_id.into(),
        kyber,
        kyber_signature,
        identity,
    )
    .map_err(|_| Error::InvalidBundle)
}

fn take<const N: usize>(rest: &mut &[u8]) -> Result<[u8; N]> {
    let (head, tail) = rest.split_first_chunk::<N>().ok_or(Error::InvalidBundle)?;
    *rest = tail;
    Ok(*head)
}

fn typed(key_type: u8, key: &[u8]) -> Vec<u8> {
    [&[key_type][..], key].concat()
}

fn x25519(key: &[u8; X25519_LEN]) -> Result<PublicKey> {
    PublicKey::deserialize(&typed(DJB_TYPE, key)).map_err(|_| Error::InvalidBundle)
}

fn varint(rest: &mut &[u8]) -> Result<u32> {
    let value = prost::encoding::decode_varint(rest).map_err(|_| Error::InvalidBundle)?;
    u32::try_from(value).map_err(|_| Error::InvalidBundle)
}

/// Parses a hello's bundle and checks both prekey signatures against its
/// identity key, so that a forged hello is refused before anything is
/// stored (libsignal checks them again when the session starts).
pub fn check_hello(bundle: &[u8]) -> Result<PreKeyBundle> {
    let bundle = decode_compact_bundle(bundle)?;
    let identity = bundle.identity_key()?;
    let signed_ok = identity.public_key().verify_signature(
        &bundle.signed_pre_key_public()?.serialize(),
        bundle.signed_pre_key_signature()?,
    );
    let kyber_ok = identity.public_key().verify_signature(
        &bundle.kyber_pre_key_public()?.serialize(),
        bundle.kyber_pre_key_signature()?,
    );
    if signed_ok && kyber_ok {
        Ok(bundle)
    } else {
        Err(Error::InvalidBundle)
    }
}

/// Answers a hello from `contact`: starts a session from their bundle (see
/// [`check_hello`]) and sends our side of the handshake, asking for theirs
/// in return.
///
/// Fails with `Error::InvalidBundle` for a bundle whose signatures do not
/// verify and `Error::UntrustedIdentity` if the contact had another identity.
pub fn answer<S, R>(
    store: &mut S,
    contact: &ContactId,
    bundle: &PreKeyBundle,
    own_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    session::start_session(store, contact, bundle, now, rng)?;
    our_side(store, contact, own_relay, true, now, rng).map(|(outgoing, _)| outgoing)
}

/// Sends our side of the handshake over an existing session. In the third
/// leg (`wants_reply` false) our relay is never repeated: when it is the
/// one the contact just told us about we say "same relay", otherwise that
/// it follows with our next message ([`ContactHandshake::relay_follows`],
/// see [`relay_rider`]). That keeps the third leg to one SMS. Returns what
/// was sent with the envelope.
pub fn our_side<S, R>(
    store: &mut S,
    contact: &ContactId,
    own_relay: Option<&RelayInvite>,
    wants_reply: bool,
    now: SystemTime,
    rng: &mut R,
) -> Result<(Outgoing, ContactHandshake)>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let theirs = store.contact(contact)?.and_then(|c| c.relay);
    let last_leg = !wants_reply && own_relay.is_some();
    let same = last_leg && own_relay == theirs.as_ref();
    let handshake = ContactHandshake {
        relay: if last_leg { None } else { own_relay.cloned() },
        wants_reply,
        same_relay_as_yours: same,
        relay_follows: last_leg && !same,
    };
    let body = Body::ContactHandshake(handshake.clone());
    let outgoing = messaging::send_body(store, contact, body, now, rng)?;
    Ok((outgoing, handshake))
}

/// The ContactHandshake that delivers a relay promised with
/// [`ContactHandshake::relay_follows`], when no text of ours carried it
/// ([`messaging::send_text_with_relay`] is the usual way).
pub fn relay_rider<S, R>(
    store: &mut S,
    contact: &ContactId,
    own_relay: &RelayInvite,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let handshake = ContactHandshake {
        relay: Some(own_relay.clone()),
        ..ContactHandshake::default()
    };
    messaging::send_body(store, contact, Body::ContactHandshake(handshake), now, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InMemStore;
    use proptest::prelude::*;

    fn store() -> InMemStore {
        let mut store = InMemStore::new();
        let policy = prekeys::PreKeyPolicy {
            batch: 2,
            low_water: 1,
            ..Default::default()
        };
        prekeys::create_account(&mut store, &policy, SystemTime::now(), &mut rand::rng())
            .expect("account");
        store
    }

    #[test]
    fn compact_bundles_round_trip_and_are_smaller() -> Result<()> {
        let mut store = store();
        for _ in 0..3 {
            // The third bundle has no one-time EC prekey left.
            let bundle = prekeys::take_prekey_bundle(&mut store)?;
            let compact = encode_compact_bundle(&bundle)?;
            let decoded = decode_compact_bundle(&compact)?;
            assert_eq!(encode_compact_bundle(&decoded)?, compact);
            assert_eq!(
                crate::encode_bundle(&decoded)?,
                crate::encode_bundle(&bundle)?
            );
            assert!(compact.len() < crate::encode_bundle(&bundle)?.len());
            assert!(compact.len() <= 1801 + 6);
            assert!(decode_compact_bundle(&compact[..compact.len() - 1]).is_err());
            assert!(decode_compact_bundle(&[&compact[..], &[0][..]].concat()).is_err());
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = decode_compact_bundle(&data);
        }
    }
}
