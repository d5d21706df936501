//! Fixtures shared by the integration tests: two parties with stores and a
//! session between them, built through the public API only.
#![allow(dead_code)]

pub mod app_relay;
pub mod call_shell;
pub mod sms_network;
pub mod speech;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::messaging::{self, Received};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::session;
use sotto_core::store::{Contact, ContactId, DatabaseKey, InMemStore, SottoStore, SqlCipherStore};
use sotto_core::Result;

/// One side of a conversation.
pub struct Party<S> {
    pub store: S,
    /// How this party knows the other one.
    pub peer: ContactId,
}

/// A small prekey policy, so tests do not spend their time on ML-KEM keygen.
pub fn small_policy() -> PreKeyPolicy {
    PreKeyPolicy {
        batch: 5,
        low_water: 2,
        ..PreKeyPolicy::default()
    }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Creates an account in `store`.
pub fn with_account<S: SottoStore>(mut store: S, rng: &mut StdRng) -> Result<S> {
    prekeys::create_account(&mut store, &small_policy(), now(), rng)?;
    Ok(store)
}

/// Introduces Alice and Bob to each other and starts a session from Alice to
/// Bob with Bob's bundle. Bob's side of the session appears when he receives
/// Alice's first message.
pub fn introduce<A: SottoStore, B: SottoStore>(
    mut alice: A,
    mut bob: B,
    rng: &mut StdRng,
) -> Result<(Party<A>, Party<B>)> {
    let bob_as_seen_by_alice = ContactId::random(rng);
    let alice_as_seen_by_bob = ContactId::random(rng);
    alice.save_contact(&Contact {
        id: bob_as_seen_by_alice.clone(),
        name: "Bob".into(),
        relay: None,
    })?;
    bob.save_contact(&Contact {
        id: alice_as_seen_by_bob.clone(),
        name: "Alice".into(),
        relay: None,
    })?;
    let bundle = prekeys::take_prekey_bundle(&mut bob)?;
    session::start_session(&mut alice, &bob_as_seen_by_alice, &bundle, now(), rng)?;
    Ok((
        Party {
            store: alice,
            peer: bob_as_seen_by_alice,
        },
        Party {
            store: bob,
            peer: alice_as_seen_by_bob,
        },
    ))
}

/// Two in-memory parties with a session from Alice to Bob.
pub fn in_memory_pair(rng: &mut StdRng) -> Result<(Party<InMemStore>, Party<InMemStore>)> {
    let alice = with_account(InMemStore::new(), rng)?;
    let bob = with_account(InMemStore::new(), rng)?;
    introduce(alice, bob, rng)
}

pub fn key(byte: u8) -> DatabaseKey {
    DatabaseKey::from_bytes([byte; 32])
}

pub fn db_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.db"))
}

/// Two SQLCipher parties in `dir`, keyed with `key(1)` and `key(2)`.
pub fn sqlcipher_pair(
    dir: &Path,
    rng: &mut StdRng,
) -> Result<(Party<SqlCipherStore>, Party<SqlCipherStore>)> {
    let alice = with_account(SqlCipherStore::open(&db_path(dir, "alice"), &key(1))?, rng)?;
    let bob = with_account(SqlCipherStore::open(&db_path(dir, "bob"), &key(2))?, rng)?;
    introduce(alice, bob, rng)
}

/// Sends a text from `from` and delivers it to `to`, returning what `to` got.
pub fn send_and_receive<A: SottoStore, B: SottoStore>(
    from: &mut Party<A>,
    to: &mut Party<B>,
    text: &str,
    rng: &mut StdRng,
) -> Result<Received> {
    let out = messaging::send_text(&mut from.store, &from.peer, text, now(), rng)?;
    messaging::mark_sent(&mut from.store, out.outbox_id)?;
    messaging::receive(
        &mut to.store,
        &to.peer,
        &out.envelope.to_bytes(),
        now(),
        rng,
    )
}

/// The body of a received text, or a panic naming what came instead.
pub fn text_of(received: &Received) -> &str {
    match received {
        Received::Text(m) => &m.body,
        other => panic!("expected a text, got {other:?}"),
    }
}

/// Whether two SRTP keys are the same (tests only: `SrtpKeys` has no `==`
/// on purpose, since that would not be constant-time).
pub fn same_key(a: &sotto_core::call::SrtpKeys, b: &sotto_core::call::SrtpKeys) -> bool {
    a.master_key == b.master_key && a.master_salt == b.master_salt
}
