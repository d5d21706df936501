//! What a forged SMS sender can make a phone spend. Anyone can put any
//! number as the sender of an SMS, so everything the endpoint sends without
//! the user asking (resends, handshake answers, retries) is bounded: a
//! resend budget per part, a cap per hour, and no retries to strangers.

mod support;

use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use sotto_core::sms::{
    PhoneNumber, SmsBody, SmsCodec, SmsConfig, SmsEndpoint, SmsEvent, SmsFrame, Step, TextSms,
    WireId,
};
use sotto_core::store::{ContactId, InMemStore, SottoStore};
use sotto_core::Result;
use support::*;

/// The default cap on automatic SMS per hour.
const CAP: usize = 30;

struct Phone {
    number: PhoneNumber,
    store: InMemStore,
    endpoint: SmsEndpoint,
}

fn phone(number: &str, config: SmsConfig, rng: &mut StdRng) -> Result<Phone> {
    Ok(Phone {
        number: PhoneNumber::parse(number, "DE")?,
        store: with_account(InMemStore::new(), rng)?,
        endpoint: SmsEndpoint::new(config),
    })
}

fn number(text: &str) -> Result<PhoneNumber> {
    PhoneNumber::parse(text, "DE")
}

/// Delivers `step` from `from` to `to` and everything that answers it,
/// back and forth, until both are quiet.
fn exchange(from: &mut Phone, to: &mut Phone, step: Step, rng: &mut StdRng) -> Result<()> {
    let mut in_flight = vec![(true, step)];
    while let Some((forward, step)) = in_flight.pop() {
        let (sender, receiver) = if forward {
            (&mut *from, &mut *to)
        } else {
            (&mut *to, &mut *from)
        };
        for id in step.outbox_ids {
            sotto_core::messaging::mark_sent(&mut sender.store, id)?;
        }
        for out in step.outgoing {
            let SmsBody::Text(text) = out.body else {
                panic!("text SMS only here");
            };
            let reply = receiver.endpoint.receive_text(
                &mut receiver.store,
                &sender.number,
                &text,
                now(),
                rng,
            )?;
            in_flight.push((!forward, reply));
        }
    }
    Ok(())
}

/// Alice and Bob after a handshake over a perfect line: Bob as Alice knows him.
fn alice_and_bob(config: SmsConfig, rng: &mut StdRng) -> Result<(Phone, Phone, ContactId)> {
    let mut alice = phone("+4930901820", config.clone(), rng)?;
    let mut bob = phone("+4915123456789", config, rng)?;
    let bob_number = bob.number.clone();
    let (bob_at_alice, step) =
        alice
            .endpoint
            .start_handshake(&mut alice.store, &bob_number, "Bob", now(), rng)?;
    exchange(&mut alice, &mut bob, step, rng)?;
    // Bob's user agrees to talk to Alice's number (when he is asked).
    let alice_number = alice.number.clone();
    if bob.endpoint.strangers_waiting().contains(&alice_number) {
        let answer =
            bob.endpoint
                .accept_stranger(&mut bob.store, &alice_number, "Alice", now(), rng)?;
        exchange(&mut bob, &mut alice, answer, rng)?;
    }
    Ok((alice, bob, bob_at_alice))
}

/// Alice sends Bob a long text (delivered); returns its wire id and part count.
fn long_text(
    alice: &mut Phone,
    bob: &mut Phone,
    bob_at_alice: &ContactId,
    rng: &mut StdRng,
) -> Result<(WireId, u8)> {
    let text = "All the details for Saturday, in one go. ".repeat(40);
    let step = alice
        .endpoint
        .send_text(&mut alice.store, bob_at_alice, &text, now(), rng)?;
    let SmsBody::Text(first) = &step.outgoing[0].body else {
        panic!("text SMS only here");
    };
    let TextSms::Segment(segment) = SmsCodec::parse_text(first) else {
        panic!("a Sotto part");
    };
    exchange(alice, bob, step, rng)?;
    Ok((segment.id, segment.count))
}

/// The SMS of a resend request for every part of message `id`.
fn resend_request(id: WireId, count: u8, nonce: u8) -> Result<Vec<String>> {
    let request = SmsFrame::ResendRequest {
        id,
        count,
        missing: (0..count).collect(),
        nonce,
    };
    SmsCodec::to_texts(&request.to_bytes())
}

/// Hands `texts` to `phone` as if from `from`; returns the SMS it sends.
fn forge(
    phone: &mut Phone,
    from: &PhoneNumber,
    texts: &[String],
    at: SystemTime,
    rng: &mut StdRng,
) -> Result<Step> {
    let mut all = Step::default();
    for text in texts {
        let step = phone
            .endpoint
            .receive_text(&mut phone.store, from, text, at, rng)?;
        all.outgoing.extend(step.outgoing);
        all.events.extend(step.events);
    }
    Ok(all)
}

#[test]
fn twenty_forged_resend_requests_cost_at_most_the_part_budget_and_the_cap() -> Result<()> {
    let mut rng = rng(31);
    let (mut alice, mut bob, bob_at_alice) = alice_and_bob(SmsConfig::default(), &mut rng)?;
    let (id, count) = long_text(&mut alice, &mut bob, &bob_at_alice, &mut rng)?;
    assert!(count >= 15, "{count} parts");
    // Mallory, pretending to be Bob, asks for every part 20 times.
    let mut sent = 0;
    for nonce in 0..20 {
        let texts = resend_request(id, count, nonce)?;
        let step = forge(&mut alice, &bob.number, &texts, now(), &mut rng)?;
        assert!(step.outgoing.iter().all(|sms| sms.to == bob.number));
        sent += step.outgoing.len();
    }
    // Unbounded, that was 20 × 16 = 320 SMS.
    println!("20 forged resend requests for {count} parts: {sent} SMS");
    assert!(
        sent > 0,
        "the first request is a real one as far as Alice knows"
    );
    assert!(sent <= CAP, "{sent} SMS");
    assert!(sent <= 2 * usize::from(count), "{sent} SMS");
    Ok(())
}

/// The same hello "from" ten numbers Mallory chose, delivered to Alice
/// configured as `config`; returns how many were answered and with how
/// many SMS, and Alice for what comes after.
fn ten_forged_hellos(config: SmsConfig, rng: &mut StdRng) -> Result<(usize, usize, Phone)> {
    let mut alice = phone("+4930901820", config, rng)?;
    let mut mallory = phone("+4915199999999", SmsConfig::default(), rng)?;
    let alice_number = alice.number.clone();
    let (_, hello) =
        mallory
            .endpoint
            .start_handshake(&mut mallory.store, &alice_number, "Alice", now(), rng)?;
    let texts: Vec<String> = hello
        .outgoing
        .into_iter()
        .map(|sms| match sms.body {
            SmsBody::Text(text) => text,
            SmsBody::Data { .. } => panic!("text SMS only here"),
        })
        .collect();
    let mut sent = 0;
    let mut answers = 0;
    for n in 0..10 {
        let victim = number(&format!("+49151000000{n:02}"))?;
        let step = forge(&mut alice, &victim, &texts, now(), rng)?;
        if !step.outgoing.is_empty() {
            answers += 1;
        }
        sent += step.outgoing.len();
    }
    Ok((answers, sent, alice))
}

#[test]
fn ten_forged_hellos_cost_nothing_while_strangers_are_asked_first() -> Result<()> {
    let mut rng = rng(33);
    let (answers, sent, alice) = ten_forged_hellos(SmsConfig::default(), &mut rng)?;
    println!("10 forged hellos, asking first (the default): {answers} answered, {sent} SMS");
    assert_eq!((answers, sent), (0, 0));
    assert_eq!(alice.endpoint.strangers_waiting().len(), 10);
    assert!(alice.store.contacts()?.is_empty());
    Ok(())
}

#[test]
fn ten_forged_hellos_are_answered_within_the_cap() -> Result<()> {
    let mut rng = rng(32);
    // A phone whose user chose to answer strangers without being asked.
    let config = SmsConfig {
        ask_before_answering_strangers: false,
        ..SmsConfig::default()
    };
    let (answers, sent, mut alice) = ten_forged_hellos(config, &mut rng)?;
    // Unbounded, that was 10 answers of about 16 SMS each.
    println!("10 forged hellos: {answers} answered, {sent} SMS");
    assert!(answers >= 1);
    assert!(sent <= CAP, "{sent} SMS");
    // Their retries later are capped too.
    let later = now() + Duration::from_secs(2 * 3600);
    let step = alice.endpoint.tick(&mut alice.store, later, &mut rng)?;
    println!("an hour later, retries: {} SMS", step.outgoing.len());
    assert!(step.outgoing.len() <= CAP);
    Ok(())
}

#[test]
fn forged_partial_messages_from_many_numbers_do_not_starve_a_contacts_resend_request() -> Result<()>
{
    let mut rng = rng(33);
    let (mut alice, bob, _) = alice_and_bob(SmsConfig::default(), &mut rng)?;
    let two_parts = SmsCodec::to_texts(&[7; 200])?;
    assert_eq!(two_parts.len(), 2);
    let start = now();
    // The first part of a message from 50 numbers Alice does not know, and
    // from Bob.
    for n in 0..50 {
        let stranger = number(&format!("+49151000001{n:02}"))?;
        forge(&mut alice, &stranger, &two_parts[..1], start, &mut rng)?;
    }
    forge(&mut alice, &bob.number, &two_parts[..1], start, &mut rng)?;
    // Ten minutes on, the missing parts are asked for: within the cap, and
    // Bob first.
    let later = start + Duration::from_secs(11 * 60);
    let step = alice.endpoint.tick(&mut alice.store, later, &mut rng)?;
    println!(
        "resend requests for 51 partial messages: {} SMS",
        step.outgoing.len()
    );
    assert!(step.outgoing.len() <= CAP, "{} SMS", step.outgoing.len());
    assert!(step.outgoing.iter().any(|sms| sms.to == bob.number));
    Ok(())
}

#[test]
fn the_cap_holds_resends_back_visibly_and_a_new_hour_lets_them_go() -> Result<()> {
    let mut rng = rng(34);
    let config = SmsConfig {
        automatic_sms_per_hour: 20,
        ..SmsConfig::default()
    };
    let (mut alice, mut bob, bob_at_alice) = alice_and_bob(config, &mut rng)?;
    let (id, count) = long_text(&mut alice, &mut bob, &bob_at_alice, &mut rng)?;
    let count_sms = usize::from(count);
    assert!(count_sms <= 20 && count_sms > 10);
    let hour = Duration::from_secs(3600);
    // Each round: two requests for every part, in a new hour each time.
    let mut sent = Vec::new();
    for (round, nonce) in (0..4u8).map(|r| (u32::from(r), r * 2)) {
        let at = now() + hour * (round + 1) + hour / 60;
        let first = forge(
            &mut alice,
            &bob.number,
            &resend_request(id, count, nonce)?,
            at,
            &mut rng,
        )?;
        let second = forge(
            &mut alice,
            &bob.number,
            &resend_request(id, count, nonce + 1)?,
            at,
            &mut rng,
        )?;
        assert!(second.outgoing.is_empty());
        let held_back = second.events.iter().any(|e| {
            matches!(e, SmsEvent::AutomaticSmsHeldBack { sms, per_hour: 20 } if *sms == count_sms)
        });
        // The first hour's second request is over the cap: held back,
        // visibly. In the second hour the second request finds every part
        // sent twice already: nothing is due, nothing is held back.
        assert_eq!(held_back, round == 0, "round {round}");
        sent.push(first.outgoing.len());
    }
    // Each part went again twice in all, however many asked.
    assert_eq!(sent, [count_sms, count_sms, 0, 0]);
    assert_eq!(alice.endpoint.take_automatic_held_back(), count_sms);
    assert_eq!(alice.endpoint.take_automatic_held_back(), 0);
    // A cap of 0: nothing automatic at all.
    alice.endpoint.set_automatic_sms_per_hour(0);
    let later = now() + hour * 10;
    let step = alice.endpoint.tick(&mut alice.store, later, &mut rng)?;
    assert!(step.outgoing.is_empty());
    Ok(())
}

/// A text asked for afresh (the receiver could not decrypt it) while the
/// cap is full is not encrypted again: the refresh is kept for a later
/// request.
#[test]
fn a_fresh_copy_held_back_by_the_cap_is_not_spent() -> Result<()> {
    let mut rng = rng(36);
    let (mut alice, mut bob, bob_at_alice) = alice_and_bob(SmsConfig::default(), &mut rng)?;
    let (id, count) = long_text(&mut alice, &mut bob, &bob_at_alice, &mut rng)?;
    let afresh = |nonce| {
        let request = SmsFrame::ResendRequest {
            id,
            count,
            missing: Vec::new(),
            nonce,
        };
        SmsCodec::to_texts(&request.to_bytes())
    };
    alice.endpoint.set_automatic_sms_per_hour(0);
    let step = forge(&mut alice, &bob.number, &afresh(1)?, now(), &mut rng)?;
    assert!(step.outgoing.is_empty());
    assert!(step
        .events
        .iter()
        .any(|e| matches!(e, SmsEvent::AutomaticSmsHeldBack { per_hour: 0, .. })));
    alice.endpoint.set_automatic_sms_per_hour(100);
    let step = forge(&mut alice, &bob.number, &afresh(2)?, now(), &mut rng)?;
    assert!(!step.outgoing.is_empty());
    Ok(())
}

/// The cap is an account setting: kept across reopening, applied to the
/// running SMS endpoint at once, and what it holds back is counted by the
/// SMS tick.
#[test]
fn the_cap_is_a_setting_and_the_tick_tells_what_it_held_back() -> Result<()> {
    use sotto_core::app::{Account, SmsSettings, StoreKey};
    use sotto_core::relay::invite::RelayInvite;
    use sotto_core::store::DatabaseKey;

    let mut rng = rng(35);
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("alice");
    let key = StoreKey::Raw(DatabaseKey::from_bytes([5; 32]));
    let relay = RelayInvite {
        host: "127.0.0.1".into(),
        port: 7443,
        trust_root: libsignal_protocol::KeyPair::generate(&mut rng).public_key,
    };
    let alice = Account::create_with_policy(&home, &key, relay, &small_policy())?;
    alice.save_sms_settings(&SmsSettings {
        region: "DE".into(),
        ..SmsSettings::default()
    })?;
    assert_eq!(alice.settings().automatic_sms_per_hour, 30);
    // Mallory's hello, from a number of her choice.
    let mut mallory = phone("+4915199999999", SmsConfig::default(), &mut rng)?;
    let (_, hello) = mallory.endpoint.start_handshake(
        &mut mallory.store,
        &number("+4930901820")?,
        "Alice",
        now(),
        &mut rng,
    )?;
    let texts: Vec<String> = hello
        .outgoing
        .into_iter()
        .filter_map(|sms| match sms.body {
            SmsBody::Text(text) => Some(text),
            SmsBody::Data { .. } => None,
        })
        .collect();

    // Hellos from strangers only wait for the user; a hello from a number
    // Alice said hello to herself is answered on its own, an automatic
    // answer. (Her own hellos are the user's doing, not counted.)
    let known = |alice: &Account, number: &str| -> Result<()> {
        alice.start_sms_handshake(number, "Friend")?;
        drop(alice.take_outgoing_sms()?);
        Ok(())
    };

    // No automatic SMS at all: the hello is not answered, and the tick says
    // what was held back.
    alice.update_settings(|settings| settings.automatic_sms_per_hour = 0)?;
    known(&alice, "+4915100000001")?;
    for text in &texts {
        alice.sms_received("+4915100000001", text)?;
    }
    assert!(alice.take_outgoing_sms()?.is_empty());
    assert!(alice.sms_tick()?.automatic_sms_held_back > 0);
    assert_eq!(alice.sms_tick()?.automatic_sms_held_back, 0);
    drop(alice);

    // Reopened, the setting holds; raised, it applies to the running SMS
    // endpoint at once: the next hello is answered.
    let alice = Account::open(&home, &key)?;
    assert_eq!(alice.settings().automatic_sms_per_hour, 0);
    known(&alice, "+4915100000002")?;
    for text in &texts {
        alice.sms_received("+4915100000002", text)?;
    }
    assert!(alice.take_outgoing_sms()?.is_empty());
    alice.update_settings(|settings| settings.automatic_sms_per_hour = 40)?;
    known(&alice, "+4915100000003")?;
    for text in &texts {
        alice.sms_received("+4915100000003", text)?;
    }
    let answer = alice.take_outgoing_sms()?;
    assert!(!answer.is_empty() && answer.len() <= 40, "{}", answer.len());
    Ok(())
}
