//! The relay protocol's frames and the pieces both ends compute: the
//! authentication message, the trust root's signature over the relay's TLS
//! certificate, and account ids. `docs/relay-protocol.md`
//! describes every message.
//!
//! A frame is a 4-byte big-endian length and a protobuf message
//! (`proto/relay.proto`), at most [`MAX_FRAME_LEN`] bytes. Decoding never
//! panics on hostile input; it returns a [`WireError`].

use bytes::BytesMut;
use libsignal_protocol::{IdentityKey, IdentityKeyPair, PrivateKey, PublicKey, ServerCertificate};
use prost::Message as _;
use rand::{CryptoRng, Rng};
use sha2::{Digest, Sha256};
use tokio_util::codec::{Decoder, LengthDelimitedCodec};

/// The generated protobuf types of `proto/relay.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/sotto.relay.v1.rs"));
}

/// The protocol version this build speaks. Version 2 added the channel
/// binding (`server_certificate`, `channel_signature`, see
/// [`verify_channel`]) and signs it in the login ([`login_challenge`]):
/// a client of version 1 would fail to log in, so the version tells it
/// why, and this build refuses a relay that sends no binding.
pub const PROTOCOL_VERSION: u32 = 2;

/// The largest frame either side accepts (the length prefix excluded).
pub const MAX_FRAME_LEN: usize = 256 * 1024;

/// Length of the challenge nonce.
pub const NONCE_LEN: usize = 32;

/// Domain separation for the challenge signature, so a signature made for
/// the relay can never be a signature over anything else.
const AUTH_CONTEXT: &[u8] = b"sotto-relay-auth-v2";

/// The TLS exporter label (RFC 8446 §7.5) of the channel binding: both ends
/// derive the same 32 bytes from their TLS session, and no other session
/// (an impostor's towards the client, or its own towards the relay) has
/// them.
pub const CHANNEL_EXPORTER_LABEL: &[u8] = b"EXPORTER-sotto-relay-channel-v1";

/// Length of the channel binding taken from the TLS exporter.
pub const CHANNEL_BINDING_LEN: usize = 32;

/// Domain separation for the server key's signature over the channel
/// binding, so that it can never be taken for any other signature that
/// key makes (it signs sender certificates, which are protobufs).
const CHANNEL_CONTEXT: &[u8] = b"sotto relay TLS channel v1\0";

/// What can be wrong with bytes received from the other side.
#[derive(Debug, displaydoc::Display, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// frame longer than the limit
    FrameTooLong,
    /// frame is not a valid protobuf message
    Malformed,
    /// frame has no content
    Empty,
}

/// The length-delimited codec both ends use.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec()
}

/// Serializes a message as one frame body (the codec adds the length).
pub fn encode<M: prost::Message>(message: &M) -> bytes::Bytes {
    message.encode_to_vec().into()
}

/// Decodes one frame body into a client frame.
pub fn decode_client(body: &[u8]) -> Result<proto::ClientFrame, WireError> {
    let frame = proto::ClientFrame::decode(body).map_err(|_| WireError::Malformed)?;
    frame.kind.as_ref().ok_or(WireError::Empty)?;
    Ok(frame)
}

/// Decodes one frame body into a server frame.
pub fn decode_server(body: &[u8]) -> Result<proto::ServerFrame, WireError> {
    let frame = proto::ServerFrame::decode(body).map_err(|_| WireError::Malformed)?;
    frame.kind.as_ref().ok_or(WireError::Empty)?;
    Ok(frame)
}

/// Splits a byte stream into client frames, as the relay does: every frame
/// that is complete, then the first error if any. For tests and fuzzing of
/// the whole decoding path.
pub fn decode_client_stream(bytes: &[u8]) -> (Vec<proto::ClientFrame>, Option<WireError>) {
    let mut codec = codec();
    let mut buffer = BytesMut::from(bytes);
    let mut frames = Vec::new();
    loop {
        match codec.decode(&mut buffer) {
            Ok(Some(body)) => match decode_client(&body) {
                Ok(frame) => frames.push(frame),
                Err(e) => return (frames, Some(e)),
            },
            Ok(None) => return (frames, None),
            Err(_) => return (frames, Some(WireError::FrameTooLong)),
        }
    }
}

fn auth_message(challenge: &[u8]) -> Vec<u8> {
    [AUTH_CONTEXT, challenge].concat()
}

/// What a login signs: the relay's nonce and this connection's channel
/// binding (see [`sign_channel`]). With the binding, a relay a client logs
/// into cannot pass the login on to another relay: that relay's connection
/// has another binding.
pub fn login_challenge(nonce: &[u8], binding: &[u8; CHANNEL_BINDING_LEN]) -> Vec<u8> {
    [nonce, binding].concat()
}

/// Signs a [`login_challenge`] with our identity key.
pub fn sign_challenge<R: Rng + CryptoRng>(
    identity: &IdentityKeyPair,
    challenge: &[u8],
    rng: &mut R,
) -> crate::Result<Vec<u8>> {
    let signature = identity
        .private_key()
        .calculate_signature(&auth_message(challenge), rng)
        .map_err(|_| crate::Error::Protocol("signing the challenge failed"))?;
    Ok(signature.to_vec())
}

/// Checks a challenge signature; `false` for any malformed input.
pub fn verify_challenge(identity_key: &[u8], challenge: &[u8], signature: &[u8]) -> bool {
    match IdentityKey::decode(identity_key) {
        Ok(key) => key
            .public_key()
            .verify_signature(&auth_message(challenge), signature),
        Err(_) => false,
    }
}

fn channel_message(binding: &[u8; CHANNEL_BINDING_LEN]) -> Vec<u8> {
    [CHANNEL_CONTEXT, binding].concat()
}

/// The relay's side of the channel binding: its server key (the one its
/// sealed-sender server certificate names, and the trust root signed)
/// signs this connection's TLS exporter value. XEdDSA over the context
/// label and the 32 exporter bytes. Made for every connection, so a stolen
/// TLS key, or a challenge copied off another connection, proves nothing.
pub fn sign_channel<R: Rng + CryptoRng>(
    server_key: &PrivateKey,
    binding: &[u8; CHANNEL_BINDING_LEN],
    rng: &mut R,
) -> crate::Result<Vec<u8>> {
    let signature = server_key
        .calculate_signature(&channel_message(binding), rng)
        .map_err(|_| crate::Error::Protocol("signing the TLS channel failed"))?;
    Ok(signature.to_vec())
}

/// The client's side: whether `server_certificate` is signed by
/// `trust_root` and its key signed this connection's exporter value;
/// `false` for any malformed input.
pub fn verify_channel(
    trust_root: &PublicKey,
    server_certificate: &[u8],
    binding: &[u8; CHANNEL_BINDING_LEN],
    signature: &[u8],
) -> bool {
    let Ok(certificate) = ServerCertificate::deserialize(server_certificate) else {
        return false;
    };
    if !certificate.validate(trust_root).unwrap_or(false) {
        return false;
    }
    certificate
        .public_key()
        .is_ok_and(|key| key.verify_signature(&channel_message(binding), signature))
}

/// The account id the relay uses in sender certificates: a UUID string made
/// from the SHA-256 of the identity key. It names the key, nothing more.
pub fn account_uuid(identity_key: &IdentityKey) -> String {
    let digest = Sha256::digest(identity_key.serialize());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn frames_round_trip() {
        let frame = proto::ClientFrame {
            kind: Some(proto::client_frame::Kind::Request(proto::Request {
                id: 7,
                body: Some(proto::request::Body::Ping(proto::Ping {})),
            })),
        };
        let bytes = framed(&encode(&frame));
        let (frames, error) = decode_client_stream(&bytes);
        assert_eq!(frames, vec![frame]);
        assert_eq!(error, None);
    }

    #[test]
    fn oversized_and_empty_frames_are_errors() {
        let mut huge = ((MAX_FRAME_LEN + 1) as u32).to_be_bytes().to_vec();
        huge.extend_from_slice(&[0; 16]);
        assert_eq!(decode_client_stream(&huge).1, Some(WireError::FrameTooLong));
        assert_eq!(decode_client_stream(&framed(&[])).1, Some(WireError::Empty));
        assert_eq!(
            decode_client_stream(&framed(&[0xFF, 0xFF])).1,
            Some(WireError::Malformed)
        );
    }

    #[test]
    fn challenge_signatures_verify_only_for_their_nonce_and_key() {
        let mut rng = rand::rng();
        let identity = IdentityKeyPair::generate(&mut rng);
        let other = IdentityKeyPair::generate(&mut rng);
        let key = identity.identity_key().serialize();
        let signature = sign_challenge(&identity, &[1; NONCE_LEN], &mut rng).expect("sign");
        assert!(verify_challenge(&key, &[1; NONCE_LEN], &signature));
        assert!(!verify_challenge(&key, &[2; NONCE_LEN], &signature));
        assert!(!verify_challenge(
            &other.identity_key().serialize(),
            &[1; NONCE_LEN],
            &signature
        ));
        assert!(!verify_challenge(b"junk", &[1; NONCE_LEN], &signature));

        // A login made on one connection does not verify on another with
        // the same nonce: the channel binding differs.
        let here = login_challenge(&[1; NONCE_LEN], &[2; CHANNEL_BINDING_LEN]);
        let there = login_challenge(&[1; NONCE_LEN], &[3; CHANNEL_BINDING_LEN]);
        let signature = sign_challenge(&identity, &here, &mut rng).expect("sign");
        assert!(verify_challenge(&key, &here, &signature));
        assert!(!verify_challenge(&key, &there, &signature));
    }

    #[test]
    fn channel_signatures_verify_only_for_their_channel_and_root() {
        let mut rng = rand::rng();
        let root = libsignal_protocol::KeyPair::generate(&mut rng);
        let other_root = libsignal_protocol::KeyPair::generate(&mut rng);
        let server = libsignal_protocol::KeyPair::generate(&mut rng);
        let certificate = ServerCertificate::new(1, server.public_key, &root.private_key, &mut rng)
            .expect("certificate");
        let certificate = certificate.serialized().expect("serialized").to_vec();
        let binding = [7; CHANNEL_BINDING_LEN];
        let signature = sign_channel(&server.private_key, &binding, &mut rng).expect("sign");
        assert!(verify_channel(
            &root.public_key,
            &certificate,
            &binding,
            &signature
        ));
        // Another connection, another trust root, no certificate, no
        // signature, or a signature by a key the trust root never signed.
        let refused = [
            (
                &root.public_key,
                &certificate[..],
                [8; CHANNEL_BINDING_LEN],
                &signature[..],
            ),
            (
                &other_root.public_key,
                &certificate[..],
                binding,
                &signature[..],
            ),
            (&root.public_key, &[][..], binding, &signature[..]),
            (&root.public_key, &certificate[..], binding, &[][..]),
        ];
        for (trust_root, certificate, binding, signature) in refused {
            assert!(!verify_channel(
                trust_root,
                certificate,
                &binding,
                signature
            ));
        }
        let rogue = libsignal_protocol::KeyPair::generate(&mut rng);
        let rogue_signature = sign_channel(&rogue.private_key, &binding, &mut rng).expect("sign");
        assert!(!verify_channel(
            &root.public_key,
            &certificate,
            &binding,
            &rogue_signature
        ));
    }

    #[test]
    fn account_uuid_is_stable_and_distinct() {
        let mut rng = rand::rng();
        let a = IdentityKeyPair::generate(&mut rng);
        let b = IdentityKeyPair::generate(&mut rng);
        assert_eq!(
            account_uuid(a.identity_key()),
            account_uuid(a.identity_key())
        );
        assert_ne!(
            account_uuid(a.identity_key()),
            account_uuid(b.identity_key())
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_client_stream(&bytes);
            let _ = decode_server(&bytes);
        }

        #[test]
        fn any_split_of_a_valid_stream_decodes_the_same(id in any::<u64>(), cut in 0usize..64) {
            let frame = proto::ClientFrame {
                kind: Some(proto::client_frame::Kind::Request(proto::Request {
                    id,
                    body: Some(proto::request::Body::Ack(proto::Ack { envelope_id: id })),
                })),
            };
            let bytes = [framed(&encode(&frame)), framed(&encode(&frame))].concat();
            let cut = cut.min(bytes.len());
            let mut codec = codec();
            let mut buffer = BytesMut::from(&bytes[..cut]);
            let mut got = Vec::new();
            while let Ok(Some(body)) = codec.decode(&mut buffer) { got.push(decode_client(&body).expect("valid")); }
            buffer.extend_from_slice(&bytes[cut..]);
            while let Ok(Some(body)) = codec.decode(&mut buffer) { got.push(decode_client(&body).expect("valid")); }
            prop_assert_eq!(got, vec![frame.clone(), frame]);
        }
    }
}
