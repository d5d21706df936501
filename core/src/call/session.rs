//! The key bookkeeping of one call, between the state machine and the
//! wire: it turns the machine's [`Outbound`] effects into [`CallSignal`]s
//! with their key material, and the peer's answer or key reveal into
//! [`CallKeys`]. It holds the ephemeral secret from the offer (or answer)
//! until the exchange finishes, and nothing after.
//!
//! A driver keeps one `CallSession` per call id it has seen: created by
//! [`CallSession::outgoing`] when it dials and by
//! [`CallSession::incoming`] when an offer arrives (so that glare, where
//! the machine answers the other side's offer at once, finds it).

use rand::{CryptoRng, RngCore};

use super::keys::{CallKeys, CallParties, CalleeHandshake, CallerHandshake, KeyCommitment};
use super::machine::Outbound;
use super::signal::{CallId, CallSignal, SignalKind};
use crate::error::{Error, Result};

enum Exchange {
    /// Caller, before the offer is built.
    CallerIdle,
    /// Caller, offer sent: waiting for the answer.
    CallerOffered(CallerHandshake),
    /// Callee, offer received: not answered yet.
    CalleeRinging(KeyCommitment),
    /// Callee, answer sent: waiting for the key reveal.
    CalleeAnswered(CalleeHandshake),
    /// Keys made (or the exchange failed): no secret left.
    Finished,
}

/// The key exchange of one call, on one side.
pub struct CallSession {
    call_id: CallId,
    exchange: Exchange,
}

impl std::fmt::Debug for CallSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSession")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

/// What a received signal did to the exchange.
#[derive(Debug)]
pub enum KeyProgress {
    /// Nothing for the keys (candidates, hangup, a duplicate).
    Nothing,
    /// The caller's keys are ready; send this key reveal to the callee.
    CallerReady(CallKeys, CallSignal),
    /// The callee's keys are ready.
    CalleeReady(CallKeys),
}

impl CallSession {
    /// A call we are about to dial.
    pub fn outgoing(call_id: CallId) -> Self {
        Self {
            call_id,
            exchange: Exchange::CallerIdle,
        }
    }

    /// A call whose offer (with `commitment`) just arrived.
    pub fn incoming(call_id: CallId, commitment: KeyCommitment) -> Self {
        Self {
            call_id,
            exchange: Exchange::CalleeRinging(commitment),
        }
    }

    /// The call.
    pub fn call_id(&self) -> CallId {
        self.call_id
    }

    /// The signal for one of the machine's `Send` effects. An offer makes
    /// the caller's ephemeral key, an answer the callee's.
    pub fn signal_for<R: RngCore + CryptoRng>(
        &mut self,
        outbound: Outbound,
        rng: &mut R,
    ) -> Result<CallSignal> {
        let kind = match outbound {
            Outbound::Offer => {
                if !matches!(self.exchange, Exchange::CallerIdle) {
                    return Err(Error::CallKeys("an offer was already made"));
                }
                let (handshake, commitment) = CallerHandshake::start(self.call_id, rng);
                self.exchange = Exchange::CallerOffered(handshake);
                SignalKind::Offer(commitment)
            }
            Outbound::Answer => {
                let Exchange::CalleeRinging(commitment) = self.exchange else {
                    return Err(Error::CallKeys("no offer to answer"));
                };
                let (handshake, key) = CalleeHandshake::accept(self.call_id, commitment, rng);
                self.exchange = Exchange::CalleeAnswered(handshake);
                SignalKind::Answer(key)
            }
            Outbound::Hangup => SignalKind::Hangup,
            Outbound::Busy => SignalKind::Busy,
            Outbound::Reject => SignalKind::Reject,
        };
        Ok(CallSignal {
            call_id: self.call_id,
            kind,
        })
    }

    /// Takes a signal of this call from the peer. An answer finishes the
    /// caller's keys (and gives the key reveal to send); a key reveal
    /// finishes the callee's. A failed exchange leaves no secret behind.
    pub fn on_signal(
        &mut self,
        kind: &SignalKind,
        parties: CallParties<'_>,
    ) -> Result<KeyProgress> {
        match (
            std::mem::replace(&mut self.exchange, Exchange::Finished),
            kind,
        ) {
            (Exchange::CallerOffered(handshake), SignalKind::Answer(key)) => {
                let (keys, revealed) = handshake.finish(key, parties)?;
                Ok(KeyProgress::CallerReady(
                    keys,
                    CallSignal {
                        call_id: self.call_id,
                        kind: SignalKind::KeyReveal(revealed),
                    },
                ))
            }
            (Exchange::CalleeAnswered(handshake), SignalKind::KeyReveal(key)) => {
                Ok(KeyProgress::CalleeReady(handshake.finish(key, parties)?))
            }
            (exchange, _) => {
                self.exchange = exchange;
                Ok(KeyProgress::Nothing)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn signals_follow_the_exchange_and_out_of_order_ones_are_refused() -> Result<()> {
        let mut rng = StdRng::seed_from_u64(1);
        let call_id = CallId([4; 16]);
        let mut caller = CallSession::outgoing(call_id);
        assert!(caller.signal_for(Outbound::Answer, &mut rng).is_err());
        let offer = caller.signal_for(Outbound::Offer, &mut rng)?;
        assert!(caller.signal_for(Outbound::Offer, &mut rng).is_err());
        let SignalKind::Offer(commitment) = offer.kind else {
            panic!("an offer")
        };
        let mut callee = CallSession::incoming(call_id, commitment);
        let answer = callee.signal_for(Outbound::Answer, &mut rng)?;
        assert!(callee.signal_for(Outbound::Answer, &mut rng).is_err());
        assert_eq!(
            callee.signal_for(Outbound::Hangup, &mut rng)?.kind,
            SignalKind::Hangup
        );
        let identity = *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key();
        let parties = CallParties {
            caller: &identity,
            callee: &identity,
        };
        // A key reveal before the answer does nothing for the caller.
        assert!(matches!(
            caller.on_signal(&SignalKind::Hangup, parties)?,
            KeyProgress::Nothing
        ));
        let KeyProgress::CallerReady(caller_keys, reveal) =
            caller.on_signal(&answer.kind, parties)?
        else {
            panic!("caller keys")
        };
        let KeyProgress::CalleeReady(callee_keys) = callee.on_signal(&reveal.kind, parties)? else {
            panic!("callee keys")
        };
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
        // Finished: a repeated answer makes nothing new.
        assert!(matches!(
            caller.on_signal(&answer.kind, parties)?,
            KeyProgress::Nothing
        ));
        Ok(())
    }
}
