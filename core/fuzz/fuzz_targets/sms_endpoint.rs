//! The whole SMS endpoint of one phone, fed SMS whose sender numbers anyone
//! could forge. Alice knows Bob (an SMS handshake made their sessions) and
//! has a hello out to Mallory; the input picks, SMS after SMS, a sender
//! number (Bob's, Mallory's, Mum's, whom Alice knows only by plain SMS, or
//! a short code) and either one of a pool of real Sotto SMS (Mallory's
//! answer to Alice's hello, Mallory's own hello, a new key's PreKey text,
//! Bob's texts; each of them whole or cut) or arbitrary text, with the
//! clock moving on now and then.
//!
//! Whatever comes, with no user decision taken: no contact and no key
//! appears for any number but through the answer to Alice's own hello from
//! Mallory's number; Bob's key never changes; Mum's number never becomes
//! a Sotto conversation; no key is offered for Bob unless a message under
//! it decrypted; and nothing panics.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::sms::route::on_sotto;
use sotto_core::sms::{PhoneNumber, SmsBody, SmsConfig, SmsEndpoint, Step, WaitingLeg};
use sotto_core::store::{ContactId, InMemStore, SottoStore};
use sotto_core::IdentityKey;

const ALICE: &str = "+4930901820";
const BOB: &str = "+4940123456";
const MALLORY: &str = "+4917000000001";
const MUM: &str = "+4940555123";

struct Phone {
    number: PhoneNumber,
    store: InMemStore,
    endpoint: SmsEndpoint,
}

fn phone(number: &str, rng: &mut StdRng) -> Phone {
    let mut store = InMemStore::new();
    let policy = PreKeyPolicy {
        batch: 4,
        low_water: 1,
        ..PreKeyPolicy::default()
    };
    prekeys::create_account(&mut store, &policy, at(0), rng).expect("account");
    Phone {
        number: PhoneNumber::parse(number, "DE").expect("number"),
        store,
        endpoint: SmsEndpoint::new(SmsConfig::default()),
    }
}

fn at(minutes: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + minutes * 60)
}

/// The texts of a step's SMS.
fn texts(step: Step) -> Vec<String> {
    step.outgoing
        .into_iter()
        .filter_map(|sms| match sms.body {
            SmsBody::Text(text) => Some(text),
            SmsBody::Data { .. } => None,
        })
        .collect()
}

/// Delivers every SMS of `step` from `from` to `to` and the answers back
/// and forth (the users agree to talk); returns the SMS each way.
fn exchange(from: &mut Phone, to: &mut Phone, step: Step, rng: &mut StdRng) {
    let mut in_flight = vec![(true, step)];
    while let Some((forward, step)) = in_flight.pop() {
        let (sender, receiver) = if forward {
            (&mut *from, &mut *to)
        } else {
            (&mut *to, &mut *from)
        };
        for text in texts(step) {
            let number = sender.number.clone();
            let mut reply = receiver
                .endpoint
                .receive_text(&mut receiver.store, &number, &text, at(0), rng)
                .expect("delivered");
            for waiting in receiver.endpoint.strangers_waiting() {
                let answer = receiver
                    .endpoint
                    .accept_stranger(&mut receiver.store, &waiting, "Peer", at(0), rng)
                    .expect("accepted");
                reply.outgoing.extend(answer.outgoing);
            }
            in_flight.push((!forward, reply));
        }
    }
}

/// Alice as the input finds her, and the SMS it may replay.
struct World {
    alice: InMemStore,
    alice_legs: Vec<WaitingLeg>,
    bob_at_alice: ContactId,
    bob_key: IdentityKey,
    mallory_at_alice: ContactId,
    pool: Vec<String>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(7);
        let mut alice = phone(ALICE, &mut rng);
        let mut bob = phone(BOB, &mut rng);
        let mut mallory = phone(MALLORY, &mut rng);
        let mut new_bob = phone(BOB, &mut rng);

        let bob_number = bob.number.clone();
        let (bob_at_alice, hello) = alice
            .endpoint
            .start_handshake(&mut alice.store, &bob_number, "Bob", at(0), &mut rng)
            .expect("hello");
        exchange(&mut alice, &mut bob, hello, &mut rng);
        let alice_at_bob = bob.store.contact_by_phone(&alice.number).unwrap().unwrap();
        let mut pool = Vec::new();
        for text in ["Dinner on Sunday?", &"a long story ".repeat(30)] {
            let step = bob
                .endpoint
                .send_text(&mut bob.store, &alice_at_bob, text, at(0), &mut rng)
                .expect("text");
            pool.extend(texts(step));
        }

        // Alice says hello to Mallory; Mallory's answer, built on it.
        let mallory_number = mallory.number.clone();
        let (mallory_at_alice, hello) = alice
            .endpoint
            .start_handshake(
                &mut alice.store,
                &mallory_number,
                "Mallory",
                at(0),
                &mut rng,
            )
            .expect("hello");
        for text in texts(hello) {
            let step = mallory
                .endpoint
                .receive_text(&mut mallory.store, &alice.number, &text, at(0), &mut rng)
                .expect("delivered");
            pool.extend(texts(step));
        }
        let alice_number = alice.number.clone();
        let answer = mallory
            .endpoint
            .accept_stranger(&mut mallory.store, &alice_number, "Alice", at(0), &mut rng)
            .expect("answer");
        pool.extend(texts(answer));
        // Mallory's own hello to Alice, and a new Bob's.
        for phone in [&mut mallory, &mut new_bob] {
            let (_, hello) = phone
                .endpoint
                .start_handshake(&mut phone.store, &alice_number, "Alice", at(0), &mut rng)
                .expect("hello");
            pool.extend(texts(hello));
        }

        let bob_key = alice
            .store
            .identity_record(&bob_at_alice)
            .unwrap()
            .expect("Bob's key")
            .key;
        World {
            alice_legs: alice.endpoint.waiting_legs(),
            alice: alice.store,
            bob_at_alice,
            bob_key,
            mallory_at_alice,
            pool,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let mut rng = StdRng::seed_from_u64(u64::from(data.first().copied().unwrap_or(0)));
    let mut store = world.alice.clone();
    let mut endpoint = SmsEndpoint::new(SmsConfig::default());
    endpoint.restore_legs(world.alice_legs.clone());
    let numbers = [BOB, MALLORY, MUM, "80808"].map(|n| PhoneNumber::parse(n, "DE").unwrap());
    let mum = &numbers[2];
    let mut minutes = 0;
    let mut ops = data.iter().skip(1);
    while let Some(&op) = ops.next() {
        let from = &numbers[usize::from(op & 3)];
        let text = if op & 4 == 0 {
            // One SMS of the pool, maybe cut short.
            let Some(&pick) = ops.next() else { break };
            let sms = &world.pool[usize::from(pick) % world.pool.len()];
            if op & 8 == 0 {
                sms.clone()
            } else {
                sms.chars().take(usize::from(pick) % 161).collect()
            }
        } else {
            // Up to 160 arbitrary bytes as text.
            let len = usize::from(op >> 3) * 8;
            let bytes: Vec<u8> = ops.by_ref().take(len).copied().collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let _ = endpoint.receive_text(&mut store, from, &text, at(minutes), &mut rng);
        if op & 0x80 != 0 {
            minutes += 17;
            let _ = endpoint.tick(&mut store, at(minutes), &mut rng);
        }

        let contacts = store.contacts().unwrap();
        assert!(contacts.len() <= 2, "a contact appeared without the user");
        for contact in &contacts {
            assert!(
                contact.id == world.bob_at_alice || contact.id == world.mallory_at_alice,
                "a contact appeared without the user"
            );
        }
        let bob = store.identity_record(&world.bob_at_alice).unwrap();
        assert_eq!(bob.map(|r| r.key), Some(world.bob_key), "Bob's key changed");
        assert_eq!(
            store.contact_by_phone(mum).unwrap(),
            None,
            "Mum's number was taken"
        );
        assert!(
            !on_sotto(&store, &world.mallory_at_alice).unwrap() || {
                // Only the answer to Alice's hello, from Mallory's number.
                store.phones_of(&world.mallory_at_alice).unwrap() == [numbers[1].clone()]
            }
        );
        for key in sotto_core::session::offered_identities(&store, &world.bob_at_alice).unwrap() {
            assert_ne!(key, world.bob_key, "the trusted key offered as new");
        }
    }
});
