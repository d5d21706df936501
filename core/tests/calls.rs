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
    assert_eq!(alice_keys.media.send, bob_keys.media.receive);
    assert_eq!(alice_keys.media.receive, bob_keys.media.send);
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
    assert_eq!(mallory_alice_keys.media.receive, alice_keys.media.send);
    assert_eq!(mallory_bob_keys.media.send, bob_keys.media.receive);
    // … but Alice and Bob do not share keys, and their words differ.
    assert_ne!(alice_keys.media.send, bob_keys.media.receive);
    assert_ne!(alice_keys.media.receive, bob_keys.media.send);
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
    assert_ne!(caller_keys.media.send, callee_keys.media.receive);
    Ok(())
}
