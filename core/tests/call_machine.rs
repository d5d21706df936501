//! The call state machine, transition by transition: every input in every
//! state it changes, the timeouts, glare, busy, stale offers, and inputs
//! that must change nothing.

use std::time::Duration;

use sotto_core::call::{
    step, CallId, CallMachine, CallRef, CallSignal, CallState, CallTimeouts, Effect, EndReason,
    EphemeralKey, Input, KeyCommitment, Outbound, ReceivedSignal, Role, SignalKind, UiEvent,
};
use sotto_core::store::ContactId;

const T0: u64 = 1_700_000_000_000;

fn timeouts() -> CallTimeouts {
    CallTimeouts {
        ring: Duration::from_secs(60),
        connect: Duration::from_secs(20),
    }
}

fn peer(name: &str) -> ContactId {
    ContactId::from_string(name.into())
}

fn call(id: u8, name: &str) -> CallRef {
    CallRef {
        call_id: CallId([id; 16]),
        peer: peer(name),
    }
}

fn signal(call: &CallRef, kind: SignalKind, sent_at_ms: u64) -> Input {
    Input::Signal {
        from: call.peer.clone(),
        signal: ReceivedSignal {
            signal: CallSignal {
                call_id: call.call_id,
                kind,
            },
            sent_at_ms,
        },
    }
}

fn offer(call: &CallRef, sent_at_ms: u64) -> Input {
    signal(call, SignalKind::Offer(KeyCommitment([1; 32])), sent_at_ms)
}

fn answer(call: &CallRef) -> Input {
    signal(call, SignalKind::Answer(EphemeralKey([2; 32])), T0)
}

fn outgoing(call: &CallRef) -> CallState {
    CallState::OutgoingRinging {
        call: call.clone(),
        deadline_ms: T0 + 60_000,
    }
}

fn incoming(call: &CallRef) -> CallState {
    CallState::IncomingRinging {
        call: call.clone(),
        deadline_ms: T0 + 60_000,
    }
}

fn connecting(call: &CallRef, role: Role) -> CallState {
    CallState::Connecting {
        call: call.clone(),
        role,
        deadline_ms: T0 + 20_000,
    }
}

fn connected(call: &CallRef, role: Role) -> CallState {
    CallState::Connected {
        call: call.clone(),
        role,
    }
}

fn ended(call: &CallRef, reason: EndReason) -> CallState {
    CallState::Ended {
        call: call.clone(),
        reason,
    }
}

fn send(call: &CallRef, signal: Outbound) -> Effect {
    Effect::Send {
        call: call.clone(),
        signal,
    }
}

fn notify(state: &CallState) -> Effect {
    Effect::Notify(UiEvent::State(state.clone()))
}

/// Asserts one step: `from` + `input` at `now` gives `to` and `effects`.
fn check(from: CallState, input: Input, now: u64, to: CallState, effects: Vec<Effect>) {
    let transition = step(&from, input.clone(), now, &timeouts());
    assert_eq!(transition.state, to, "state after {input:?} in {from:?}");
    assert_eq!(
        transition.effects, effects,
        "effects of {input:?} in {from:?}"
    );
}

/// Asserts that `input` changes nothing in `state`.
fn unchanged(state: CallState, input: Input, now: u64) {
    check(state.clone(), input, now, state, Vec::new());
}

#[test]
fn dialling_rings_out_from_idle_and_from_ended() {
    let c = call(5, "bob");
    let dial = Input::Dial {
        call_id: c.call_id,
        peer: c.peer.clone(),
    };
    for start in [
        CallState::Idle,
        ended(&call(1, "carol"), EndReason::HungUpHere),
    ] {
        check(
            start,
            dial.clone(),
            T0,
            outgoing(&c),
            vec![send(&c, Outbound::Offer), notify(&outgoing(&c))],
        );
    }
    // Dialling during a call does nothing.
    unchanged(connected(&call(1, "carol"), Role::Caller), dial, T0);
}

#[test]
fn outgoing_ringing_transitions() {
    let c = call(5, "bob");
    let to_connecting = connecting(&c, Role::Caller);
    check(
        outgoing(&c),
        answer(&c),
        T0,
        to_connecting.clone(),
        vec![
            Effect::StartMedia {
                call: c.clone(),
                role: Role::Caller,
            },
            notify(&to_connecting),
        ],
    );
    for (kind, reason) in [
        (SignalKind::Busy, EndReason::BusyThere),
        (SignalKind::Reject, EndReason::DeclinedThere),
        (SignalKind::Hangup, EndReason::HungUpThere),
    ] {
        let end = ended(&c, reason);
        check(
            outgoing(&c),
            signal(&c, kind, T0),
            T0,
            end.clone(),
            vec![notify(&end)],
        );
    }
    let cancelled = ended(&c, EndReason::HungUpHere);
    check(
        outgoing(&c),
        Input::HangUp,
        T0,
        cancelled.clone(),
        vec![send(&c, Outbound::Hangup), notify(&cancelled)],
    );
    // Ring timeout: nothing before the deadline, NoAnswer at it.
    unchanged(outgoing(&c), Input::Tick, T0 + 59_999);
    let no_answer = ended(&c, EndReason::NoAnswer);
    check(
        outgoing(&c),
        Input::Tick,
        T0 + 60_000,
        no_answer.clone(),
        vec![send(&c, Outbound::Hangup), notify(&no_answer)],
    );
    // An answer for another call, or from another contact, is ignored.
    unchanged(outgoing(&c), answer(&call(6, "bob")), T0);
    unchanged(outgoing(&c), answer(&call(5, "mallory")), T0);
    // Local inputs that need a ringing incoming call do nothing.
    unchanged(outgoing(&c), Input::Accept, T0);
    unchanged(outgoing(&c), Input::Decline, T0);
}

#[test]
fn incoming_ringing_transitions() {
    let c = call(5, "alice");
    check(
        CallState::Idle,
        offer(&c, T0 - 1_000),
        T0,
        incoming(&c),
        vec![notify(&incoming(&c))],
    );
    let to_connecting = connecting(&c, Role::Callee);
    check(
        incoming(&c),
        Input::Accept,
        T0,
        to_connecting.clone(),
        vec![
            send(&c, Outbound::Answer),
            Effect::StartMedia {
                call: c.clone(),
                role: Role::Callee,
            },
            notify(&to_connecting),
        ],
    );
    let declined = ended(&c, EndReason::DeclinedHere);
    check(
        incoming(&c),
        Input::Decline,
        T0,
        declined.clone(),
        vec![send(&c, Outbound::Reject), notify(&declined)],
    );
    let hung_up = ended(&c, EndReason::HungUpHere);
    check(
        incoming(&c),
        Input::HangUp,
        T0,
        hung_up.clone(),
        vec![send(&c, Outbound::Hangup), notify(&hung_up)],
    );
    // The caller gives up: a missed call.
    let missed = ended(&c, EndReason::Missed);
    check(
        incoming(&c),
        signal(&c, SignalKind::Hangup, T0),
        T0,
        missed.clone(),
        vec![notify(&missed)],
    );
    // Ring timeout.
    unchanged(incoming(&c), Input::Tick, T0 + 59_999);
    check(
        incoming(&c),
        Input::Tick,
        T0 + 60_000,
        missed.clone(),
        vec![notify(&missed)],
    );
    // A re-delivered copy of the same offer changes nothing.
    unchanged(incoming(&c), offer(&c, T0), T0);
}

#[test]
fn connecting_and_connected_transitions() {
    let c = call(5, "bob");
    for role in [Role::Caller, Role::Callee] {
        let up = connected(&c, role);
        check(
            connecting(&c, role),
            Input::MediaConnected(c.call_id),
            T0,
            up.clone(),
            vec![notify(&up)],
        );
        // A media event of another call is ignored.
        unchanged(
            connecting(&c, role),
            Input::MediaConnected(CallId([9; 16])),
            T0,
        );
        for state in [connecting(&c, role), connected(&c, role)] {
            let here = ended(&c, EndReason::HungUpHere);
            check(
                state.clone(),
                Input::HangUp,
                T0,
                here.clone(),
                vec![
                    send(&c, Outbound::Hangup),
                    Effect::StopMedia(c.call_id),
                    notify(&here),
                ],
            );
            let there = ended(&c, EndReason::HungUpThere);
            check(
                state.clone(),
                signal(&c, SignalKind::Hangup, T0),
                T0,
                there.clone(),
                vec![Effect::StopMedia(c.call_id), notify(&there)],
            );
            let failed = ended(&c, EndReason::MediaFailed);
            check(
                state.clone(),
                Input::MediaFailed(c.call_id),
                T0,
                failed.clone(),
                vec![
                    send(&c, Outbound::Hangup),
                    Effect::StopMedia(c.call_id),
                    notify(&failed),
                ],
            );
            // Key reveals and candidates are the driver's business.
            unchanged(
                state.clone(),
                signal(&c, SignalKind::KeyReveal(EphemeralKey([3; 32])), T0),
                T0,
            );
        }
        // Connect timeout, and none once connected.
        unchanged(connecting(&c, role), Input::Tick, T0 + 19_999);
        let timed_out = ended(&c, EndReason::ConnectTimeout);
        check(
            connecting(&c, role),
            Input::Tick,
            T0 + 20_000,
            timed_out.clone(),
            vec![
                send(&c, Outbound::Hangup),
                Effect::StopMedia(c.call_id),
                notify(&timed_out),
            ],
        );
        unchanged(connected(&c, role), Input::Tick, T0 + 3_600_000);
    }
}

#[test]
fn an_offer_during_a_call_gets_busy() {
    let ours = call(5, "bob");
    let other = call(7, "carol");
    for state in [
        outgoing(&ours),
        incoming(&ours),
        connecting(&ours, Role::Caller),
        connected(&ours, Role::Callee),
    ] {
        check(
            state.clone(),
            offer(&other, T0),
            T0,
            state,
            vec![
                send(&other, Outbound::Busy),
                Effect::Notify(UiEvent::Missed {
                    peer: other.peer.clone(),
                    while_busy: true,
                }),
            ],
        );
    }
    // The same peer offering a new call while connected is busy too:
    // that is not glare.
    let again = call(1, "bob");
    check(
        connected(&ours, Role::Caller),
        offer(&again, T0),
        T0,
        connected(&ours, Role::Caller),
        vec![
            send(&again, Outbound::Busy),
            Effect::Notify(UiEvent::Missed {
                peer: again.peer.clone(),
                while_busy: true,
            }),
        ],
    );
}

#[test]
fn stale_offers_do_not_ring() {
    let c = call(5, "alice");
    // 60 s old still rings; older does not.
    check(
        CallState::Idle,
        offer(&c, T0 - 60_000),
        T0,
        incoming(&c),
        vec![notify(&incoming(&c))],
    );
    check(
        CallState::Idle,
        offer(&c, T0 - 60_001),
        T0,
        CallState::Idle,
        vec![Effect::Notify(UiEvent::Missed {
            peer: c.peer.clone(),
            while_busy: false,
        })],
    );
}

/// Both phones dial each other at once. Each receives the other's offer
/// while ringing out; the call with the smaller id survives on both.
#[test]
fn glare_settles_on_the_smaller_call_id_on_both_phones() {
    let t = timeouts();
    let mut alice = CallMachine::new(t);
    let mut bob = CallMachine::new(t);
    let alice_call = CallId([0x10; 16]);
    let bob_call = CallId([0x20; 16]);
    let bob_for_alice = peer("bob");
    let alice_for_bob = peer("alice");
    alice.handle(
        Input::Dial {
            call_id: alice_call,
            peer: bob_for_alice.clone(),
        },
        T0,
    );
    bob.handle(
        Input::Dial {
            call_id: bob_call,
            peer: alice_for_bob.clone(),
        },
        T0,
    );
    // The offers cross.
    let at_alice = alice.handle(
        offer(
            &CallRef {
                call_id: bob_call,
                peer: bob_for_alice.clone(),
            },
            T0,
        ),
        T0 + 100,
    );
    let at_bob = bob.handle(
        offer(
            &CallRef {
                call_id: alice_call,
                peer: alice_for_bob.clone(),
            },
            T0,
        ),
        T0 + 100,
    );
    // Alice's id is smaller: she keeps ringing out and ignores Bob's offer.
    assert!(at_alice.is_empty());
    assert!(
        matches!(alice.state(), CallState::OutgoingRinging { call, .. } if call.call_id == alice_call)
    );
    // Bob drops his own call and answers Alice's at once.
    let alices_call_at_bob = CallRef {
        call_id: alice_call,
        peer: alice_for_bob.clone(),
    };
    assert_eq!(bob.state(), &connecting_at(&alices_call_at_bob, T0 + 100));
    assert_eq!(at_bob[0], send(&alices_call_at_bob, Outbound::Answer));
    // Bob's answer reaches Alice: both are connecting the same call.
    alice.handle(
        answer(&CallRef {
            call_id: alice_call,
            peer: bob_for_alice,
        }),
        T0 + 200,
    );
    assert!(matches!(
        alice.state(),
        CallState::Connecting { call, role: Role::Caller, .. } if call.call_id == alice_call
    ));
    // And the rule is symmetric: had the ids been the other way round,
    // Alice would have been the one to answer.
    let flipped = step(
        &outgoing(&call(0x30, "bob")),
        offer(&call(0x20, "bob"), T0),
        T0,
        &t,
    );
    assert!(matches!(
        flipped.state,
        CallState::Connecting {
            role: Role::Callee,
            ..
        }
    ));
}

fn connecting_at(call: &CallRef, now: u64) -> CallState {
    CallState::Connecting {
        call: call.clone(),
        role: Role::Callee,
        deadline_ms: now + 20_000,
    }
}

#[test]
fn signals_with_nothing_in_progress_change_nothing() {
    let c = call(5, "bob");
    for input in [
        answer(&c),
        signal(&c, SignalKind::Hangup, T0),
        signal(&c, SignalKind::Busy, T0),
        Input::Accept,
        Input::Decline,
        Input::HangUp,
        Input::MediaConnected(c.call_id),
        Input::MediaFailed(c.call_id),
        Input::Tick,
    ] {
        unchanged(CallState::Idle, input.clone(), T0);
        unchanged(ended(&c, EndReason::NoAnswer), input, T0);
    }
}

#[test]
fn the_machine_reports_its_next_deadline() {
    let mut machine = CallMachine::new(timeouts());
    assert_eq!(machine.next_deadline_ms(), None);
    machine.handle(
        Input::Dial {
            call_id: CallId([1; 16]),
            peer: peer("bob"),
        },
        T0,
    );
    assert_eq!(machine.next_deadline_ms(), Some(T0 + 60_000));
    machine.handle(Input::Tick, T0 + 60_000);
    assert_eq!(
        machine.state(),
        &ended(&call(1, "bob"), EndReason::NoAnswer)
    );
    assert_eq!(machine.next_deadline_ms(), None);
}
