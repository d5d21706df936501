//! The call state machine: idle → outgoing or incoming ringing → connecting
//! → connected → ended, with its reason.
//!
//! It is pure: [`step`] takes a state, an [`Input`] and the time, and
//! returns the next state and the [`Effect`]s to perform — signals to send,
//! media to start or stop, events for the UI. It does no I/O and holds no
//! keys; the caller of `step` performs the effects (building the offer's
//! key commitment, the answer's ephemeral key and so on with
//! [`super::keys`]) and feeds back what happens. Deadlines are kept in the
//! state, and an [`Input::Tick`] at or after one fires its timeout.
//!
//! Glare — both sides dialling each other at once — is settled by the call
//! ids: the call with the smaller id survives on both phones. The side whose
//! own offer lost answers the other's offer at once, since its user has
//! just asked to talk to that very person.

use std::time::Duration;

use super::signal::{CallId, ReceivedSignal, SignalKind, OFFER_MAX_AGE};
use crate::store::ContactId;

/// How long each phase may last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTimeouts {
    /// Ringing, on either side, before the call counts as unanswered.
    pub ring: Duration,
    /// From the answer until media flows.
    pub connect: Duration,
}

impl Default for CallTimeouts {
    /// 60 s of ringing, 20 s to connect.
    fn default() -> Self {
        Self {
            ring: Duration::from_secs(60),
            connect: Duration::from_secs(20),
        }
    }
}

/// Which side of the call this phone is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// It sent the offer.
    Caller,
    /// It received the offer.
    Callee,
}

/// A call and the contact on the other end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRef {
    /// The call's id.
    pub call_id: CallId,
    /// The other side.
    pub peer: ContactId,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The user of this phone hung up (or cancelled the outgoing call).
    HungUpHere,
    /// The other side hung up.
    HungUpThere,
    /// The user of this phone declined the incoming call.
    DeclinedHere,
    /// The other side declined.
    DeclinedThere,
    /// The other side is in another call.
    BusyThere,
    /// Nobody answered the outgoing call in time.
    NoAnswer,
    /// The incoming call was not answered: it timed out or the caller gave up.
    Missed,
    /// Media did not start in time after the answer.
    ConnectTimeout,
    /// The media path failed.
    MediaFailed,
}

/// Where a call is. Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallState {
    /// No call.
    Idle,
    /// We sent an offer and wait for an answer.
    OutgoingRinging {
        /// The call.
        call: CallRef,
        /// When it stops ringing.
        deadline_ms: u64,
    },
    /// An offer arrived and the phone rings.
    IncomingRinging {
        /// The call.
        call: CallRef,
        /// When it stops ringing.
        deadline_ms: u64,
    },
    /// Answered; keys are being finished and the media path set up.
    Connecting {
        /// The call.
        call: CallRef,
        /// Our side.
        role: Role,
        /// When connecting gives up.
        deadline_ms: u64,
    },
    /// Media flows.
    Connected {
        /// The call.
        call: CallRef,
        /// Our side.
        role: Role,
    },
    /// The last call ended; a new call may start from here as from idle.
    Ended {
        /// The call that ended.
        call: CallRef,
        /// Why.
        reason: EndReason,
    },
}

impl CallState {
    /// The call in progress, if any (not an ended one).
    pub fn active_call(&self) -> Option<&CallRef> {
        match self {
            CallState::OutgoingRinging { call, .. }
            | CallState::IncomingRinging { call, .. }
            | CallState::Connecting { call, .. }
            | CallState::Connected { call, .. } => Some(call),
            CallState::Idle | CallState::Ended { .. } => None,
        }
    }
}

/// What happens to the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The user calls `peer`; `call_id` is fresh ([`CallId::random`]).
    Dial {
        /// The new call's id.
        call_id: CallId,
        /// Who to call.
        peer: ContactId,
    },
    /// The user accepts the ringing call.
    Accept,
    /// The user declines the ringing call.
    Decline,
    /// The user hangs up (or cancels the outgoing call).
    HangUp,
    /// A call signal arrived from `from`.
    Signal {
        /// The contact it came from.
        from: ContactId,
        /// The signal and its sending time.
        signal: ReceivedSignal,
    },
    /// The media path of `call_id` is up and keys are in place.
    MediaConnected(CallId),
    /// The media path of `call_id` failed.
    MediaFailed(CallId),
    /// Time passed; fires any deadline that is due.
    Tick,
}

/// A signal the machine wants sent; the driver fills in key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// An offer with the commitment to a fresh ephemeral key.
    Offer,
    /// An answer with a fresh ephemeral key.
    Answer,
    /// The call is over.
    Hangup,
    /// We are in another call.
    Busy,
    /// The user declined.
    Reject,
}

/// What the UI hears about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UiEvent {
    /// The state changed to this.
    State(CallState),
    /// A call from `peer` was not rung: it came while we were in another
    /// call, or its offer was older than a minute.
    Missed {
        /// Who called.
        peer: ContactId,
        /// Whether it was because we were busy (else: a stale offer).
        while_busy: bool,
    },
}

/// Something the driver must do after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a signal for `call` to `call.peer`.
    Send {
        /// The call and its peer.
        call: CallRef,
        /// What to send.
        signal: Outbound,
    },
    /// Finish the keys and set up the media path for the call.
    StartMedia {
        /// The call.
        call: CallRef,
        /// Our side.
        role: Role,
    },
    /// Tear down the media path.
    StopMedia(CallId),
    /// Tell the UI.
    Notify(UiEvent),
}

/// The result of one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub state: CallState,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

impl Transition {
    fn stay(state: &CallState) -> Self {
        Self {
            state: state.clone(),
            effects: Vec::new(),
        }
    }

    /// Moves to `state`, performs `effects`, then tells the UI.
    fn to(state: CallState, mut effects: Vec<Effect>) -> Self {
        effects.push(Effect::Notify(UiEvent::State(state.clone())));
        Self { state, effects }
    }
}

fn ms(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// The next state after `input` at `now_ms`.
pub fn step(state: &CallState, input: Input, now_ms: u64, timeouts: &CallTimeouts) -> Transition {
    use CallState as S;
    match (state, input) {
        (S::Idle | S::Ended { .. }, Input::Dial { call_id, peer }) => {
            let call = CallRef { call_id, peer };
            Transition::to(
                S::OutgoingRinging {
                    call: call.clone(),
                    deadline_ms: now_ms + ms(timeouts.ring),
                },
                vec![Effect::Send {
                    call,
                    signal: Outbound::Offer,
                }],
            )
        }
        (_, Input::Signal { from, signal }) => on_signal(state, from, signal, now_ms, timeouts),
        (S::IncomingRinging { call, .. }, Input::Accept) => Transition::to(
            S::Connecting {
                call: call.clone(),
                role: Role::Callee,
                deadline_ms: now_ms + ms(timeouts.connect),
            },
            vec![
                Effect::Send {
                    call: call.clone(),
                    signal: Outbound::Answer,
                },
                Effect::StartMedia {
                    call: call.clone(),
                    role: Role::Callee,
                },
            ],
        ),
        (S::IncomingRinging { call, .. }, Input::Decline) => {
            end(call, EndReason::DeclinedHere, Some(Outbound::Reject), false)
        }
        (S::OutgoingRinging { call, .. } | S::IncomingRinging { call, .. }, Input::HangUp) => {
            end(call, EndReason::HungUpHere, Some(Outbound::Hangup), false)
        }
        (S::Connecting { call, .. } | S::Connected { call, .. }, Input::HangUp) => {
            end(call, EndReason::HungUpHere, Some(Outbound::Hangup), true)
        }
        (S::Connecting { call, role, .. }, Input::MediaConnected(id)) if id == call.call_id => {
            Transition::to(
                S::Connected {
                    call: call.clone(),
                    role: *role,
                },
                Vec::new(),
            )
        }
        (S::Connecting { call, .. } | S::Connected { call, .. }, Input::MediaFailed(id))
            if id == call.call_id =>
        {
            end(call, EndReason::MediaFailed, Some(Outbound::Hangup), true)
        }
        (S::OutgoingRinging { call, deadline_ms }, Input::Tick) if now_ms >= *deadline_ms => {
            end(call, EndReason::NoAnswer, Some(Outbound::Hangup), false)
        }
        (S::IncomingRinging { call, deadline_ms }, Input::Tick) if now_ms >= *deadline_ms => {
            // The caller's own ring timeout ends its side; nothing to send.
            end(call, EndReason::Missed, None, false)
        }
        (
            S::Connecting {
                call, deadline_ms, ..
            },
            Input::Tick,
        ) if now_ms >= *deadline_ms => end(
            call,
            EndReason::ConnectTimeout,
            Some(Outbound::Hangup),
            true,
        ),
        // Anything else does not apply in this state: a stale media event,
        // an Accept with nothing ringing, a Tick before any deadline.
        _ => Transition::stay(state),
    }
}

fn end(call: &CallRef, reason: EndReason, send: Option<Outbound>, media: bool) -> Transition {
    let mut effects = Vec::new();
    if let Some(signal) = send {
        effects.push(Effect::Send {
            call: call.clone(),
            signal,
        });
    }
    if media {
        effects.push(Effect::StopMedia(call.call_id));
    }
    Transition::to(
        CallState::Ended {
            call: call.clone(),
            reason,
        },
        effects,
    )
}

fn on_signal(
    state: &CallState,
    from: ContactId,
    received: ReceivedSignal,
    now_ms: u64,
    timeouts: &CallTimeouts,
) -> Transition {
    use CallState as S;
    let call_id = received.signal.call_id;
    if let SignalKind::Offer(_) = received.signal.kind {
        return on_offer(state, from, call_id, received.sent_at_ms, now_ms, timeouts);
    }
    // Every other signal must name the call in progress and come from its peer.
    let Some(call) = state.active_call() else {
        return Transition::stay(state);
    };
    if call.call_id != call_id || call.peer != from {
        return Transition::stay(state);
    }
    match (state, received.signal.kind) {
        (S::OutgoingRinging { call, .. }, SignalKind::Answer(_)) => Transition::to(
            S::Connecting {
                call: call.clone(),
                role: Role::Caller,
                deadline_ms: now_ms + ms(timeouts.connect),
            },
            vec![Effect::StartMedia {
                call: call.clone(),
                role: Role::Caller,
            }],
        ),
        (S::OutgoingRinging { call, .. }, SignalKind::Busy) => {
            end(call, EndReason::BusyThere, None, false)
        }
        (S::OutgoingRinging { call, .. }, SignalKind::Reject) => {
            end(call, EndReason::DeclinedThere, None, false)
        }
        (S::OutgoingRinging { call, .. }, SignalKind::Hangup) => {
            end(call, EndReason::HungUpThere, None, false)
        }
        (S::IncomingRinging { call, .. }, SignalKind::Hangup) => {
            end(call, EndReason::Missed, None, false)
        }
        (S::Connecting { call, .. } | S::Connected { call, .. }, SignalKind::Hangup) => {
            end(call, EndReason::HungUpThere, None, true)
        }
        // Key reveals and candidates are for the driver; late duplicates of
        // answers are harmless.
        _ => Transition::stay(state),
    }
}

fn on_offer(
    state: &CallState,
    from: ContactId,
    call_id: CallId,
    sent_at_ms: u64,
    now_ms: u64,
    timeouts: &CallTimeouts,
) -> Transition {
    use CallState as S;
    if now_ms.saturating_sub(sent_at_ms) > ms(OFFER_MAX_AGE) {
        return Transition {
            state: state.clone(),
            effects: vec![Effect::Notify(UiEvent::Missed {
                peer: from,
                while_busy: false,
            })],
        };
    }
    match state {
        S::Idle | S::Ended { .. } => {
            let call = CallRef {
                call_id,
                peer: from,
            };
            Transition::to(
                S::IncomingRinging {
                    call,
                    deadline_ms: now_ms + ms(timeouts.ring),
                },
                Vec::new(),
            )
        }
        // A repeated copy of the offer we are already handling.
        _ if state.active_call().is_some_and(|c| c.call_id == call_id) => Transition::stay(state),
        // Glare: we are calling the very contact who is calling us.
        S::OutgoingRinging { call: ours, .. } if ours.peer == from => {
            if ours.call_id < call_id {
                // Ours wins on both phones; theirs is dropped over there too.
                Transition::stay(state)
            } else {
                let theirs = CallRef {
                    call_id,
                    peer: from,
                };
                Transition::to(
                    S::Connecting {
                        call: theirs.clone(),
                        role: Role::Callee,
                        deadline_ms: now_ms + ms(timeouts.connect),
                    },
                    vec![
                        Effect::Send {
                            call: theirs.clone(),
                            signal: Outbound::Answer,
                        },
                        Effect::StartMedia {
                            call: theirs,
                            role: Role::Callee,
                        },
                    ],
                )
            }
        }
        _ => {
            let caller = CallRef {
                call_id,
                peer: from.clone(),
            };
            Transition {
                state: state.clone(),
                effects: vec![
                    Effect::Send {
                        call: caller,
                        signal: Outbound::Busy,
                    },
                    Effect::Notify(UiEvent::Missed {
                        peer: from,
                        while_busy: true,
                    }),
                ],
            }
        }
    }
}

/// A [`CallState`] with its timeouts, stepping in place.
#[derive(Clone, Debug)]
pub struct CallMachine {
    state: CallState,
    timeouts: CallTimeouts,
}

impl CallMachine {
    /// An idle machine.
    pub fn new(timeouts: CallTimeouts) -> Self {
        Self {
            state: CallState::Idle,
            timeouts,
        }
    }

    /// The current state.
    pub fn state(&self) -> &CallState {
        &self.state
    }

    /// Applies `input` at `now_ms`; returns the effects to perform.
    pub fn handle(&mut self, input: Input, now_ms: u64) -> Vec<Effect> {
        let transition = step(&self.state, input, now_ms, &self.timeouts);
        self.state = transition.state;
        transition.effects
    }

    /// The next deadline, if any: when the driver should send a Tick.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        match &self.state {
            CallState::OutgoingRinging { deadline_ms, .. }
            | CallState::IncomingRinging { deadline_ms, .. }
            | CallState::Connecting { deadline_ms, .. } => Some(*deadline_ms),
            _ => None,
        }
    }
}
