//! Calls through the public API: signalling over real Signal sessions
//! (in-memory stores), the key exchange on both phones, stale offers, and
//! a man in the middle who swaps ephemeral keys.

mod support;

use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use sotto_core::call::{
    self, CallId, CallMachine, CallParties, CallSignal, CallState, CallTimeouts, CalleeHandshake,
    CallerHandshake, Candidate, CandidateKind, Effect, Input, Outbound, ReceivedSignal, Role,
    SignalKind, UiEvent,
};
use sotto_core::messaging::{self, Received};
use sotto_core::store::SottoStore;
use sotto_core::Result;
use support::*;

/// Sends `signal` from `from` and delivers it to `to`; returns what `to`
/// received.
fn deliver<A: SottoStore, B: SottoStore>(
    from: &mut Party<A>,
    to: &mut Party<B>,
    signal: CallSignal,
    sent_at: SystemTime,
    rng: &mut StdRng,
) -> Result<ReceivedSignal> {
    let out = call::send_signal(&mut from.store, &from.peer, signal, sent_at, rng)?;
    messaging::mark_sent(&mut from.store, out.outbox_id)?;
    match messaging::receive(
        &mut to.store,
        &to.peer,
        &out.envelope.to_bytes(),
        now(),
        rng,
    )? {
        Received::CallSignal(received) => Ok(received),
        other => panic!("expected a call signal, got {other:?}"),
    }
}

fn ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[test]
fn a_call_is_set_up_over_signal_sessions_and_both_phones_agree() -> Result<()> {
    let mut rng = rng(81);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let mut alice_calls = CallMachine::new(CallTimeouts::default());
    let mut bob_calls = CallMachine::new(CallTimeouts::default());

    // Alice dials: the machine asks for an offer.
    let call_id = CallId::random(&mut rng);
    let effects = alice_calls.handle(
        Input::Dial {
            call_id,
            peer: alice.peer.clone(),
        },
        ms(now()),
    );
    assert!(matches!(
        &effects[0],
        Effect::Send {
            signal: Outbound::Offer,
            ..
        }
    ));
    let (caller, commitment) = CallerHandshake::start(call_id, &mut rng);
    let offer = CallSignal {
        call_id,
        kind: SignalKind::Offer(commitment),
    };
    let received = deliver(&mut alice, &mut bob, offer.clone(), now(), &mut rng)?;
    assert_eq!(received.signal, offer);
    assert!(!call::is_stale_offer(&received, now()));

    // Bob's phone rings; he accepts.
    bob_calls.handle(
        Input::Signal {
            from: bob.peer.clone(),
            signal: received.clone(),
        },
        ms(now()),
    );
    assert!(matches!(
        bob_calls.state(),
        CallState::IncomingRinging { .. }
    ));
    let effects = bob_calls.handle(Input::Accept, ms(now()));
    assert!(effects.contains(&Effect::StartMedia {
        call: call::CallRef {
            call_id,
            peer: bob.peer.clone()
        },
        role: Role::Callee
    }));
    let SignalKind::Offer(commitment) = received.signal.kind else {
        panic!("an offer")
    };
    let (callee, bob_key) = CalleeHandshake::accept(call_id, commitment, &mut rng);
    let answer = CallSignal {
        call_id,
        kind: SignalKind::Answer(bob_key),
    };
    let received = deliver(&mut bob, &mut alice, answer, now(), &mut rng)?;
    alice_calls.handle(
        Input::Signal {
            from: alice.peer.clone(),
            signal: received.clone(),
        },
        ms(now()),
    );
    assert!(matches!(
        alice_calls.state(),
        CallState::Connecting {
            role: Role::Caller,
            ..
        }
    ));

    // Alice finishes her keys and reveals her ephemeral key.
    let SignalKind::Answer(bob_key) = received.signal.kind else {
        panic!("an answer")
    };
    let (caller_id, callee_id) = call::identities(&alice.store, &alice.peer, Role::Caller)?;
    let (alice_keys, alice_key) = caller.finish(
        &bob_key,
        CallParties {
            caller: &caller_id,
            callee: &callee_id,
        },
    )?;
    let reveal = CallSignal {
        call_id,
        kind: SignalKind::KeyReveal(alice_key),
    };
    let received = deliver(&mut alice, &mut bob, reveal, now(), &mut rng)?;
    let SignalKind::KeyReveal(alice_key) = received.signal.kind else {
        panic!("a key reveal")
    };
    let (caller_id_at_bob, callee_id_at_bob) =
        call::identities(&bob.store, &bob.peer, Role::Callee)?;
    assert_eq!(
        (caller_id_at_bob, callee_id_at_bob),
        (caller_id, callee_id),
        "both phones name the same two identities"
    );
    let bob_keys = callee.finish(
        &alice_key,
        CallParties {
            caller: &caller_id_at_bob,
            callee: &callee_id_at_bob,
        },
    )?;
    assert!(same_key(&alice_keys.media.send, &bob_keys.media.receive));
    assert!(same_key(&alice_keys.media.receive, &bob_keys.media.send));
    assert_eq!(alice_keys.sas.words(), bob_keys.sas.words());

    // Candidates travel both ways, then Bob hangs up.
    let candidates = vec![
        Candidate {
            kind: CandidateKind::Host,
            address: "127.0.0.1:40000".parse().expect("address"),
        },
        Candidate {
            kind: CandidateKind::Relayed,
            address: "127.0.0.1:50000".parse().expect("address"),
        },
    ];
    let batch = CallSignal {
        call_id,
        kind: SignalKind::Candidates {
            candidates,
            complete: true,
        },
    };
    assert_eq!(
        deliver(&mut bob, &mut alice, batch.clone(), now(), &mut rng)?.signal,
        batch
    );
    let hangup = CallSignal {
        call_id,
        kind: SignalKind::Hangup,
    };
    let received = deliver(&mut bob, &mut alice, hangup, now(), &mut rng)?;
    alice_calls.handle(
        Input::Signal {
            from: alice.peer.clone(),
            signal: received,
        },
        ms(now()),
    );
    assert!(matches!(
        alice_calls.state(),
        CallState::Ended {
            reason: call::EndReason::HungUpThere,
            ..
        }
    ));
    // Signals are never stored as messages.
    assert!(alice.store.messages(&alice.peer, 10, None)?.is_empty());
    assert!(bob.store.messages(&bob.peer, 10, None)?.is_empty());
    Ok(())
}

#[test]
fn an_offer_older_than_a_minute_is_not_rung() -> Result<()> {
    let mut rng = rng(82);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let call_id = CallId::random(&mut rng);
    let (_caller, commitment) = CallerHandshake::start(call_id, &mut rng);
    // The offer waited in a mailbox for 61 s.
    let sent_at = now() - Duration::from_secs(61);
    let received = deliver(
        &mut alice,
        &mut bob,
        CallSignal {
            call_id,
            kind: SignalKind::Offer(commitment),
        },
        sent_at,
        &mut rng,
    )?;
    assert!(call::is_stale_offer(&received, now()));
    let mut machine = CallMachine::new(CallTimeouts::default());
    let effects = machine.handle(
        Input::Signal {
            from: bob.peer.clone(),
            signal: received,
        },
        ms(now()),
    );
    assert_eq!(machine.state(), &CallState::Idle);
    assert_eq!(
        effects,
        vec![Effect::Notify(UiEvent::Missed {
            peer: bob.peer.clone(),
            while_busy: false
        })]
    );
    Ok(())
}

/// Mallory sits on the signalling path (she holds both sessions, say,
/// because nobody verified safety numbers) and runs a key exchange with
/// each side. The media keys differ, and the words each phone shows differ,
/// so reading them aloud exposes her.
#[test]
fn a_man_in_the_middle_who_swaps_ephemeral_keys_is_exposed() -> Result<()> {
    let mut rng = rng(83);
    let (alice, _bob) = in_memory_pair(&mut rng)?;
    let (caller_id, callee_id) = call::identities(&alice.store, &alice.peer, Role::Caller)?;
    let parties = CallParties {
        caller: &caller_id,
        callee: &callee_id,
    };
    let call_id = CallId::random(&mut rng);

    // Alice → Mallory: offer. Mallory → Bob: her own offer, same call id.
    let (alice_side, alice_commitment) = CallerHandshake::start(call_id, &mut rng);
    let (mallory_to_bob, mallory_commitment) = CallerHandshake::start(call_id, &mut rng);
    // Bob answers Mallory; Mallory answers Alice with her own key.
    let (bob_side, bob_key) = CalleeHandshake::accept(call_id, mallory_commitment, &mut rng);
    let (mallory_to_alice, mallory_key) =
        CalleeHandshake::accept(call_id, alice_commitment, &mut rng);
    // Keys are finished on every leg.
    let (alice_keys, alice_revealed) = alice_side.finish(&mallory_key, parties)?;
    let (mallory_bob_keys, mallory_revealed) = mallory_to_bob.finish(&bob_key, parties)?;
    let bob_keys = bob_side.finish(&mallory_revealed, parties)?;
    let mallory_alice_keys = mallory_to_alice.finish(&alice_revealed, parties)?;

    // Mallory can read each leg (that is what a MITM is) …
    assert!(same_key(
        &mallory_alice_keys.media.receive,
        &alice_keys.media.send
    ));
    assert!(same_key(
        &mallory_bob_keys.media.send,
        &bob_keys.media.receive
    ));
    // … but Alice and Bob do not share keys, and their words differ.
    assert!(!same_key(&alice_keys.media.send, &bob_keys.media.receive));
    assert!(!same_key(&alice_keys.media.receive, &bob_keys.media.send));
    assert_ne!(
        alice_keys.sas.words(),
        bob_keys.sas.words(),
        "the two phones show different words"
    );
    Ok(())
}

/// Mallory swaps only the key in flight (she cannot run her own exchange
/// because she cannot forge the commitment): the call fails on the callee.
#[test]
fn a_swapped_key_reveal_fails_the_call() -> Result<()> {
    let mut rng = rng(84);
    let (alice, _bob) = in_memory_pair(&mut rng)?;
    let (caller_id, callee_id) = call::identities(&alice.store, &alice.peer, Role::Caller)?;
    let parties = CallParties {
        caller: &caller_id,
        callee: &callee_id,
    };
    let call_id = CallId::random(&mut rng);
    let (alice_side, commitment) = CallerHandshake::start(call_id, &mut rng);
    let (bob_side, bob_key) = CalleeHandshake::accept(call_id, commitment, &mut rng);
    let (_alice_keys, _revealed) = alice_side.finish(&bob_key, parties)?;
    let (mallory, _) = CallerHandshake::start(call_id, &mut rng);
    let (_, mallory_key) = mallory.finish(&bob_key, parties)?;
    assert!(matches!(
        bob_side.finish(&mallory_key, parties),
        Err(sotto_core::Error::CallKeys(_))
    ));
    Ok(())
}

/// The same exchange with the identities swapped (a relabelled caller)
/// gives other keys: identities are bound into the transcript.
#[test]
fn identities_are_bound_into_the_keys() -> Result<()> {
    let mut rng = rng(85);
    let (alice, _bob) = in_memory_pair(&mut rng)?;
    let (caller_id, callee_id) = call::identities(&alice.store, &alice.peer, Role::Caller)?;
    let call_id = CallId::random(&mut rng);
    let (caller, commitment) = CallerHandshake::start(call_id, &mut rng);
    let (callee, key) = CalleeHandshake::accept(call_id, commitment, &mut rng);
    let (caller_keys, revealed) = caller.finish(
        &key,
        CallParties {
            caller: &caller_id,
            callee: &callee_id,
        },
    )?;
    let callee_keys = callee.finish(
        &revealed,
        CallParties {
            caller: &callee_id,
            callee: &caller_id,
        },
    )?;
    assert!(!same_key(
        &caller_keys.media.send,
        &callee_keys.media.receive
    ));
    Ok(())
}

/// A phone as a driver would run it: the state machine, one
/// `CallSession` per call id, and the keys once made.
struct Phone<S> {
    party: Party<S>,
    machine: CallMachine,
    sessions: std::collections::HashMap<CallId, call::CallSession>,
    keys: Option<call::CallKeys>,
}

impl<S: SottoStore> Phone<S> {
    fn new(party: Party<S>) -> Self {
        Self {
            party,
            machine: CallMachine::new(CallTimeouts::default()),
            sessions: std::collections::HashMap::new(),
            keys: None,
        }
    }

    /// Applies `input` and performs the effects; returns the signals to send.
    fn input(&mut self, input: Input, rng: &mut StdRng) -> Result<Vec<CallSignal>> {
        if let Input::Dial { call_id, .. } = &input {
            self.sessions
                .insert(*call_id, call::CallSession::outgoing(*call_id));
        }
        let mut out = Vec::new();
        for effect in self.machine.handle(input, ms(now())) {
            if let Effect::Send { call, signal } = effect {
                let session = self
                    .sessions
                    .get_mut(&call.call_id)
                    .expect("a session for every call the machine names");
                out.push(session.signal_for(signal, rng)?);
            }
        }
        Ok(out)
    }

    /// Handles a received signal: keys first, then the machine.
    fn receive(&mut self, received: ReceivedSignal, rng: &mut StdRng) -> Result<Vec<CallSignal>> {
        let signal = &received.signal;
        let mut out = Vec::new();
        if let SignalKind::Offer(commitment) = signal.kind {
            self.sessions
                .entry(signal.call_id)
                .or_insert_with(|| call::CallSession::incoming(signal.call_id, commitment));
        }
        if let Some(session) = self.sessions.get_mut(&signal.call_id) {
            let role = match signal.kind {
                SignalKind::Answer(_) => Role::Caller,
                _ => Role::Callee,
            };
            let (caller, callee) = call::identities(&self.party.store, &self.party.peer, role)?;
            let parties = CallParties {
                caller: &caller,
                callee: &callee,
            };
            match session.on_signal(&signal.kind, parties)? {
                call::KeyProgress::CallerReady(keys, reveal) => {
                    self.keys = Some(keys);
                    out.push(reveal);
                }
                call::KeyProgress::CalleeReady(keys) => self.keys = Some(keys),
                call::KeyProgress::Nothing => {}
            }
        }
        let from = self.party.peer.clone();
        out.extend(self.input(
            Input::Signal {
                from,
                signal: received,
            },
            rng,
        )?);
        Ok(out)
    }
}

/// Delivers `signals` from one phone to the other and returns the replies.
fn exchange<A: SottoStore, B: SottoStore>(
    from: &mut Phone<A>,
    to: &mut Phone<B>,
    signals: Vec<CallSignal>,
    rng: &mut StdRng,
) -> Result<Vec<CallSignal>> {
    let mut replies = Vec::new();
    for signal in signals {
        let received = deliver(&mut from.party, &mut to.party, signal, now(), rng)?;
        replies.extend(to.receive(received, rng)?);
    }
    Ok(replies)
}

/// Runs signals back and forth until neither phone has any to send.
fn settle<S: SottoStore>(
    a: &mut Phone<S>,
    b: &mut Phone<S>,
    mut from_a: Vec<CallSignal>,
    mut from_b: Vec<CallSignal>,
    rng: &mut StdRng,
) -> Result<()> {
    for _ in 0..10 {
        if from_a.is_empty() && from_b.is_empty() {
            return Ok(());
        }
        let to_a = exchange(a, b, std::mem::take(&mut from_a), rng)?;
        let to_b = exchange(b, a, std::mem::take(&mut from_b), rng)?;
        from_b.extend(to_a);
        from_a.extend(to_b);
    }
    panic!("signalling did not settle");
}

#[test]
fn two_driven_phones_set_up_a_call_and_agree_on_keys() -> Result<()> {
    let mut rng = rng(86);
    let (alice, bob) = in_memory_pair(&mut rng)?;
    let (mut alice, mut bob) = (Phone::new(alice), Phone::new(bob));
    let call_id = CallId::random(&mut rng);
    let offer = alice.input(
        Input::Dial {
            call_id,
            peer: alice.party.peer.clone(),
        },
        &mut rng,
    )?;
    settle(&mut alice, &mut bob, offer, Vec::new(), &mut rng)?;
    assert!(matches!(
        bob.machine.state(),
        CallState::IncomingRinging { .. }
    ));
    let answer = bob.input(Input::Accept, &mut rng)?;
    settle(&mut alice, &mut bob, Vec::new(), answer, &mut rng)?;
    let (a, b) = (
        alice.keys.as_ref().expect("alice's keys"),
        bob.keys.as_ref().expect("bob's keys"),
    );
    assert!(same_key(&a.media.send, &b.media.receive));
    assert_eq!(a.sas.words(), b.sas.words());
    assert!(matches!(
        alice.machine.state(),
        CallState::Connecting {
            role: Role::Caller,
            ..
        }
    ));
    assert!(matches!(
        bob.machine.state(),
        CallState::Connecting {
            role: Role::Callee,
            ..
        }
    ));
    Ok(())
}

#[test]
fn glare_between_driven_phones_ends_in_one_call_with_equal_words() -> Result<()> {
    let mut rng = rng(87);
    let (alice, bob) = in_memory_pair(&mut rng)?;
    let (mut alice, mut bob) = (Phone::new(alice), Phone::new(bob));
    // Bob needs his half of the session before he can send first.
    let text = messaging::send_text(
        &mut alice.party.store,
        &alice.party.peer,
        "hi",
        now(),
        &mut rng,
    )?;
    messaging::receive(
        &mut bob.party.store,
        &bob.party.peer,
        &text.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;

    let alice_call = CallId([0x11; 16]);
    let bob_call = CallId([0x22; 16]);
    let from_alice = alice.input(
        Input::Dial {
            call_id: alice_call,
            peer: alice.party.peer.clone(),
        },
        &mut rng,
    )?;
    let from_bob = bob.input(
        Input::Dial {
            call_id: bob_call,
            peer: bob.party.peer.clone(),
        },
        &mut rng,
    )?;
    // The offers cross; the machines settle on Alice's (smaller) call id.
    settle(&mut alice, &mut bob, from_alice, from_bob, &mut rng)?;
    for state in [alice.machine.state(), bob.machine.state()] {
        assert!(
            matches!(state, CallState::Connecting { call, .. } if call.call_id == alice_call),
            "{state:?}"
        );
    }
    let (a, b) = (
        alice.keys.as_ref().expect("alice's keys"),
        bob.keys.as_ref().expect("bob's keys"),
    );
    assert!(same_key(&a.media.send, &b.media.receive));
    assert_eq!(a.sas.words(), b.sas.words());
    Ok(())
}
