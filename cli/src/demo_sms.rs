//! The SMS part of `sotto demo`: two new phones that know only each other's
//! number find each other with the discovery handshake over SMS, then send
//! an encrypted text as SMS. The carrier is a perfect line in this process;
//! `core/tests/sms_network.rs` runs the same endpoints over a hostile one.

use std::time::SystemTime;

use rand::rngs::StdRng;
use sotto_core::messaging::{self, Received};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::sms::{PhoneNumber, SmsBody, SmsConfig, SmsEndpoint, SmsEvent, Step};
use sotto_core::store::{ContactId, DatabaseKey, SqlCipherStore};

use crate::demo::{check, DemoResult};

struct Phone {
    name: &'static str,
    number: PhoneNumber,
    store: SqlCipherStore,
    endpoint: SmsEndpoint,
    events: Vec<SmsEvent>,
    /// Every SMS text this phone sent, to check that none shows plaintext.
    sent_texts: Vec<String>,
}

fn phone(
    dir: &std::path::Path,
    name: &'static str,
    number: &str,
    rng: &mut StdRng,
) -> DemoResult<Phone> {
    let path = dir.join(format!("{}-sms.db", name.to_lowercase()));
    let mut store = SqlCipherStore::open(&path, &DatabaseKey::generate(rng))?;
    prekeys::create_account(&mut store, &PreKeyPolicy::default(), SystemTime::now(), rng)?;
    Ok(Phone {
        name,
        number: PhoneNumber::parse(number, "DE")?,
        store,
        endpoint: SmsEndpoint::new(SmsConfig::default()),
        events: Vec::new(),
        sent_texts: Vec::new(),
    })
}

/// Carries `step` from `from` to `to`, and every answer back and forth,
/// until both phones are quiet. Returns the number of SMS carried.
fn carry(from: &mut Phone, to: &mut Phone, step: Step, rng: &mut StdRng) -> DemoResult<usize> {
    let mut in_flight = vec![(true, step)];
    let mut count = 0;
    while let Some((forward, step)) = in_flight.pop() {
        let (sender, receiver) = if forward {
            (&mut *from, &mut *to)
        } else {
            (&mut *to, &mut *from)
        };
        for id in step.outbox_ids {
            messaging::mark_sent(&mut sender.store, id)?;
        }
        sender.events.extend(step.events);
        for sms in step.outgoing {
            count += 1;
            let SmsBody::Text(text) = sms.body else {
                return Err("the demo's phones send text SMS only".into());
            };
            let reply = receiver.endpoint.receive_text(
                &mut receiver.store,
                &sender.number,
                &text,
                SystemTime::now(),
                rng,
            )?;
            sender.sent_texts.push(text);
            in_flight.push((!forward, reply));
        }
    }
    Ok(count)
}

/// Runs the SMS part of the demo in `dir`.
pub(crate) fn run(dir: &std::path::Path, rng: &mut StdRng) -> DemoResult<()> {
    let mut carol = phone(dir, "Carol", "+49 30 901820", rng)?;
    let mut dave = phone(dir, "Dave", "+49 151 23456789", rng)?;

    let dave_number = dave.number.clone();
    let (dave_at_carol, hello) = carol.endpoint.start_handshake(
        &mut carol.store,
        &dave_number,
        "Dave",
        SystemTime::now(),
        rng,
    )?;
    let mut handshake_sms = carry(&mut carol, &mut dave, hello, rng)?;
    // Carol's number is a stranger's to Dave: nothing is answered until he
    // agrees (an SMS sender can be forged).
    let carol_number = carol.number.clone();
    check(
        dave.endpoint.strangers_waiting() == [carol_number.clone()],
        "Dave is asked before his phone answers a stranger's hello",
    )?;
    let answer = dave.endpoint.accept_stranger(
        &mut dave.store,
        &carol_number,
        "Carol",
        SystemTime::now(),
        rng,
    )?;
    handshake_sms += carry(&mut dave, &mut carol, answer, rng)?;
    println!(
        "  {} texts {}'s number: the discovery handshake took {handshake_sms} SMS in all",
        carol.name, dave.name
    );
    let ready = |phone: &Phone| {
        phone
            .events
            .iter()
            .any(|e| matches!(e, SmsEvent::SessionReady { .. }))
    };
    check(
        ready(&carol) && ready(&dave),
        "both phones hold a Signal session, set up over SMS only",
    )?;
    let carol_at_dave: ContactId = dave
        .events
        .iter()
        .find_map(|e| match e {
            SmsEvent::HandshakeAnswered { contact, .. } => Some(contact.clone()),
            _ => None,
        })
        .ok_or("Dave did not answer the handshake")?;

    let text = "No data here, texting you the encrypted way instead.";
    let step = carol.endpoint.send_text(
        &mut carol.store,
        &dave_at_carol,
        text,
        SystemTime::now(),
        rng,
    )?;
    let parts = step.outgoing.len();
    carry(&mut carol, &mut dave, step, rng)?;
    println!(
        "  {} → {}: {} characters as {parts} SMS",
        carol.name,
        dave.name,
        text.chars().count()
    );
    let received = dave.events.iter().rev().find_map(|e| match e {
        SmsEvent::Received {
            contact,
            received: Received::Text(message),
        } if *contact == carol_at_dave => Some(message.body.clone()),
        _ => None,
    });
    check(
        received.as_deref() == Some(text),
        "Dave decrypted exactly what Carol sent",
    )?;
    let plaintext_on_the_wire = carol
        .sent_texts
        .iter()
        .chain(&dave.sent_texts)
        .any(|sms| sms.contains("encrypted way"));
    check(!plaintext_on_the_wire, "no SMS on the line shows the text")
}
