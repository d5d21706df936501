//! One phone's calls, assembled: the state machine, a [`CallSession`] per
//! call, the keys, and the candidates on both sides. It does no I/O: every
//! input returns [`Action`]s — signals to send, candidates to gather, a
//! path to connect, media to start or stop, things to show — and the
//! async shell that performs them (with the relay agent, the
//! [`LocalCandidates`](super::LocalCandidates) and the voice pipeline)
//! reports back through [`CallController::candidates_gathered`],
//! [`CallController::media_connected`] and
//! [`CallController::media_failed`].
//!
//! Only the call in progress is followed; signals of other calls go to the
//! machine alone (which answers offers with busy).

use std::collections::HashMap;

use rand::{CryptoRng, RngCore};

use super::keys::{CallKeys, CallParties, MediaKeys, PathKey, Sas};
use super::machine::{
    CallMachine, CallState, CallTimeouts, Effect, Input, Outbound, Role, UiEvent,
};
use super::session::{CallSession, KeyProgress};
use super::signal::{CallId, CallSignal, Candidate, ReceivedSignal, SignalKind, MAX_CANDIDATES};
use crate::error::Result;
use crate::store::{ContactId, SottoStore};

/// Something the shell must do.
#[derive(Debug)]
pub enum Action {
    /// Send `signal` to `peer` (`call::send_signal`, then the transport).
    Send {
        /// The contact.
        peer: ContactId,
        /// The signal.
        signal: CallSignal,
    },
    /// Gather local candidates for the call, then call
    /// [`CallController::candidates_gathered`].
    Gather(CallId),
    /// Run the connectivity checks against `remote`, then report
    /// [`CallController::media_connected`] or
    /// [`CallController::media_failed`].
    Connect {
        /// The call.
        call_id: CallId,
        /// Our side (the caller controls the checks).
        role: Role,
        /// The peer's candidates.
        remote: Vec<Candidate>,
        /// The key of the checks.
        path_key: PathKey,
    },
    /// The path is up: start the voice pipeline with these keys on it.
    StartMedia {
        /// The call.
        call_id: CallId,
        /// SRTP keys for each direction.
        keys: MediaKeys,
    },
    /// Stop the voice pipeline and close the path (or the gathered
    /// candidates) of the call.
    StopMedia(CallId),
    /// Show the short authentication string.
    ShowSas {
        /// The call.
        call_id: CallId,
        /// The two words.
        sas: Sas,
    },
    /// Tell the UI.
    Ui(UiEvent),
}

/// What is known of the call in progress beyond the machine's state.
#[derive(Default)]
struct Progress {
    keys: Option<CallKeys>,
    gathered: bool,
    remote: Vec<Candidate>,
    remote_complete: bool,
    connecting: bool,
}

/// The calls of one phone.
pub struct CallController {
    machine: CallMachine,
    sessions: HashMap<CallId, CallSession>,
    progress: HashMap<CallId, Progress>,
}

impl std::fmt::Debug for CallController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallController")
            .field("state", self.machine.state())
            .finish_non_exhaustive()
    }
}

impl CallController {
    /// No call yet.
    pub fn new(timeouts: CallTimeouts) -> Self {
        Self {
            machine: CallMachine::new(timeouts),
            sessions: HashMap::new(),
            progress: HashMap::new(),
        }
    }

    /// The machine's state.
    pub fn state(&self) -> &CallState {
        self.machine.state()
    }

    /// When to call [`CallController::tick`] next.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.machine.next_deadline_ms()
    }

    /// The user calls `peer`.
    pub fn dial<R: RngCore + CryptoRng>(
        &mut self,
        peer: ContactId,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        let call_id = CallId::random(rng);
        self.sessions
            .insert(call_id, CallSession::outgoing(call_id));
        self.input(Input::Dial { call_id, peer }, now_ms, rng)
    }

    /// The user accepts the ringing call.
    pub fn accept<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        self.input(Input::Accept, now_ms, rng)
    }

    /// The user declines the ringing call.
    pub fn decline<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        self.input(Input::Decline, now_ms, rng)
    }

    /// The user hangs up.
    pub fn hang_up<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        self.input(Input::HangUp, now_ms, rng)
    }

    /// Time passed.
    pub fn tick<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        self.input(Input::Tick, now_ms, rng)
    }

    /// A call signal arrived from `from`; `store` gives the identities the
    /// keys are bound to.
    pub fn on_signal<S: SottoStore, R: RngCore + CryptoRng>(
        &mut self,
        store: &S,
        from: &ContactId,
        received: ReceivedSignal,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        let call_id = received.signal.call_id;
        let mut actions = Vec::new();
        if let SignalKind::Offer(commitment) = received.signal.kind {
            self.sessions
                .entry(call_id)
                .or_insert_with(|| CallSession::incoming(call_id, commitment));
        }
        // Keys and candidates only for the call in progress, from its peer.
        let ours = self
            .machine
            .state()
            .active_call()
            .is_some_and(|call| call.call_id == call_id && &call.peer == from);
        if ours {
            match &received.signal.kind {
                SignalKind::Answer(_) | SignalKind::KeyReveal(_) => {
                    let role = match received.signal.kind {
                        SignalKind::Answer(_) => Role::Caller,
                        _ => Role::Callee,
                    };
                    let (caller, callee) = super::identities(store, from, role)?;
                    let parties = CallParties {
                        caller: &caller,
                        callee: &callee,
                    };
                    if let Some(session) = self.sessions.get_mut(&call_id) {
                        match session.on_signal(&received.signal.kind, parties)? {
                            KeyProgress::CallerReady(keys, reveal) => {
                                actions.push(Action::Send {
                                    peer: from.clone(),
                                    signal: reveal,
                                });
                                self.keys_ready(call_id, keys, &mut actions);
                            }
                            KeyProgress::CalleeReady(keys) => {
                                self.keys_ready(call_id, keys, &mut actions)
                            }
                            KeyProgress::Nothing => {}
                        }
                    }
                }
                SignalKind::Candidates {
                    candidates,
                    complete,
                } => {
                    let progress = self.progress.entry(call_id).or_default();
                    for candidate in candidates {
                        if progress.remote.len() < MAX_CANDIDATES
                            && !progress.remote.contains(candidate)
                        {
                            progress.remote.push(*candidate);
                        }
                    }
                    progress.remote_complete |= *complete;
                    self.maybe_connect(call_id, &mut actions);
                }
                _ => {}
            }
        }
        actions.extend(self.input(
            Input::Signal {
                from: from.clone(),
                signal: received,
            },
            now_ms,
            rng,
        )?);
        Ok(actions)
    }

    /// The candidates asked for by [`Action::Gather`] are ready.
    pub fn candidates_gathered(
        &mut self,
        call_id: CallId,
        candidates: Vec<Candidate>,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(call) = self.machine.state().active_call().cloned() else {
            return actions;
        };
        if call.call_id != call_id {
            return actions;
        }
        self.progress.entry(call_id).or_default().gathered = true;
        actions.push(Action::Send {
            peer: call.peer,
            signal: CallSignal {
                call_id,
                kind: SignalKind::Candidates {
                    candidates: candidates.into_iter().take(MAX_CANDIDATES).collect(),
                    complete: true,
                },
            },
        });
        self.maybe_connect(call_id, &mut actions);
        actions
    }

    /// The path asked for by [`Action::Connect`] is up.
    pub fn media_connected<R: RngCore + CryptoRng>(
        &mut self,
        call_id: CallId,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        let mut actions = Vec::new();
        let connecting = matches!(self.machine.state(), CallState::Connecting { call, .. } if call.call_id == call_id);
        if let (true, Some(keys)) = (
            connecting,
            self.progress.get(&call_id).and_then(|p| p.keys.as_ref()),
        ) {
            actions.push(Action::StartMedia {
                call_id,
                keys: keys.media.clone(),
            });
        }
        actions.extend(self.input(Input::MediaConnected(call_id), now_ms, rng)?);
        Ok(actions)
    }

    /// The path asked for by [`Action::Connect`] could not be set up, or
    /// the voice pipeline lost it.
    pub fn media_failed<R: RngCore + CryptoRng>(
        &mut self,
        call_id: CallId,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        self.input(Input::MediaFailed(call_id), now_ms, rng)
    }

    fn keys_ready(&mut self, call_id: CallId, keys: CallKeys, actions: &mut Vec<Action>) {
        actions.push(Action::ShowSas {
            call_id,
            sas: keys.sas.clone(),
        });
        self.progress.entry(call_id).or_default().keys = Some(keys);
        self.maybe_connect(call_id, actions);
    }

    /// Connects once the keys, our candidates and all of the peer's are in.
    fn maybe_connect(&mut self, call_id: CallId, actions: &mut Vec<Action>) {
        let CallState::Connecting { call, role, .. } = self.machine.state() else {
            return;
        };
        if call.call_id != call_id {
            return;
        }
        let role = *role;
        let Some(progress) = self.progress.get_mut(&call_id) else {
            return;
        };
        let Some(keys) = &progress.keys else {
            return;
        };
        if progress.connecting || !progress.gathered || !progress.remote_complete {
            return;
        }
        progress.connecting = true;
        actions.push(Action::Connect {
            call_id,
            role,
            remote: progress.remote.clone(),
            path_key: keys.path.clone(),
        });
    }

    fn input<R: RngCore + CryptoRng>(
        &mut self,
        input: Input,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Action>> {
        let mut actions = Vec::new();
        for effect in self.machine.handle(input, now_ms) {
            match effect {
                Effect::Send { call, signal } => {
                    let session = self
                        .sessions
                        .entry(call.call_id)
                        .or_insert_with(|| CallSession::outgoing(call.call_id));
                    let signal = match signal {
                        // Busy, hangup and reject need no key material.
                        Outbound::Offer | Outbound::Answer => session.signal_for(signal, rng)?,
                        other => CallSignal {
                            call_id: call.call_id,
                            kind: match other {
                                Outbound::Busy => SignalKind::Busy,
                                Outbound::Reject => SignalKind::Reject,
                                _ => SignalKind::Hangup,
                            },
                        },
                    };
                    actions.push(Action::Send {
                        peer: call.peer,
                        signal,
                    });
                }
                Effect::StartMedia { call, .. } => {
                    self.progress.entry(call.call_id).or_default();
                    actions.push(Action::Gather(call.call_id));
                }
                Effect::StopMedia(call_id) => actions.push(Action::StopMedia(call_id)),
                Effect::Notify(event) => actions.push(Action::Ui(event)),
            }
        }
        // Forget what belongs to calls that are over (the secret of an
        // unfinished exchange with them).
        let active = self.machine.state().active_call().map(|c| c.call_id);
        self.sessions.retain(|id, _| Some(*id) == active);
        self.progress.retain(|id, _| Some(*id) == active);
        Ok(actions)
    }
}
