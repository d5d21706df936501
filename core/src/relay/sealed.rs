//! Sealed sender: our envelopes wrapped with libsignal's sealed sender (v1)
//! for the relay, so that the relay learns the recipient and never the
//! sender. The sender proves who it is to the *recipient* with a sender
//! certificate that the relay issued to its authenticated account and that
//! chains up to the relay's trust root from the invite.

use std::time::SystemTime;

use libsignal_protocol::{
    sealed_sender_decrypt_to_usmc, sealed_sender_encrypt_from_usmc, CiphertextMessageType,
    ContentHint, IdentityKey, PublicKey, SenderCertificate, Timestamp,
    UnidentifiedSenderMessageContent,
};
use rand::{CryptoRng, Rng};

use crate::error::{Error, Result};
use crate::message::{Envelope, EnvelopeKind};
use crate::store::{ContactId, SottoStore};
use crate::{address_of, block_on, millis};

/// An unsealed relay message: who sent it (as their certificate says) and
/// the envelope inside, not yet decrypted.
#[derive(Clone, Debug)]
pub struct Unsealed {
    /// The sender's identity key, from their certificate.
    pub sender: IdentityKey,
    /// The Signal envelope inside.
    pub envelope: Envelope,
}

/// Seals an envelope for `contact` with our sender certificate.
pub fn seal<S: SottoStore, R: Rng + CryptoRng>(
    store: &S,
    contact: &ContactId,
    envelope: &Envelope,
    certificate: &SenderCertificate,
    rng: &mut R,
) -> Result<Vec<u8>> {
    let kind = match envelope.kind {
        EnvelopeKind::PreKey => CiphertextMessageType::PreKey,
        EnvelopeKind::Signal => CiphertextMessageType::Whisper,
        EnvelopeKind::SenderKey => CiphertextMessageType::SenderKey,
    };
    let content = UnidentifiedSenderMessageContent::new(
        kind,
        certificate.clone(),
        envelope.ciphertext.clone(),
        ContentHint::Resendable,
        None,
    )?;
    Ok(block_on(sealed_sender_encrypt_from_usmc(
        &address_of(contact),
        &content,
        store,
        rng,
    ))?)
}

/// Opens a sealed message addressed to us and checks the sender's
/// certificate against the relay's trust root at `now`.
pub fn unseal<S: SottoStore>(
    store: &S,
    payload: &[u8],
    trust_root: &PublicKey,
    now: SystemTime,
) -> Result<Unsealed> {
    let content = block_on(sealed_sender_decrypt_to_usmc(payload, store))
        .map_err(|_| Error::Undecryptable("sealed sender"))?;
    let certificate = content.sender()?;
    let valid = certificate
        .validate(trust_root, Timestamp::from_epoch_millis(millis(now)))
        .unwrap_or(false);
    if !valid {
        return Err(Error::InvalidSenderCertificate);
    }
    let kind = match content.msg_type()? {
        CiphertextMessageType::PreKey => EnvelopeKind::PreKey,
        CiphertextMessageType::Whisper => EnvelopeKind::Signal,
        CiphertextMessageType::SenderKey => EnvelopeKind::SenderKey,
        _ => return Err(Error::MalformedEnvelope("unexpected sealed message type")),
    };
    Ok(Unsealed {
        sender: IdentityKey::new(certificate.key()?),
        envelope: Envelope {
            kind,
            ciphertext: content.contents()?.to_vec(),
        },
    })
}
