//! What one reassembled SMS payload says. The first byte tells:
//!
//! | first byte | frame | rest |
//! |---|---|---|
//! | `0x11`, `0x12`, `0x13` | an [`Envelope`] (PreKey / Signal / SenderKey), byte for byte; group texts go by SMS 1:1, so a sender never puts `0x13` on the air | the ciphertext |
//! | `0xA3` | [`SmsFrame::Hello`]: "let us talk Sotto", handshake version 2 | our compact prekey bundle (`handshake::encode_compact_bundle`) |
//! | `0xA1` | a hello of handshake version 1, refused ([`Error::MalformedSms`]) | |
//! | `0xA2` | [`SmsFrame::ResendRequest`] | wire id (3 bytes), part count, nonce, bitmap of missing parts (none: all, encrypted afresh) |
//!
//! Envelopes reuse their own header byte, so an encrypted text pays no
//! extra byte for travelling by SMS. Hello and resend requests are not
//! encrypted: a hello carries only public keys (signed by the identity key,
//! which the answer authenticates), and a resend request only a wire id.
//!
//! The hello's byte is the handshake version. Version 2 sends the opener's
//! relay after its third leg (`ContactHandshake.relay_follows`, then
//! `Content.sender_relay`); a version-1 device would ignore both and never
//! learn the relay, so the two refuse each other's hellos rather than
//! complete a handshake that silently lacks it.

use super::segment::{WireId, MAX_PARTS};
use crate::error::{Error, Result};
use crate::message::Envelope;

const HELLO: u8 = 0xA3;
/// The hello of handshake version 1 (the relay inside the third leg).
const HELLO_V1: u8 = 0xA1;
const RESEND: u8 = 0xA2;

/// One SMS-level message.
#[derive(Clone, PartialEq, Eq)]
pub enum SmsFrame {
    /// An encrypted Sotto envelope.
    Envelope(Envelope),
    /// The opening of a discovery handshake: the sender's prekey bundle.
    Hello {
        /// The encoded bundle (see [`crate::encode_bundle`]).
        bundle: Vec<u8>,
    },
    /// "Send these parts of that message again."
    ResendRequest {
        /// The message.
        id: WireId,
        /// Its part count.
        count: u8,
        /// The part indexes missing, ascending; empty asks for the whole
        /// message encrypted afresh (it was complete but undecryptable).
        missing: Vec<u8>,
        /// Differs between requests, so that asking twice for the same
        /// parts is not taken for a duplicated SMS.
        nonce: u8,
    },
}

impl std::fmt::Debug for SmsFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsFrame::Envelope(e) => write!(f, "Envelope({e:?})"),
            SmsFrame::Hello { bundle } => write!(f, "Hello({} bytes)", bundle.len()),
            SmsFrame::ResendRequest {
                id, count, missing, ..
            } => write!(f, "ResendRequest({id:?}, {} of {count})", missing.len()),
        }
    }
}

impl SmsFrame {
    /// The payload bytes handed to [`super::SmsCodec`].
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SmsFrame::Envelope(envelope) => envelope.to_bytes(),
            SmsFrame::Hello { bundle } => [&[HELLO][..], bundle].concat(),
            SmsFrame::ResendRequest {
                id,
                count,
                missing,
                nonce,
            } => {
                let mut out = vec![RESEND];
                out.extend_from_slice(&id.0.to_be_bytes()[1..]);
                out.push(*count);
                out.push(*nonce);
                let mut bitmap = vec![0u8; usize::from(*count).div_ceil(8)];
                for &index in missing {
                    if index < *count {
                        bitmap[usize::from(index / 8)] |= 1 << (index % 8);
                    }
                }
                out.extend_from_slice(&bitmap);
                out
            }
        }
    }

    /// Parses a reassembled payload.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        match bytes.first() {
            Some(&HELLO) => {
                let bundle = bytes[1..].to_vec();
                if bundle.is_empty() {
                    return Err(Error::MalformedSms("empty hello"));
                }
                Ok(SmsFrame::Hello { bundle })
            }
            Some(&HELLO_V1) => Err(Error::MalformedSms("hello of handshake version 1")),
            Some(&RESEND) => {
                let [_, a, b, c, count, nonce, bitmap @ ..] = bytes else {
                    return Err(Error::MalformedSms("short resend request"));
                };
                let id = u32::from_be_bytes([0, *a, *b, *c]);
                if id >= 1 << 18 || *count == 0 || usize::from(*count) > MAX_PARTS {
                    return Err(Error::MalformedSms("bad resend request"));
                }
                if bitmap.len() != usize::from(*count).div_ceil(8) {
                    return Err(Error::MalformedSms("bad resend bitmap"));
                }
                // Bits past the part count must be clear: one form per request.
                let spare = bitmap.len() * 8 - usize::from(*count);
                if spare > 0 && bitmap[bitmap.len() - 1] >> (8 - spare) != 0 {
                    return Err(Error::MalformedSms("bad resend bitmap"));
                }
                let missing = (0..*count)
                    .filter(|i| bitmap[usize::from(i / 8)] & (1 << (i % 8)) != 0)
                    .collect();
                Ok(SmsFrame::ResendRequest {
                    id: WireId(id),
                    count: *count,
                    missing,
                    nonce: *nonce,
                })
            }
            Some(_) => Envelope::from_bytes(bytes).map(SmsFrame::Envelope),
            None => Err(Error::MalformedSms("empty payload")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::EnvelopeKind;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip() -> Result<()> {
        for frame in [
            SmsFrame::Envelope(Envelope {
                kind: EnvelopeKind::Signal,
                ciphertext: vec![1, 2, 3],
            }),
            SmsFrame::Hello {
                bundle: vec![5; 40],
            },
            SmsFrame::ResendRequest {
                id: WireId(0x3FFFF),
                count: 17,
                missing: vec![0, 3, 16],
                nonce: 9,
            },
        ] {
            assert_eq!(SmsFrame::from_bytes(&frame.to_bytes())?, frame);
        }
        Ok(())
    }

    #[test]
    fn hellos_of_handshake_version_1_are_refused() {
        let hello = SmsFrame::Hello {
            bundle: vec![5; 40],
        }
        .to_bytes();
        assert_eq!(hello[0], 0xA3);
        let v1 = [&[0xA1][..], &hello[1..]].concat();
        assert!(matches!(
            SmsFrame::from_bytes(&v1),
            Err(Error::MalformedSms(_))
        ));
    }

    proptest! {
        #[test]
        fn from_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(frame) = SmsFrame::from_bytes(&data) {
                prop_assert_eq!(frame.to_bytes(), data);
            }
        }
    }
}
