//! The discovery handshake and encrypted texts over a perfect SMS line:
//! sizes, data SMS, and refusals (bad bundles, changed identities).

mod support;

use std::time::SystemTime;

use rand::rngs::StdRng;
use sotto_core::messaging::Received;
use sotto_core::relay::invite::RelayInvite;
use sotto_core::sms::{
    LegKind, PhoneNumber, SmsBody, SmsCodec, SmsConfig, SmsEndpoint, SmsEvent, SmsFrame, Step,
};
use sotto_core::store::{ContactId, InMemStore, SottoStore};
use sotto_core::{Error, Result};
use support::*;

struct Phone {
    number: PhoneNumber,
    store: InMemStore,
    endpoint: SmsEndpoint,
    events: Vec<SmsEvent>,
}

fn phone(number: &str, data_sms: bool, rng: &mut StdRng) -> Result<Phone> {
    phone_on(number, None, data_sms, rng)
}

/// A phone whose account receives on `relay`.
fn phone_on(
    number: &str,
    relay: Option<RelayInvite>,
    data_sms: bool,
    rng: &mut StdRng,
) -> Result<Phone> {
    Ok(Phone {
        number: PhoneNumber::parse(number, "DE")?,
        store: with_account(InMemStore::new(), rng)?,
        // These phones' users agree to every stranger's hello: consent is
        // tested on its own (`a_strangers_hello_waits_for_the_user`).
        endpoint: SmsEndpoint::new(SmsConfig {
            data_sms,
            own_relay: relay,
            ask_before_answering_strangers: false,
            ..SmsConfig::default()
        }),
        events: Vec::new(),
    })
}

/// Delivers `step` from `from` to `to` and everything that answers it,
/// back and forth, until both are quiet; returns the SMS count each way.
fn exchange(from: &mut Phone, to: &mut Phone, step: Step, rng: &mut StdRng) -> Result<usize> {
    let mut in_flight = vec![(true, step)];
    let mut sms = 0;
    while let Some((forward, step)) = in_flight.pop() {
        let (sender, receiver) = if forward {
            (&mut *from, &mut *to)
        } else {
            (&mut *to, &mut *from)
        };
        for id in step.outbox_ids {
            sotto_core::messaging::mark_sent(&mut sender.store, id)?;
        }
        sender.events.extend(step.events);
        for out in step.outgoing {
            sms += 1;
            assert_eq!(out.to, receiver.number);
            let reply = match out.body {
                SmsBody::Text(text) => receiver.endpoint.receive_text(
                    &mut receiver.store,
                    &sender.number,
                    &text,
                    SystemTime::now(),
                    rng,
                )?,
                SmsBody::Data { bytes, .. } => receiver.endpoint.receive_data(
                    &mut receiver.store,
                    &sender.number,
                    &bytes,
                    SystemTime::now(),
                    rng,
                )?,
            };
            in_flight.push((!forward, reply));
        }
    }
    Ok(sms)
}

fn handshake(
    a: &mut Phone,
    b: &mut Phone,
    rng: &mut StdRng,
) -> Result<(ContactId, ContactId, usize)> {
    let b_number = b.number.clone();
    let (b_at_a, step) = a
        .endpoint
        .start_handshake(&mut a.store, &b_number, "Bob", now(), rng)?;
    let sms = exchange(a, b, step, rng)?;
    let a_at_b = b
        .events
        .iter()
        .find_map(|e| match e {
            SmsEvent::HandshakeAnswered {
                contact,
                new_contact: true,
            } => Some(contact.clone()),
            _ => None,
        })
        .expect("B answered");
    assert!(a
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::SessionReady { .. })));
    assert!(b
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::SessionReady { .. })));
    Ok((b_at_a, a_at_b, sms))
}

fn last_text(events: &[SmsEvent]) -> Option<&str> {
    events.iter().rev().find_map(|e| match e {
        SmsEvent::Received {
            received: Received::Text(m),
            ..
        } => Some(m.body.as_str()),
        _ => None,
    })
}

#[test]
fn a_sixty_character_text_takes_at_most_two_texts_after_the_handshake() -> Result<()> {
    let mut rng = rng(1);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let (b_at_a, a_at_b, handshake_sms) = handshake(&mut a, &mut b, &mut rng)?;
    assert!(handshake_sms <= 32, "{handshake_sms}");
    let text = "Running ten minutes late, save me a seat near the window pls";
    assert_eq!(text.len(), 60);
    for round in 0..4 {
        let step = a
            .endpoint
            .send_text(&mut a.store, &b_at_a, text, now(), &mut rng)?;
        assert!(
            step.outgoing.len() <= 2,
            "A→B round {round}: {}",
            step.outgoing.len()
        );
        exchange(&mut a, &mut b, step, &mut rng)?;
        assert_eq!(last_text(&b.events), Some(text));
        let step = b
            .endpoint
            .send_text(&mut b.store, &a_at_b, text, now(), &mut rng)?;
        assert!(
            step.outgoing.len() <= 2,
            "B→A round {round}: {}",
            step.outgoing.len()
        );
        exchange(&mut b, &mut a, step, &mut rng)?;
        assert_eq!(last_text(&a.events), Some(text));
    }
    Ok(())
}

/// How many times a phone was told a session is ready.
fn session_ready_count(events: &[SmsEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, SmsEvent::SessionReady { .. }))
        .count()
}

/// A relay invite for `host`, with a real trust root key.
fn relay(host: &str, rng: &mut StdRng) -> RelayInvite {
    RelayInvite {
        host: host.into(),
        port: 7443,
        trust_root: libsignal_protocol::KeyPair::generate(rng).public_key,
    }
}

#[test]
fn a_session_takes_at_most_32_sms_and_the_relays_follow_with_the_first_text() -> Result<()> {
    let mut rng = rng(9);
    let shared = relay("relay.example.org", &mut rng);
    let other = relay("sotto.example.net", &mut rng);
    // (A's relay, B's relay, SMS budget for the handshake). Across relays
    // the third leg promises A's relay instead of carrying it
    // (docs/sms-transport.md, "Why the relay follows").
    let cases = [
        (Some(shared.clone()), Some(shared.clone()), 32),
        (None, None, 31),
        (Some(shared.clone()), None, 32),
        (None, Some(shared.clone()), 32),
        (Some(shared), Some(other), 32),
    ];
    for (relay_a, relay_b, budget) in cases {
        let mut a = phone_on("+4930901820", relay_a.clone(), false, &mut rng)?;
        let mut b = phone_on("+4915123456789", relay_b.clone(), false, &mut rng)?;
        let (b_at_a, a_at_b, sms) = handshake(&mut a, &mut b, &mut rng)?;
        assert!(sms <= budget, "{sms} SMS, budget {budget}");
        // A knows where B receives, from inside the session.
        assert_eq!(a.store.contact(&b_at_a)?.and_then(|c| c.relay), relay_b);
        let across = relay_a.is_some() && relay_a != relay_b;
        let at_b = b.store.contact(&a_at_b)?.and_then(|c| c.relay);
        assert_eq!(at_b, if across { None } else { relay_a.clone() });
        // A's first text brings A's relay; it rides only once.
        let step = a
            .endpoint
            .send_text(&mut a.store, &b_at_a, "hi, it's me", now(), &mut rng)?;
        exchange(&mut a, &mut b, step, &mut rng)?;
        assert_eq!(last_text(&b.events), Some("hi, it's me"));
        assert_eq!(b.store.contact(&a_at_b)?.and_then(|c| c.relay), relay_a);
        let step = b
            .endpoint
            .send_text(&mut b.store, &a_at_b, "hello", now(), &mut rng)?;
        exchange(&mut b, &mut a, step, &mut rng)?;
        // B wrote after it: nothing is owed any more, and the same short
        // text goes without the relay (one SMS; with it, two).
        let owed = a.endpoint.waiting_legs();
        assert!(owed.iter().all(|l| l.kind != LegKind::RelayOwed));
        let step = a
            .endpoint
            .send_text(&mut a.store, &b_at_a, "hi, it's me", now(), &mut rng)?;
        assert_eq!(step.outgoing.len(), 1);
        exchange(&mut a, &mut b, step, &mut rng)?;
    }
    Ok(())
}

#[test]
fn a_promised_relay_rides_two_texts_at_most_when_the_contact_never_writes() -> Result<()> {
    let mut rng = rng(12);
    let relay_a = relay("relay.example.org", &mut rng);
    let relay_b = relay("sotto.example.net", &mut rng);
    let mut a = phone_on("+4930901820", Some(relay_a.clone()), false, &mut rng)?;
    let mut b = phone_on("+4915123456789", Some(relay_b), false, &mut rng)?;
    let (b_at_a, a_at_b, _) = handshake(&mut a, &mut b, &mut rng)?;
    // B reads but never writes by SMS: the first two texts carry A's relay
    // (two SMS each), the third goes without it (one SMS).
    let mut sizes = Vec::new();
    for _ in 0..3 {
        let step = a
            .endpoint
            .send_text(&mut a.store, &b_at_a, "hi, it's me", now(), &mut rng)?;
        sizes.push(step.outgoing.len());
        exchange(&mut a, &mut b, step, &mut rng)?;
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(
        b.store.contact(&a_at_b)?.and_then(|c| c.relay),
        Some(relay_a)
    );
    // Once no resend request can ask for those texts, the promise is gone.
    let later = now() + SmsConfig::default().sent_cache_age;
    let step = a.endpoint.tick(&mut a.store, later, &mut rng)?;
    assert!(step.outgoing.is_empty());
    let owed = a.endpoint.waiting_legs();
    assert!(owed.iter().all(|l| l.kind != LegKind::RelayOwed));
    Ok(())
}

#[test]
fn a_promised_relay_goes_on_its_own_when_no_text_takes_it() -> Result<()> {
    let mut rng = rng(10);
    let relay_a = relay("relay.example.org", &mut rng);
    let relay_b = relay("sotto.example.net", &mut rng);
    let mut a = phone_on("+4930901820", Some(relay_a.clone()), false, &mut rng)?;
    let mut b = phone_on("+4915123456789", Some(relay_b), false, &mut rng)?;
    let (_, a_at_b, _) = handshake(&mut a, &mut b, &mut rng)?;
    assert_eq!(b.store.contact(&a_at_b)?.and_then(|c| c.relay), None);
    // Not before the retry interval: a text may still take it for free.
    let soon = now() + std::time::Duration::from_secs(60);
    assert!(a
        .endpoint
        .tick(&mut a.store, soon, &mut rng)?
        .outgoing
        .is_empty());
    // The legs kept across a restart include the promise.
    let legs = a.endpoint.waiting_legs();
    assert!(legs.iter().any(|l| l.kind == LegKind::RelayOwed));
    let mut restarted = SmsEndpoint::new(a.endpoint.config().clone());
    restarted.restore_legs(legs);
    a.endpoint = restarted;
    let later = now() + SmsConfig::default().hello_retry;
    let step = a.endpoint.tick(&mut a.store, later, &mut rng)?;
    assert_eq!(step.outgoing.len(), 2);
    let ready_before = session_ready_count(&b.events);
    exchange(&mut a, &mut b, step, &mut rng)?;
    assert_eq!(
        b.store.contact(&a_at_b)?.and_then(|c| c.relay),
        Some(relay_a)
    );
    // A relay arriving is not a session made ready again.
    assert_eq!(session_ready_count(&b.events), ready_before);
    // Sent once: later ticks send nothing more.
    let much_later = later + SmsConfig::default().hello_retry;
    assert!(a
        .endpoint
        .tick(&mut a.store, much_later, &mut rng)?
        .outgoing
        .is_empty());
    Ok(())
}

#[test]
fn data_sms_carry_the_handshake_and_texts() -> Result<()> {
    let mut rng = rng(2);
    let mut a = phone("+4930901820", true, &mut rng)?;
    let mut b = phone("+4915123456789", true, &mut rng)?;
    let (b_at_a, _, handshake_sms) = handshake(&mut a, &mut b, &mut rng)?;
    assert!(handshake_sms <= 31, "{handshake_sms}");
    let step = a
        .endpoint
        .send_text(&mut a.store, &b_at_a, "over data SMS", now(), &mut rng)?;
    assert!(step
        .outgoing
        .iter()
        .all(|o| matches!(o.body, SmsBody::Data { port: 6284, .. })));
    exchange(&mut a, &mut b, step, &mut rng)?;
    assert_eq!(last_text(&b.events), Some("over data SMS"));
    Ok(())
}

#[test]
fn a_hello_with_a_changed_identity_is_refused_until_retrusted() -> Result<()> {
    let mut rng = rng(3);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    handshake(&mut a, &mut b, &mut rng)?;
    // A reinstalls: a new identity behind the same number says hello.
    let mut a2 = phone("+4930901820", false, &mut rng)?;
    let b_number = b.number.clone();
    let (_, step) =
        a2.endpoint
            .start_handshake(&mut a2.store, &b_number, "Bob", now(), &mut rng)?;
    b.events.clear();
    exchange(&mut a2, &mut b, step, &mut rng)?;
    assert!(
        b.events.iter().any(|e| matches!(
            e,
            SmsEvent::Failed {
                error: Error::UntrustedIdentity,
                ..
            }
        )),
        "{:?}",
        b.events
    );
    assert!(!b
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::HandshakeAnswered { .. })));
    Ok(())
}

#[test]
fn an_answer_under_a_new_key_is_held_and_our_hello_not_sent_again() -> Result<()> {
    let mut rng = rng(9);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let (b_at_a, _, _) = handshake(&mut a, &mut b, &mut rng)?;
    // B reinstalls; A says hello again and the new B answers it.
    let mut b2 = phone("+4915123456789", false, &mut rng)?;
    let b_number = b2.number.clone();
    let (_, step) = a
        .endpoint
        .start_handshake(&mut a.store, &b_number, "Bob", now(), &mut rng)?;
    a.events.clear();
    exchange(&mut a, &mut b2, step, &mut rng)?;
    assert!(a.events.iter().any(|e| matches!(
        e,
        SmsEvent::Received {
            received: Received::HeldForUntrustedIdentity,
            ..
        }
    )));
    assert!(!a
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::SessionReady { .. })));
    assert_eq!(
        sotto_core::session::offered_identities(&a.store, &b_at_a)?.len(),
        1
    );
    // Answered: the hello is not sent again (another ~30 SMS) while the key
    // waits for the user.
    assert_eq!(a.endpoint.pending_handshake(&b_number), None);
    let later = now() + std::time::Duration::from_secs(3 * 3600);
    let step = a.endpoint.tick(&mut a.store, later, &mut rng)?;
    assert!(step.outgoing.is_empty(), "{:?}", step.outgoing);
    Ok(())
}

#[test]
fn an_accepted_forged_hello_is_never_completed_by_its_forger() -> Result<()> {
    let mut rng = rng(10);
    let mut b = phone("+4915123456789", false, &mut rng)?;
    b.endpoint = SmsEndpoint::new(SmsConfig::default());
    let mut mallory = phone("+4917000000001", false, &mut rng)?;
    let a_number = PhoneNumber::parse("+4930901820", "DE")?;
    // Mallory's hello, sent "from A"; B's user believes it and agrees.
    let b_number = b.number.clone();
    let (_, hello) =
        mallory
            .endpoint
            .start_handshake(&mut mallory.store, &b_number, "B", now(), &mut rng)?;
    for out in hello.outgoing {
        let SmsBody::Text(text) = out.body else {
            panic!("text SMS");
        };
        b.endpoint
            .receive_text(&mut b.store, &a_number, &text, now(), &mut rng)?;
    }
    let answer = b
        .endpoint
        .accept_stranger(&mut b.store, &a_number, "A", now(), &mut rng)?;
    assert!(!answer.outgoing.is_empty());
    assert!(
        answer.outgoing.iter().all(|sms| sms.to == a_number),
        "to the real A"
    );
    let a_at_b = b.store.contact_by_phone(&a_number)?.expect("contact");
    assert!(!sotto_core::sms::route::on_sotto(&b.store, &a_at_b)?);
    // The real A never answers; B sends its answer again, then gives up.
    let mut later = now();
    for _ in 0..4 {
        later += std::time::Duration::from_secs(31 * 60);
        b.endpoint.tick(&mut b.store, later, &mut rng)?;
    }
    assert!(!b
        .endpoint
        .waiting_legs()
        .iter()
        .any(|leg| leg.kind == LegKind::Answer));
    // Mallory holds the hello's key and gets a bundle of B's (the relay
    // hands them out): her new session "from A" is refused all the same.
    let b_at_mallory = ContactId::random(&mut rng);
    mallory.store.save_contact(&sotto_core::store::Contact {
        id: b_at_mallory.clone(),
        name: "B".into(),
        relay: None,
    })?;
    let bundle = sotto_core::prekeys::take_prekey_bundle(&mut b.store)?;
    sotto_core::session::start_session(
        &mut mallory.store,
        &b_at_mallory,
        &bundle,
        now(),
        &mut rng,
    )?;
    let mut events = Vec::new();
    for text in ["it's A, really", "hello?"] {
        let out = sotto_core::messaging::send_text(
            &mut mallory.store,
            &b_at_mallory,
            text,
            later,
            &mut rng,
        )?;
        for part in SmsCodec::to_texts(&SmsFrame::Envelope(out.envelope).to_bytes())? {
            let step = b
                .endpoint
                .receive_text(&mut b.store, &a_number, &part, later, &mut rng)?;
            events.extend(step.events);
        }
    }
    assert!(events.iter().any(|e| matches!(
        e,
        SmsEvent::Failed {
            error: Error::HandshakeIncomplete,
            ..
        }
    )));
    assert!(last_text(&events).is_none(), "{events:?}");
    assert!(!sotto_core::sms::route::on_sotto(&b.store, &a_at_b)?);
    Ok(())
}

#[test]
fn a_number_whose_hello_went_unanswered_is_asked_about_again() -> Result<()> {
    let mut rng = rng(11);
    let mut a = phone("+4930901820", false, &mut rng)?;
    a.endpoint = SmsEndpoint::new(SmsConfig::default());
    let mut mallory = phone("+4917000000001", false, &mut rng)?;
    let b_number = PhoneNumber::parse("+4915123456789", "DE")?;
    // A says hello to B's number; nobody answers and A gives up.
    let (b_at_a, _) =
        a.endpoint
            .start_handshake(&mut a.store, &b_number, "Bob", now(), &mut rng)?;
    let mut later = now();
    for _ in 0..4 {
        later += std::time::Duration::from_secs(31 * 60);
        a.endpoint.tick(&mut a.store, later, &mut rng)?;
    }
    assert_eq!(a.endpoint.pending_handshake(&b_number), None);
    // Mallory's hello "from B" is not answered unasked: the contact A made
    // for the number holds no key, so the number is a stranger again.
    let a_number = a.number.clone();
    let (_, hello) =
        mallory
            .endpoint
            .start_handshake(&mut mallory.store, &a_number, "A", later, &mut rng)?;
    let mut sent = 0;
    let mut waiting = false;
    for out in hello.outgoing {
        let SmsBody::Text(text) = out.body else {
            panic!("text SMS");
        };
        let step = a
            .endpoint
            .receive_text(&mut a.store, &b_number, &text, later, &mut rng)?;
        sent += step.outgoing.len();
        waiting |= step
            .events
            .iter()
            .any(|e| matches!(e, SmsEvent::StrangerWaiting { .. }));
    }
    assert!(waiting);
    assert_eq!(sent, 0, "nothing answered");
    assert!(
        a.store.identity_record(&b_at_a)?.is_none(),
        "no key trusted"
    );
    Ok(())
}

#[test]
fn bad_hellos_and_junk_payloads_fail_visibly_and_change_nothing() -> Result<()> {
    let mut rng = rng(4);
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let mallory = PhoneNumber::parse("+4930901899", "DE")?;
    let forged = SmsFrame::Hello {
        bundle: vec![7; 1800],
    };
    for payload in [forged.to_bytes(), vec![0x12, 1, 2, 3], vec![0x55; 40]] {
        for text in SmsCodec::to_texts(&payload)? {
            let step = b
                .endpoint
                .receive_text(&mut b.store, &mallory, &text, now(), &mut rng)?;
            b.events.extend(step.events);
        }
    }
    let failures = b
        .events
        .iter()
        .filter(|e| matches!(e, SmsEvent::Failed { .. }))
        .count();
    assert_eq!(failures, 3, "{:?}", b.events);
    assert_eq!(b.store.contact_by_phone(&mallory)?, None);
    assert!(b.store.contacts()?.is_empty());
    // No failure names the number.
    let shown = format!("{:?}", b.events);
    assert!(!shown.contains("30901899"));
    Ok(())
}

#[test]
fn only_phone_numbers_can_be_asked_for_a_handshake() -> Result<()> {
    let mut rng = rng(5);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let short_code = PhoneNumber::parse("87121", "GB")?;
    let result = a
        .endpoint
        .start_handshake(&mut a.store, &short_code, "Quiz", now(), &mut rng);
    assert!(matches!(result, Err(Error::InvalidPhoneNumber)));
    Ok(())
}

#[test]
fn a_strangers_hello_waits_for_the_user() -> Result<()> {
    let mut rng = rng(6);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    b.endpoint = SmsEndpoint::new(SmsConfig::default());
    assert!(
        b.endpoint.config().ask_before_answering_strangers,
        "by default"
    );
    let b_number = b.number.clone();
    let (_, step) = a
        .endpoint
        .start_handshake(&mut a.store, &b_number, "Bob", now(), &mut rng)?;
    let sent = exchange(&mut a, &mut b, step, &mut rng)?;
    assert_eq!(sent, 15, "only the hello went out");
    assert!(b
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::StrangerWaiting { .. })));
    assert!(b.store.contacts()?.is_empty());
    let a_number = a.number.clone();
    assert_eq!(
        b.endpoint.strangers_waiting(),
        std::slice::from_ref(&a_number)
    );
    // The user agrees: the handshake goes on from where it stopped.
    let step = b
        .endpoint
        .accept_stranger(&mut b.store, &a_number, "Alice", now(), &mut rng)?;
    exchange(&mut b, &mut a, step, &mut rng)?;
    assert!(a
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::SessionReady { .. })));
    assert!(b
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::SessionReady { .. })));
    assert_eq!(b.store.contacts()?[0].name, "Alice");
    // Nothing waits any more.
    assert!(b
        .endpoint
        .accept_stranger(&mut b.store, &a_number, "Alice", now(), &mut rng)
        .is_err());
    Ok(())
}

#[test]
fn a_restart_in_the_middle_of_a_message_loses_nothing() -> Result<()> {
    let mut rng = rng(7);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let (b_at_a, _, _) = handshake(&mut a, &mut b, &mut rng)?;
    let text = "a long story ".repeat(30);
    let step = a
        .endpoint
        .send_text(&mut a.store, &b_at_a, &text, now(), &mut rng)?;
    let parts: Vec<String> = step
        .outgoing
        .iter()
        .filter_map(|o| match &o.body {
            SmsBody::Text(t) => Some(t.clone()),
            SmsBody::Data { .. } => None,
        })
        .collect();
    assert!(parts.len() >= 3);
    let (last, first) = parts.split_last().expect("parts");
    for part in first {
        b.endpoint
            .receive_text(&mut b.store, &a.number, part, now(), &mut rng)?;
    }
    assert_eq!(b.store.held_sms_parts()?.len(), first.len());
    // The app is killed; a new endpoint starts from the store.
    b.endpoint = SmsEndpoint::new(SmsConfig::default());
    let restored = b.endpoint.restore(&mut b.store, &mut rng)?;
    assert!(restored.events.is_empty());
    assert_eq!(b.endpoint.reassembler().messages_held(), 1);
    let step = b
        .endpoint
        .receive_text(&mut b.store, &a.number, last, now(), &mut rng)?;
    assert_eq!(last_text(&step.events), Some(text.as_str()));
    assert!(b.store.held_sms_parts()?.is_empty());
    Ok(())
}

/// The sender's cache of sent payloads is kept in the store: after a
/// restart it still answers a resend request with the missing part.
#[test]
fn a_restarted_sender_still_answers_resend_requests() -> Result<()> {
    let mut rng = rng(12);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let (b_at_a, _, _) = handshake(&mut a, &mut b, &mut rng)?;
    let text = "a story with a lost middle ".repeat(12);
    let step = a
        .endpoint
        .send_text(&mut a.store, &b_at_a, &text, now(), &mut rng)?;
    let parts: Vec<String> = step
        .outgoing
        .iter()
        .filter_map(|o| match &o.body {
            SmsBody::Text(t) => Some(t.clone()),
            SmsBody::Data { .. } => None,
        })
        .collect();
    assert!(parts.len() >= 3);
    for (index, part) in parts.iter().enumerate() {
        if index != 1 {
            b.endpoint
                .receive_text(&mut b.store, &a.number, part, now(), &mut rng)?;
        }
    }
    // The sender's app is killed and starts again from its store.
    a.endpoint = SmsEndpoint::new(SmsConfig::default());
    a.endpoint.restore(&mut a.store, &mut rng)?;
    // The receiver's reassembly times out and asks for the missing part.
    let later = now() + SmsConfig::default().limits.timeout + std::time::Duration::from_secs(1);
    let request = b.endpoint.tick(&mut b.store, later, &mut rng)?;
    assert_eq!(request.outgoing.len(), 1, "one resend request");
    let mut answer = Step::default();
    for sms in request.outgoing {
        let SmsBody::Text(t) = sms.body else {
            panic!("text SMS")
        };
        answer = a
            .endpoint
            .receive_text(&mut a.store, &b.number, &t, later, &mut rng)?;
    }
    assert_eq!(answer.outgoing.len(), 1, "the missing part, from the store");
    let mut done = Step::default();
    for sms in answer.outgoing {
        let SmsBody::Text(t) = sms.body else {
            panic!("text SMS")
        };
        assert_eq!(t, parts[1], "sent as it was the first time");
        done = b
            .endpoint
            .receive_text(&mut b.store, &a.number, &t, later, &mut rng)?;
    }
    assert_eq!(last_text(&done.events), Some(text.as_str()));
    Ok(())
}

#[test]
fn both_saying_hello_at_once_still_ends_in_one_conversation() -> Result<()> {
    let mut rng = rng(8);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let (a_number, b_number) = (a.number.clone(), b.number.clone());
    let (b_at_a, hello_a) =
        a.endpoint
            .start_handshake(&mut a.store, &b_number, "Bob", now(), &mut rng)?;
    let (a_at_b, hello_b) =
        b.endpoint
            .start_handshake(&mut b.store, &a_number, "Alice", now(), &mut rng)?;
    exchange(&mut a, &mut b, hello_a, &mut rng)?;
    exchange(&mut b, &mut a, hello_b, &mut rng)?;
    for round in 0..3 {
        let text = format!("ping {round}");
        let step = a
            .endpoint
            .send_text(&mut a.store, &b_at_a, &text, now(), &mut rng)?;
        exchange(&mut a, &mut b, step, &mut rng)?;
        assert_eq!(last_text(&b.events), Some(text.as_str()));
        let text = format!("pong {round}");
        let step = b
            .endpoint
            .send_text(&mut b.store, &a_at_b, &text, now(), &mut rng)?;
        exchange(&mut b, &mut a, step, &mut rng)?;
        assert_eq!(last_text(&a.events), Some(text.as_str()));
    }
    assert_eq!(a.store.contacts()?.len(), 1);
    assert_eq!(b.store.contacts()?.len(), 1);
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever arrives, nothing panics, nothing decrypts, no contact
    /// appears, and Sotto-shaped texts are never stored as plain texts.
    #[test]
    fn hostile_texts_change_nothing(
        texts in proptest::collection::vec("%S[!-z]{0,160}|[ -~]{0,170}|\\PC{0,80}", 1..24),
    ) {
        let mut rng = rng(9);
        let mut b = phone("+4915123456789", false, &mut rng).expect("phone");
        let from = PhoneNumber::parse("+4930901820", "DE").expect("number");
        for text in &texts {
            let step = b.endpoint.receive_text(&mut b.store, &from, text, now(), &mut rng).expect("no storage error");
            for event in &step.events {
                let decrypted = matches!(event, SmsEvent::Received { .. } | SmsEvent::SessionReady { .. });
                proptest::prop_assert!(!decrypted, "decrypted junk");
                if let SmsEvent::Plain { .. } = event {
                    let ours = !matches!(SmsCodec::parse_text(text), sotto_core::sms::TextSms::Plain);
                    proptest::prop_assert!(!ours, "Sotto-shaped text shown as plain");
                }
            }
        }
        let tick = b.endpoint.tick(&mut b.store, now() + std::time::Duration::from_secs(7200), &mut rng).expect("tick");
        proptest::prop_assert!(tick.outgoing.len() <= 4 * texts.len());
        proptest::prop_assert!(b.store.contacts().expect("contacts").is_empty());
    }
}

#[test]
fn an_unanswered_hello_is_sent_again_then_given_up() -> Result<()> {
    let mut rng = rng(10);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let silent = PhoneNumber::parse("+4915123456789", "DE")?;
    let start = now();
    let (_, step) = a
        .endpoint
        .start_handshake(&mut a.store, &silent, "Nobody", start, &mut rng)?;
    let hello = step.outgoing.clone();
    assert_eq!(hello.len(), 15);
    let minutes = |m: u64| start + std::time::Duration::from_secs(60 * m);
    assert!(a
        .endpoint
        .tick(&mut a.store, minutes(29), &mut rng)?
        .outgoing
        .is_empty());
    // The same hello again, so parts of both copies fit together.
    assert_eq!(
        a.endpoint
            .tick(&mut a.store, minutes(30), &mut rng)?
            .outgoing,
        hello
    );
    assert_eq!(
        a.endpoint
            .tick(&mut a.store, minutes(60), &mut rng)?
            .outgoing,
        hello
    );
    let last = a.endpoint.tick(&mut a.store, minutes(90), &mut rng)?;
    assert!(last.outgoing.is_empty());
    assert!(matches!(
        last.events[..],
        [SmsEvent::HandshakeUnanswered { .. }]
    ));
    assert!(a.endpoint.pending_handshake(&silent).is_none());
    Ok(())
}

#[test]
fn a_contact_asking_for_handshakes_again_and_again_gets_one_reply_per_quiet_period() -> Result<()> {
    let mut rng = rng(13);
    let mut a = phone("+4930901820", false, &mut rng)?;
    let mut b = phone("+4915123456789", false, &mut rng)?;
    let (_, a_at_b, _) = handshake(&mut a, &mut b, &mut rng)?;
    // Room for B's second answer within the hour (the cap on automatic SMS
    // is tested in sms_cost.rs).
    b.endpoint.set_automatic_sms_per_hour(100);

    // A handshake A starts itself is answered at once, however recent the
    // last one: B's session is confirmed, and B sends nothing again.
    let b_number = b.number.clone();
    let (_, step) = a
        .endpoint
        .start_handshake(&mut a.store, &b_number, "Bob", now(), &mut rng)?;
    let ready_before = session_ready_count(&b.events);
    exchange(&mut a, &mut b, step, &mut rng)?;
    assert!(session_ready_count(&b.events) > ready_before);
    let retry = now() + SmsConfig::default().hello_retry;
    assert!(b
        .endpoint
        .tick(&mut b.store, retry, &mut rng)?
        .outgoing
        .is_empty());

    // B asks for a handshake on its own, again and again: within the quiet
    // period of the last third leg, no reply; after it, one (of one or two
    // SMS, as the ratchet makes it).
    let later = now() + SmsConfig::default().hello_retry;
    let mut replies = Vec::new();
    for at in [now(), now(), later, later] {
        let (outgoing, _) =
            sotto_core::sms::handshake::our_side(&mut b.store, &a_at_b, None, true, at, &mut rng)?;
        let mut step = Step::default();
        let a_number = a.number.clone();
        b.endpoint
            .send_outgoing(&mut b.store, &a_number, &outgoing, at, &mut step)?;
        let mut replied = false;
        for sms in step.outgoing {
            let SmsBody::Text(text) = sms.body else {
                panic!("text SMS were configured");
            };
            let reply = a
                .endpoint
                .receive_text(&mut a.store, &b.number, &text, at, &mut rng)?;
            replied |= !reply.outgoing.is_empty();
        }
        replies.push(replied);
    }
    assert_eq!(replies, [false, false, true, false]);
    Ok(())
}
