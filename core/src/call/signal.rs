//! Call signalling as Sotto messages: the [`CallSignal`] body of a Content,
//! its protobuf form (`CallSignal` in `proto/sotto.proto`), and sending it
//! through [`crate::messaging`] so that it travels like a text — sealed
//! through the relay, or over any other transport of envelopes.
//!
//! A received signal comes back from `messaging::receive` (or
//! `receive_sealed`) as `Received::CallSignal`, with the time its sender
//! stamped on it; [`is_stale_offer`] applies the 60-second rule.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use rand::{CryptoRng, Rng, RngCore};

use super::keys::{EphemeralKey, KeyCommitment, EPHEMERAL_KEY_LEN};
use crate::error::{Error, Result};
use crate::message::{proto, Body};
use crate::messaging::{self, Outgoing};
use crate::store::{ContactId, SottoStore};

/// The call-signalling format version this build writes and reads.
pub const CALL_SIGNAL_VERSION: u32 = 1;

/// An offer older than this (by its sender's clock) is not rung.
pub const OFFER_MAX_AGE: Duration = Duration::from_secs(60);

/// Most candidates accepted in one message.
pub const MAX_CANDIDATES: usize = 16;

/// A call's id: 16 random bytes chosen by the caller.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub [u8; 16]);

impl CallId {
    /// A fresh random id.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self(id)
    }
}

impl std::fmt::Debug for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CallId({})", hex::encode(&self.0[..4]))
    }
}

/// How a candidate address is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// A UDP socket on the device itself.
    Host,
    /// A TURN allocation: the address a TURN server relays for us.
    Relayed,
}

/// An address where one side can receive media.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// Host or relayed.
    pub kind: CandidateKind,
    /// The UDP address.
    pub address: SocketAddr,
}

impl std::fmt::Debug for Candidate {
    // Addresses locate a person; logs get the kind only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Candidate({:?})", self.kind)
    }
}

/// What a call-signalling message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalKind {
    /// Caller → callee: a new call, with the commitment to the caller's
    /// ephemeral key.
    Offer(KeyCommitment),
    /// Callee → caller: accepted, with the callee's ephemeral key.
    Answer(EphemeralKey),
    /// Caller → callee: the caller's ephemeral key, after the answer.
    KeyReveal(EphemeralKey),
    /// Either side: media candidates; `complete` marks the last batch.
    Candidates {
        /// The candidates.
        candidates: Vec<Candidate>,
        /// Whether this side has no more to send.
        complete: bool,
    },
    /// Either side: the call is over, or cancelled before an answer.
    Hangup,
    /// Callee → caller: in another call.
    Busy,
    /// Callee → caller: declined.
    Reject,
}

/// One call-signalling message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSignal {
    /// The call it belongs to.
    pub call_id: CallId,
    /// What it says.
    pub kind: SignalKind,
}

fn ephemeral_from(bytes: &[u8]) -> Result<EphemeralKey> {
    <[u8; EPHEMERAL_KEY_LEN]>::try_from(bytes)
        .map(EphemeralKey)
        .map_err(|_| Error::MalformedContent("call key is not 32 bytes"))
}

impl CallSignal {
    pub(crate) fn to_proto(&self) -> Result<proto::CallSignal> {
        use proto::call_signal::Kind as K;
        let kind = match &self.kind {
            SignalKind::Offer(commitment) => K::Offer(proto::CallOffer {
                ephemeral_commitment: commitment.0.to_vec(),
            }),
            SignalKind::Answer(key) => K::Answer(proto::CallAnswer {
                ephemeral_key: key.0.to_vec(),
            }),
            SignalKind::KeyReveal(key) => K::KeyReveal(proto::CallKeyReveal {
                ephemeral_key: key.0.to_vec(),
            }),
            SignalKind::Candidates {
                candidates,
                complete,
            } => {
                if candidates.len() > MAX_CANDIDATES {
                    return Err(Error::MalformedContent("too many call candidates"));
                }
                K::Candidates(proto::CallCandidates {
                    candidates: candidates.iter().map(candidate_to_proto).collect(),
                    complete: *complete,
                })
            }
            SignalKind::Hangup => K::Hangup(proto::CallHangup {}),
            SignalKind::Busy => K::Busy(proto::CallBusy {}),
            SignalKind::Reject => K::Reject(proto::CallReject {}),
        };
        Ok(proto::CallSignal {
            version: CALL_SIGNAL_VERSION,
            call_id: self.call_id.0.to_vec(),
            kind: Some(kind),
        })
    }

    pub(crate) fn from_proto(message: proto::CallSignal) -> Result<Self> {
        use proto::call_signal::Kind as K;
        if message.version != CALL_SIGNAL_VERSION {
            return Err(Error::MalformedContent("unknown call signal version"));
        }
        let call_id = <[u8; 16]>::try_from(&message.call_id[..])
            .map(CallId)
            .map_err(|_| Error::MalformedContent("call id is not 16 bytes"))?;
        let kind = match message.kind {
            Some(K::Offer(offer)) => SignalKind::Offer(
                <[u8; 32]>::try_from(&offer.ephemeral_commitment[..])
                    .map(KeyCommitment)
                    .map_err(|_| Error::MalformedContent("call commitment is not 32 bytes"))?,
            ),
            Some(K::Answer(answer)) => SignalKind::Answer(ephemeral_from(&answer.ephemeral_key)?),
            Some(K::KeyReveal(reveal)) => {
                SignalKind::KeyReveal(ephemeral_from(&reveal.ephemeral_key)?)
            }
            Some(K::Candidates(batch)) => {
                if batch.candidates.len() > MAX_CANDIDATES {
                    return Err(Error::MalformedContent("too many call candidates"));
                }
                SignalKind::Candidates {
                    candidates: batch
                        .candidates
                        .iter()
                        .map(candidate_from_proto)
                        .collect::<Result<_>>()?,
                    complete: batch.complete,
                }
            }
            Some(K::Hangup(_)) => SignalKind::Hangup,
            Some(K::Busy(_)) => SignalKind::Busy,
            Some(K::Reject(_)) => SignalKind::Reject,
            None => return Err(Error::MalformedContent("call signal has no kind")),
        };
        Ok(Self { call_id, kind })
    }
}

fn candidate_to_proto(candidate: &Candidate) -> proto::CallCandidate {
    use proto::call_candidate::Kind as K;
    proto::CallCandidate {
        kind: match candidate.kind {
            CandidateKind::Host => K::Host,
            CandidateKind::Relayed => K::Relayed,
        } as i32,
        ip: match candidate.address.ip() {
            IpAddr::V4(ip) => ip.octets().to_vec(),
            IpAddr::V6(ip) => ip.octets().to_vec(),
        },
        port: u32::from(candidate.address.port()),
    }
}

fn candidate_from_proto(candidate: &proto::CallCandidate) -> Result<Candidate> {
    use proto::call_candidate::Kind as K;
    let kind = match K::try_from(candidate.kind) {
        Ok(K::Host) => CandidateKind::Host,
        Ok(K::Relayed) => CandidateKind::Relayed,
        _ => return Err(Error::MalformedContent("unknown candidate kind")),
    };
    let ip = if let Ok(v4) = <[u8; 4]>::try_from(&candidate.ip[..]) {
        IpAddr::from(v4)
    } else if let Ok(v6) = <[u8; 16]>::try_from(&candidate.ip[..]) {
        IpAddr::from(v6)
    } else {
        return Err(Error::MalformedContent("candidate address is malformed"));
    };
    let port = u16::try_from(candidate.port)
        .ok()
        .filter(|&port| port != 0)
        .ok_or(Error::MalformedContent("candidate port is out of range"))?;
    Ok(Candidate {
        kind,
        address: SocketAddr::new(ip, port),
    })
}

/// A call signal as received, with the time its sender stamped on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedSignal {
    /// The signal.
    pub signal: CallSignal,
    /// When its sender made it, in ms since the Unix epoch (sender's clock).
    pub sent_at_ms: u64,
}

/// Whether `received` is an offer too old to ring: sent more than
/// [`OFFER_MAX_AGE`] before `now`. An offer that waited in a mailbox while
/// the phone was off must not ring minutes later.
pub fn is_stale_offer(received: &ReceivedSignal, now: SystemTime) -> bool {
    matches!(received.signal.kind, SignalKind::Offer(_))
        && crate::millis(now).saturating_sub(received.sent_at_ms) > OFFER_MAX_AGE.as_millis() as u64
}

/// Encrypts a call signal for `contact` and queues it in the outbox, like a
/// text: the relay agent (or any transport) sends it from there. Signals
/// are never stored as messages.
pub fn send_signal<S, R>(
    store: &mut S,
    contact: &ContactId,
    signal: CallSignal,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    // Fail on a bad signal here, before a ratchet step is spent on it.
    signal.to_proto()?;
    messaging::send_body(store, contact, Body::CallSignal(signal), now, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_kinds() -> Vec<SignalKind> {
        vec![
            SignalKind::Offer(KeyCommitment([1; 32])),
            SignalKind::Answer(EphemeralKey([2; 32])),
            SignalKind::KeyReveal(EphemeralKey([3; 32])),
            SignalKind::Candidates {
                candidates: vec![
                    Candidate {
                        kind: CandidateKind::Host,
                        address: "127.0.0.1:4000".parse().expect("address"),
                    },
                    Candidate {
                        kind: CandidateKind::Relayed,
                        address: "[::1]:5000".parse().expect("address"),
                    },
                ],
                complete: true,
            },
            SignalKind::Hangup,
            SignalKind::Busy,
            SignalKind::Reject,
        ]
    }

    #[test]
    fn every_kind_round_trips() -> Result<()> {
        for kind in all_kinds() {
            let signal = CallSignal {
                call_id: CallId([7; 16]),
                kind,
            };
            assert_eq!(CallSignal::from_proto(signal.to_proto()?)?, signal);
        }
        Ok(())
    }

    #[test]
    fn bad_fields_are_refused() -> Result<()> {
        let good = CallSignal {
            call_id: CallId([7; 16]),
            kind: SignalKind::Answer(EphemeralKey([2; 32])),
        }
        .to_proto()?;
        let mut wrong_version = good.clone();
        wrong_version.version = 2;
        let mut short_id = good.clone();
        short_id.call_id.pop();
        let mut short_key = good.clone();
        if let Some(proto::call_signal::Kind::Answer(answer)) = &mut short_key.kind {
            answer.ephemeral_key.pop();
        }
        let mut no_kind = good;
        no_kind.kind = None;
        for bad in [wrong_version, short_id, short_key, no_kind] {
            assert!(CallSignal::from_proto(bad).is_err());
        }
        let port_zero = proto::CallCandidate {
            kind: 1,
            ip: vec![127, 0, 0, 1],
            port: 0,
        };
        assert!(candidate_from_proto(&port_zero).is_err());
        Ok(())
    }

    #[test]
    fn only_old_offers_are_stale() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let sent = |age_secs: u64, kind: SignalKind| ReceivedSignal {
            signal: CallSignal {
                call_id: CallId([1; 16]),
                kind,
            },
            sent_at_ms: (1_000_000 - age_secs) * 1000,
        };
        let offer = SignalKind::Offer(KeyCommitment([0; 32]));
        assert!(!is_stale_offer(&sent(59, offer.clone()), now));
        assert!(!is_stale_offer(&sent(60, offer.clone()), now));
        assert!(is_stale_offer(&sent(61, offer), now));
        assert!(!is_stale_offer(&sent(600, SignalKind::Hangup), now));
    }

    #[test]
    fn candidate_debug_hides_the_address() {
        let candidate = Candidate {
            kind: CandidateKind::Host,
            address: "192.0.2.7:4000".parse().expect("address"),
        };
        assert!(!format!("{candidate:?}").contains("192.0.2.7"));
    }

    proptest! {
        #[test]
        fn hostile_signals_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(message) = <proto::CallSignal as prost::Message>::decode(&data[..]) {
                let _ = CallSignal::from_proto(message);
            }
        }
    }
}
