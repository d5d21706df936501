//! PreKeyBundles on the wire: `sotto.v1.PreKeyBundle` (see `proto/sotto.proto`).
//! Signatures are not checked here; libsignal checks them when the bundle is
//! processed, and refuses a bundle whose signatures fail.

use libsignal_protocol::{kem, IdentityKey, PreKeyBundle, PublicKey};
use prost::Message as _;

use crate::error::{Error, Result};
use crate::message::proto;

const BUNDLE_VERSION: u32 = 1;

/// Serializes a PreKeyBundle for a relay, an invite or an SMS handshake.
pub fn encode_bundle(bundle: &PreKeyBundle) -> Result<Vec<u8>> {
    let one_time = bundle.pre_key_id()?.zip(bundle.pre_key_public()?);
    let message = proto::PreKeyBundle {
        version: BUNDLE_VERSION,
        registration_id: bundle.registration_id()?,
        device_id: u32::from(bundle.device_id()?),
        identity_key: bundle.identity_key()?.serialize().to_vec(),
        signed_prekey_id: u32::from(bundle.signed_pre_key_id()?),
        signed_prekey: bundle.signed_pre_key_public()?.serialize().to_vec(),
        signed_prekey_signature: bundle.signed_pre_key_signature()?.to_vec(),
        kyber_prekey_id: u32::from(bundle.kyber_pre_key_id()?),
        kyber_prekey: bundle.kyber_pre_key_public()?.serialize().to_vec(),
        kyber_prekey_signature: bundle.kyber_pre_key_signature()?.to_vec(),
        one_time_prekey_id: one_time.map(|(id, _)| u32::from(id)),
        one_time_prekey: one_time
            .map(|(_, key)| key.serialize().to_vec())
            .unwrap_or_default(),
    };
    Ok(message.encode_to_vec())
}

fn bad<E>(_: E) -> Error {
    Error::InvalidBundle
}

/// Parses a PreKeyBundle; every malformed field gives [`Error::InvalidBundle`].
pub fn decode_bundle(bytes: &[u8]) -> Result<PreKeyBundle> {
    let m = proto::PreKeyBundle::decode(bytes).map_err(|_| Error::InvalidBundle)?;
    if m.version != BUNDLE_VERSION {
        return Err(Error::InvalidBundle);
    }
    let one_time = match m.one_time_prekey_id {
        Some(id) => Some((
            id.into(),
            PublicKey::deserialize(&m.one_time_prekey).map_err(bad)?,
        )),
        None => None,
    };
    let device_id = u8::try_from(m.device_id)
        .ok()
        .and_then(|id| libsignal_protocol::DeviceId::new(id).ok())
        .ok_or(Error::InvalidBundle)?;
    PreKeyBundle::new(
        m.registration_id,
        device_id,
        one_time,
        m.signed_prekey_id.into(),
        PublicKey::deserialize(&m.signed_prekey).map_err(bad)?,
        m.signed_prekey_signature,
        m.kyber_prekey_id.into(),
        kem::PublicKey::deserialize(&m.kyber_prekey).map_err(bad)?,
        m.kyber_prekey_signature,
        IdentityKey::decode(&m.identity_key).map_err(bad)?,
    )
    .map_err(bad)
}
