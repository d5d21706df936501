//! What group messaging costs on the wire: the envelopes a group's state
//! and a sender key take in 1:1 sessions, a group text under a sender key
//! against the same text in a 1:1 session, and the SMS segments of the
//! per-member SMS fan-out.
//!
//! ```text
//! cargo run -p sotto-core --example group_sizes
//! ```
//!
//! Sessions are confirmed both ways first, so 1:1 envelopes are ordinary
//! `SignalMessage`s rather than the 1.8 KB first `PreKeySignalMessage`.

use std::time::SystemTime;

use libsignal_protocol::{IdentityKey, KeyPair};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::groups;
use sotto_core::message::EnvelopeKind;
use sotto_core::messaging;
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::session;
use sotto_core::sms::SmsCodec;
use sotto_core::store::{Contact, ContactId, GroupId, InMemStore, SottoStore};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A 60-character text, the SMS yardstick's size.
const TEXT: &str = "Running ten minutes late, save me a seat near the window ok?";

struct Node {
    store: InMemStore,
    identity: IdentityKey,
}

fn node(rng: &mut StdRng) -> Result<Node> {
    let mut store = InMemStore::new();
    let policy = PreKeyPolicy {
        batch: 2,
        ..PreKeyPolicy::default()
    };
    let account = prekeys::create_account(&mut store, &policy, SystemTime::now(), rng)?;
    Ok(Node {
        store,
        identity: *account.identity.identity_key(),
    })
}

/// Contacts both ways and a session confirmed both ways (one text each).
fn pair(a: &mut Node, b: &mut Node, relay: &RelayInvite, rng: &mut StdRng) -> Result<ContactId> {
    let now = SystemTime::now();
    let b_at_a = ContactId::random(rng);
    let a_at_b = ContactId::random(rng);
    for (store, id, identity) in [
        (&mut a.store, &b_at_a, &b.identity),
        (&mut b.store, &a_at_b, &a.identity),
    ] {
        store.save_contact(&Contact {
            id: id.clone(),
            name: "peer".into(),
            relay: Some(relay.clone()),
        })?;
        store.trust_identity(id, identity)?;
    }
    let bundle = prekeys::take_prekey_bundle(&mut b.store)?;
    session::start_session(&mut a.store, &b_at_a, &bundle, now, rng)?;
    let hello = messaging::send_text(&mut a.store, &b_at_a, "hi", now, rng)?;
    messaging::receive(&mut b.store, &a_at_b, &hello.envelope.to_bytes(), now, rng)?;
    let back = messaging::send_text(&mut b.store, &a_at_b, "hi", now, rng)?;
    messaging::receive(&mut a.store, &b_at_a, &back.envelope.to_bytes(), now, rng)?;
    for store in [&mut a.store, &mut b.store] {
        for entry in store.outbox()? {
            messaging::mark_sent(store, entry.id)?;
        }
    }
    Ok(b_at_a)
}

/// Envelope sizes of what is in `store`'s outbox, then empties it.
fn drain(store: &mut InMemStore) -> Result<Vec<(EnvelopeKind, usize)>> {
    let mut sizes = Vec::new();
    for entry in store.outbox()? {
        sizes.push((entry.envelope.kind, entry.envelope.to_bytes().len()));
        messaging::mark_sent(store, entry.id)?;
    }
    Ok(sizes)
}

fn main() -> Result<()> {
    let mut rng = StdRng::seed_from_u64(7);
    let relay = RelayInvite {
        host: "relay.example.org".into(),
        port: 7443,
        trust_root: KeyPair::generate(&mut rng).public_key,
    };
    let now = SystemTime::now();
    for size in [3usize, 10] {
        let mut alice = node(&mut rng)?;
        let mut members = Vec::new();
        for _ in 1..size {
            let mut member = node(&mut rng)?;
            members.push(pair(&mut alice, &mut member, &relay, &mut rng)?);
        }
        let group = groups::create_group(
            &mut alice.store,
            "Friday climbing",
            &members,
            Some(&relay),
            now,
            &mut rng,
        )?;
        let setup = drain(&mut alice.store)?;
        let per_member = setup.len() / members.len();
        let update = setup[0].1;
        let key = setup[members.len()].1;
        println!("group of {size} (every member with a relay address):");
        println!(
            "  creating it: {per_member} envelopes per member, state {update} bytes, sender key {key} bytes"
        );
        let sent = groups::send_group_text(&mut alice.store, &group.id, TEXT, &[], now, &mut rng)?;
        let copies = drain(&mut alice.store)?;
        let (kind, bytes) = copies[0];
        println!(
            "  a {}-character text: one {kind:?} ciphertext of {bytes} bytes, queued {} times",
            TEXT.chars().count(),
            sent.relay.len()
        );
        if size == 3 {
            one_to_one_comparison(&mut alice, &members, &group.id, now, &mut rng)?;
        }
    }
    Ok(())
}

/// The same text in a 1:1 session, and the SMS fan-out of a group text.
fn one_to_one_comparison(
    alice: &mut Node,
    members: &[ContactId],
    group: &GroupId,
    now: SystemTime,
    rng: &mut StdRng,
) -> Result<()> {
    let direct = messaging::send_text(&mut alice.store, &members[0], TEXT, now, rng)?;
    let direct_bytes = direct.envelope.to_bytes();
    drain(&mut alice.store)?;
    let by_sms = groups::send_group_text(&mut alice.store, group, TEXT, members, now, rng)?;
    let fanned = by_sms.sms[0].1.envelope.to_bytes();
    drain(&mut alice.store)?;
    println!(
        "  the same text 1:1: {} bytes, {} SMS; as a group text by SMS (1:1, group id inside): {} bytes, {} SMS per member",
        direct_bytes.len(),
        SmsCodec::to_texts(&direct_bytes)?.len(),
        fanned.len(),
        SmsCodec::to_texts(&fanned)?.len(),
    );
    Ok(())
}
