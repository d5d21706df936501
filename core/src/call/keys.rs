//! Call keys: the ephemeral X25519 exchange carried in the offer, answer and
//! key reveal, and what HKDF-SHA256 derives from it — the SRTP master key
//! and salt for each direction (RFC 7714 AEAD_AES_256_GCM), the key that
//! authenticates connectivity checks, and the two-word short authentication
//! string. `docs/calls.md` gives the exact layout.
//!
//! The caller *commits* to its ephemeral key in the offer (a SHA-256 hash)
//! and reveals it only after the callee's key arrived in the answer, as
//! ZRTP's Commit/DHPart exchange does (RFC 6189 §4.4.1). Without that, a man
//! in the middle who sees both keys could try ephemeral keys of its own until
//! the two 16-bit strings matched; with it, it must pick its keys before it
//! can know either string, and succeeds with probability 2⁻¹⁶.
//!
//! This module owns the arithmetic only: no I/O, no clock, no state machine.

use hkdf::Hkdf;
use libsignal_protocol::IdentityKey;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::pgp_words;
use super::signal::CallId;
use crate::error::{Error, Result};

/// Length of an X25519 public key on the wire.
pub const EPHEMERAL_KEY_LEN: usize = 32;

const TRANSCRIPT_LABEL: &[u8] = b"sotto-call-v1";
const COMMITMENT_LABEL: &[u8] = b"sotto-call-v1 commitment";
const INFO_CALLER_TO_CALLEE: &[u8] = b"sotto-call-v1 srtp caller-to-callee";
const INFO_CALLEE_TO_CALLER: &[u8] = b"sotto-call-v1 srtp callee-to-caller";
const INFO_PATH_CHECK: &[u8] = b"sotto-call-v1 path-check";
const INFO_SAS: &[u8] = b"sotto-call-v1 sas";

/// An X25519 public key from an offer, answer or key reveal.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EphemeralKey(pub [u8; EPHEMERAL_KEY_LEN]);

impl std::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Public, but a short prefix is all a log ever needs.
        write!(f, "EphemeralKey({}..)", hex::encode(&self.0[..4]))
    }
}

/// The caller's SHA-256 commitment to its ephemeral key, sent in the offer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyCommitment(pub [u8; 32]);

impl std::fmt::Debug for KeyCommitment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyCommitment({}..)", hex::encode(&self.0[..4]))
    }
}

impl KeyCommitment {
    /// `SHA-256("sotto-call-v1 commitment" || call_id || caller_ephemeral)`.
    pub fn to(call_id: &CallId, key: &EphemeralKey) -> Self {
        let mut hash = Sha256::new();
        hash.update(COMMITMENT_LABEL);
        hash.update(call_id.0);
        hash.update(key.0);
        Self(hash.finalize().into())
    }
}

/// One direction's SRTP master key and salt (AEAD_AES_256_GCM, RFC 7714
/// §12): the voice pipeline's own type, so the keys made here go to it
/// as they are. Wiped on drop; `Debug` shows no bytes; no `==` (not
/// constant-time).
pub use sotto_voice::SrtpKeys;

/// The media keys of one side of a call: what it encrypts with and what it
/// decrypts with. The caller's `send` is the callee's `receive`. Like
/// [`SrtpKeys`], it has no `==`.
#[derive(Clone)]
pub struct MediaKeys {
    /// Keys for the packets this side sends.
    pub send: SrtpKeys,
    /// Keys for the packets this side receives.
    pub receive: SrtpKeys,
}

impl std::fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKeys(..)")
    }
}

/// The key that authenticates connectivity checks on the media path, so
/// that only the peer of this call can make a path look usable.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PathKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for PathKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PathKey(..)")
    }
}

/// The short authentication string: two words from the PGP word list that
/// both people read aloud. They match only if both phones derived the same
/// keys from the same ephemeral keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Sas {
    bytes: [u8; 2],
}

impl Sas {
    fn from_bytes(bytes: [u8; 2]) -> Self {
        Self { bytes }
    }

    /// The two words: the first byte through the even list, the second
    /// through the odd list.
    pub fn words(&self) -> [&'static str; 2] {
        [
            pgp_words::EVEN[usize::from(self.bytes[0])],
            pgp_words::ODD[usize::from(self.bytes[1])],
        ]
    }
}

impl std::fmt::Display for Sas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b] = self.words();
        write!(f, "{a} {b}")
    }
}

impl std::fmt::Debug for Sas {
    // The words are shown on screen anyway, but they stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sas(..)")
    }
}

/// Everything a call needs once the keys are agreed.
#[derive(Clone, Debug)]
pub struct CallKeys {
    /// SRTP keys for this side.
    pub media: MediaKeys,
    /// The key for the media path's connectivity checks.
    pub path: PathKey,
    /// The words to read aloud.
    pub sas: Sas,
}

/// The two identity keys of a call, as each side knows them: its own from
/// its account, the other from the trusted identity of the contact.
#[derive(Clone, Copy, Debug)]
pub struct CallParties<'a> {
    /// The identity key of the side that sent the offer.
    pub caller: &'a IdentityKey,
    /// The identity key of the side that answered.
    pub callee: &'a IdentityKey,
}

/// A fresh ephemeral secret, wiped when dropped.
struct Ephemeral {
    secret: StaticSecret,
    public: EphemeralKey,
}

impl Ephemeral {
    fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        // x25519-dalek takes an RNG of another `rand_core` version, so the
        // 32 secret bytes come from ours; `StaticSecret` clamps them.
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        let secret = StaticSecret::from(*bytes);
        let public = EphemeralKey(PublicKey::from(&secret).to_bytes());
        Self { secret, public }
    }

    /// X25519 with the peer's key; refuses low-order points, which would
    /// give a shared secret an attacker knows (RFC 7748 §6.1).
    fn agree(&self, theirs: &EphemeralKey) -> Result<Zeroizing<[u8; 32]>> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(theirs.0));
        if !shared.was_contributory() {
            return Err(Error::CallKeys("the peer's ephemeral key is invalid"));
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

/// The caller's half of the key exchange, from offer to answer.
pub struct CallerHandshake {
    call_id: CallId,
    ephemeral: Ephemeral,
}

impl std::fmt::Debug for CallerHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerHandshake")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl CallerHandshake {
    /// Makes a fresh ephemeral key for `call_id`; returns the handshake and
    /// the commitment to put in the offer.
    pub fn start<R: RngCore + CryptoRng>(call_id: CallId, rng: &mut R) -> (Self, KeyCommitment) {
        let ephemeral = Ephemeral::generate(rng);
        let commitment = KeyCommitment::to(&call_id, &ephemeral.public);
        (Self { call_id, ephemeral }, commitment)
    }

    /// The call this handshake belongs to.
    pub fn call_id(&self) -> CallId {
        self.call_id
    }

    /// Takes the callee's key from the answer; returns the caller's keys
    /// and the ephemeral key to reveal to the callee.
    pub fn finish(
        self,
        callee_ephemeral: &EphemeralKey,
        parties: CallParties<'_>,
    ) -> Result<(CallKeys, EphemeralKey)> {
        let shared = self.ephemeral.agree(callee_ephemeral)?;
        let keys = derive(
            &shared,
            &self.call_id,
            parties,
            &self.ephemeral.public,
            callee_ephemeral,
            Role::Caller,
        )?;
        Ok((keys, self.ephemeral.public))
    }
}

/// The callee's half of the key exchange, from answer to key reveal.
pub struct CalleeHandshake {
    call_id: CallId,
    commitment: KeyCommitment,
    ephemeral: Ephemeral,
}

impl std::fmt::Debug for CalleeHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalleeHandshake")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl CalleeHandshake {
    /// Accepts an offer's commitment; returns the handshake and the
    /// ephemeral key to put in the answer.
    pub fn accept<R: RngCore + CryptoRng>(
        call_id: CallId,
        commitment: KeyCommitment,
        rng: &mut R,
    ) -> (Self, EphemeralKey) {
        let ephemeral = Ephemeral::generate(rng);
        let public = ephemeral.public;
        (
            Self {
                call_id,
                commitment,
                ephemeral,
            },
            public,
        )
    }

    /// The call this handshake belongs to.
    pub fn call_id(&self) -> CallId {
        self.call_id
    }

    /// Takes the caller's revealed key, checks it against the offer's
    /// commitment, and returns the callee's keys.
    pub fn finish(
        self,
        caller_ephemeral: &EphemeralKey,
        parties: CallParties<'_>,
    ) -> Result<CallKeys> {
        let expected = KeyCommitment::to(&self.call_id, caller_ephemeral);
        // A hash of public values: comparing it leaks nothing secret.
        if expected != self.commitment {
            return Err(Error::CallKeys(
                "the caller's key does not match its commitment",
            ));
        }
        let shared = self.ephemeral.agree(caller_ephemeral)?;
        derive(
            &shared,
            &self.call_id,
            parties,
            caller_ephemeral,
            &self.ephemeral.public,
            Role::Callee,
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Caller,
    Callee,
}

/// The transcript both sides hash into the HKDF salt. Every field has a
/// fixed length, so plain concatenation is unambiguous.
fn transcript(
    call_id: &CallId,
    parties: CallParties<'_>,
    caller_ephemeral: &EphemeralKey,
    callee_ephemeral: &EphemeralKey,
) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(TRANSCRIPT_LABEL);
    hash.update(call_id.0);
    hash.update(parties.caller.serialize());
    hash.update(parties.callee.serialize());
    hash.update(caller_ephemeral.0);
    hash.update(callee_ephemeral.0);
    hash.finalize().into()
}

fn derive(
    shared: &[u8; 32],
    call_id: &CallId,
    parties: CallParties<'_>,
    caller_ephemeral: &EphemeralKey,
    callee_ephemeral: &EphemeralKey,
    role: Role,
) -> Result<CallKeys> {
    let salt = transcript(call_id, parties, caller_ephemeral, callee_ephemeral);
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared);
    let srtp = |info: &[u8]| -> Result<SrtpKeys> {
        let mut okm = Zeroizing::new([0u8; 44]);
        hkdf.expand(info, okm.as_mut())
            .map_err(|_| Error::CallKeys("key derivation failed"))?;
        let mut keys = SrtpKeys {
            master_key: [0; 32],
            master_salt: [0; 12],
        };
        keys.master_key.copy_from_slice(&okm[..32]);
        keys.master_salt.copy_from_slice(&okm[32..]);
        Ok(keys)
    };
    let caller_to_callee = srtp(INFO_CALLER_TO_CALLEE)?;
    let callee_to_caller = srtp(INFO_CALLEE_TO_CALLER)?;
    let mut path = PathKey([0; 32]);
    hkdf.expand(INFO_PATH_CHECK, &mut path.0)
        .map_err(|_| Error::CallKeys("key derivation failed"))?;
    let mut sas = [0u8; 2];
    hkdf.expand(INFO_SAS, &mut sas)
        .map_err(|_| Error::CallKeys("key derivation failed"))?;
    let media = match role {
        Role::Caller => MediaKeys {
            send: caller_to_callee,
            receive: callee_to_caller,
        },
        Role::Callee => MediaKeys {
            send: callee_to_caller,
            receive: caller_to_callee,
        },
    };
    Ok(CallKeys {
        media,
        path,
        sas: Sas::from_bytes(sas),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use libsignal_protocol::IdentityKeyPair;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn identities(rng: &mut StdRng) -> (IdentityKey, IdentityKey) {
        (
            *IdentityKeyPair::generate(rng).identity_key(),
            *IdentityKeyPair::generate(rng).identity_key(),
        )
    }

    #[test]
    fn both_sides_agree_and_directions_differ() -> Result<()> {
        let mut rng = StdRng::seed_from_u64(1);
        let (alice, bob) = identities(&mut rng);
        let parties = CallParties {
            caller: &alice,
            callee: &bob,
        };
        let call_id = CallId([9; 16]);
        let (caller, commitment) = CallerHandshake::start(call_id, &mut rng);
        let (callee, answer_key) = CalleeHandshake::accept(call_id, commitment, &mut rng);
        let (caller_keys, revealed) = caller.finish(&answer_key, parties)?;
        let callee_keys = callee.finish(&revealed, parties)?;
        assert_eq!(
            (
                caller_keys.media.send.master_key,
                caller_keys.media.send.master_salt
            ),
            (
                callee_keys.media.receive.master_key,
                callee_keys.media.receive.master_salt
            )
        );
        assert_eq!(
            (
                caller_keys.media.receive.master_key,
                caller_keys.media.receive.master_salt
            ),
            (
                callee_keys.media.send.master_key,
                callee_keys.media.send.master_salt
            )
        );
        assert_ne!(
            (
                caller_keys.media.send.master_key,
                caller_keys.media.send.master_salt
            ),
            (
                caller_keys.media.receive.master_key,
                caller_keys.media.receive.master_salt
            )
        );
        assert_eq!(caller_keys.path, callee_keys.path);
        assert_eq!(caller_keys.sas.to_string(), callee_keys.sas.to_string());
        Ok(())
    }

    #[test]
    fn a_reveal_that_breaks_the_commitment_is_refused() {
        let mut rng = StdRng::seed_from_u64(2);
        let (alice, bob) = identities(&mut rng);
        let call_id = CallId([1; 16]);
        let (_caller, commitment) = CallerHandshake::start(call_id, &mut rng);
        let (callee, _) = CalleeHandshake::accept(call_id, commitment, &mut rng);
        let other = Ephemeral::generate(&mut rng).public;
        let result = callee.finish(
            &other,
            CallParties {
                caller: &alice,
                callee: &bob,
            },
        );
        assert!(matches!(result, Err(Error::CallKeys(_))));
    }

    #[test]
    fn a_low_order_key_is_refused() {
        let mut rng = StdRng::seed_from_u64(3);
        let (alice, bob) = identities(&mut rng);
        let (caller, _) = CallerHandshake::start(CallId([2; 16]), &mut rng);
        // The all-zero point has order 1: the "shared secret" is zero.
        let result = caller.finish(
            &EphemeralKey([0; 32]),
            CallParties {
                caller: &alice,
                callee: &bob,
            },
        );
        assert!(matches!(result, Err(Error::CallKeys(_))));
    }

    #[test]
    fn pgp_words_follow_the_published_list() {
        // The list's own example: bytes E5 82 94 F2 E9 A2.
        let words: Vec<&str> = [0xE5u8, 0x82, 0x94, 0xF2, 0xE9, 0xA2]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if i % 2 == 0 {
                    pgp_words::EVEN[usize::from(b)]
                } else {
                    pgp_words::ODD[usize::from(b)]
                }
            })
            .collect();
        assert_eq!(
            words,
            [
                "topmost",
                "Istanbul",
                "Pluto",
                "vagabond",
                "treadmill",
                "Pacific"
            ]
        );
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let keys = SrtpKeys {
            master_key: [0xAB; 32],
            master_salt: [0xCD; 12],
        };
        let shown = format!("{keys:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"));
    }
}
