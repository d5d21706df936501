//! "Message path": the cost per message of encrypt + persist + decrypt +
//! persist through Sotto with the SQLCipher store (durable commits), beside
//! raw libsignal with its in-memory stores, in the same run.
//!
//! One-way: Alice sends, Bob receives, repeatedly (symmetric ratchet only).
//! Ping-pong: the direction alternates, so every message takes a DH ratchet
//! step (and an SPQR step).
//! Batched: 32 texts per transaction on each side (`send_batch`,
//! `receive_batch`), as when a mailbox is drained; "alternating" turns the
//! direction around after each batch.
//!
//! Run: `cargo bench -p sotto-core --bench message_path`

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use libsignal_protocol::{
    kem, message_decrypt, message_encrypt, process_prekey_bundle, DeviceId, GenericSignedPreKey,
    IdentityKeyPair, InMemSignalProtocolStore, KeyPair, KyberPreKeyRecord, KyberPreKeyStore,
    PreKeyBundle, PreKeyRecord, PreKeyStore, ProtocolAddress, SignedPreKeyRecord,
    SignedPreKeyStore, Timestamp,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sotto_core::message::Body;
use sotto_core::messaging;
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::session;
use sotto_core::store::{Contact, ContactId, DatabaseKey, SottoStore, SqlCipherStore};

/// A 60-character text, the size DESIGN.md's numbers use.
const TEXT: &str = "Running ten minutes late, save me a seat near the window ok?";

fn raw_store(rng: &mut StdRng) -> InMemSignalProtocolStore {
    let identity = IdentityKeyPair::generate(rng);
    InMemSignalProtocolStore::new(identity, rng.random_range(1..16000)).expect("store")
}

fn raw_bundle(store: &mut InMemSignalProtocolStore, rng: &mut StdRng) -> PreKeyBundle {
    use futures::executor::block_on;
    let identity = block_on(libsignal_protocol::IdentityKeyStore::get_identity_key_pair(
        store,
    ))
    .expect("id");
    let reg = block_on(libsignal_protocol::IdentityKeyStore::get_local_registration_id(store))
        .expect("reg");
    let pre = KeyPair::generate(rng);
    let signed = KeyPair::generate(rng);
    let signed_sig = identity
        .private_key()
        .calculate_signature(&signed.public_key.serialize(), rng)
        .expect("sign");
    let kyber =
        KyberPreKeyRecord::generate(kem::KeyType::Kyber1024, 1.into(), identity.private_key())
            .expect("kyber");
    block_on(store.save_pre_key(1.into(), &PreKeyRecord::new(1.into(), &pre))).expect("save");
    let record = SignedPreKeyRecord::new(
        1.into(),
        Timestamp::from_epoch_millis(0),
        &signed,
        &signed_sig,
    );
    block_on(store.save_signed_pre_key(1.into(), &record)).expect("save");
    block_on(store.save_kyber_pre_key(1.into(), &kyber)).expect("save");
    PreKeyBundle::new(
        reg,
        DeviceId::new(1).expect("device"),
        Some((1.into(), pre.public_key)),
        1.into(),
        signed.public_key,
        signed_sig.to_vec(),
        1.into(),
        kyber.public_key().expect("kyber public"),
        kyber.signature().expect("signature"),
        *identity.identity_key(),
    )
    .expect("bundle")
}

struct RawPair {
    alice: InMemSignalProtocolStore,
    bob: InMemSignalProtocolStore,
    alice_addr: ProtocolAddress,
    bob_addr: ProtocolAddress,
}

impl RawPair {
    fn new(rng: &mut StdRng) -> Self {
        let mut alice = raw_store(rng);
        let mut bob = raw_store(rng);
        let bundle = raw_bundle(&mut bob, rng);
        let device = DeviceId::new(1).expect("device");
        let (alice_addr, bob_addr) = (
            ProtocolAddress::new("alice".into(), device),
            ProtocolAddress::new("bob".into(), device),
        );
        futures::executor::block_on(process_prekey_bundle(
            &bob_addr,
            &mut alice.session_store,
            &mut alice.identity_store,
            &bundle,
            SystemTime::now(),
            rng,
        ))
        .expect("session");
        let mut pair = Self {
            alice,
            bob,
            alice_addr,
            bob_addr,
        };
        pair.one_way(true, rng); // establish both directions
        pair.one_way(false, rng);
        pair
    }

    fn one_way(&mut self, alice_sends: bool, rng: &mut StdRng) {
        let (from, to, from_addr, to_addr) = if alice_sends {
            (
                &mut self.alice,
                &mut self.bob,
                &self.alice_addr,
                &self.bob_addr,
            )
        } else {
            (
                &mut self.bob,
                &mut self.alice,
                &self.bob_addr,
                &self.alice_addr,
            )
        };
        futures::executor::block_on(async {
            let ct = message_encrypt(
                TEXT.as_bytes(),
                to_addr,
                &mut from.session_store,
                &mut from.identity_store,
                SystemTime::now(),
                rng,
            )
            .await
            .expect("encrypt");
            message_decrypt(
                &ct,
                from_addr,
                &mut to.session_store,
                &mut to.identity_store,
                &mut to.pre_key_store,
                &to.signed_pre_key_store,
                &mut to.kyber_pre_key_store,
                rng,
            )
            .await
            .expect("decrypt");
        });
    }
}

struct SottoParty<S> {
    store: S,
    peer: ContactId,
}

fn sotto_pair<S: SottoStore>(
    mut alice: S,
    mut bob: S,
    rng: &mut StdRng,
) -> (SottoParty<S>, SottoParty<S>) {
    let policy = PreKeyPolicy {
        batch: 2,
        low_water: 1,
        ..PreKeyPolicy::default()
    };
    let now = SystemTime::now();
    prekeys::create_account(&mut alice, &policy, now, rng).expect("account");
    prekeys::create_account(&mut bob, &policy, now, rng).expect("account");
    let (bob_id, alice_id) = (ContactId::random(rng), ContactId::random(rng));
    alice
        .save_contact(&Contact {
            id: bob_id.clone(),
            name: "Bob".into(),
            relay: None,
        })
        .expect("contact");
    bob.save_contact(&Contact {
        id: alice_id.clone(),
        name: "Alice".into(),
        relay: None,
    })
    .expect("contact");
    let bundle = prekeys::take_prekey_bundle(&mut bob).expect("bundle");
    session::start_session(&mut alice, &bob_id, &bundle, now, rng).expect("session");
    let mut a = SottoParty {
        store: alice,
        peer: bob_id,
    };
    let mut b = SottoParty {
        store: bob,
        peer: alice_id,
    };
    sotto_one_way(&mut a, &mut b, rng);
    sotto_one_way(&mut b, &mut a, rng);
    (a, b)
}

/// Messages per transaction in the batched variant.
const BATCH: usize = 32;

/// `BATCH` texts encrypted in one commit, then decrypted in one commit.
fn sotto_batch<S: SottoStore>(from: &mut SottoParty<S>, to: &mut SottoParty<S>, rng: &mut StdRng) {
    let now = SystemTime::now();
    let items: Vec<_> = (0..BATCH)
        .map(|_| (from.peer.clone(), Body::Text(TEXT.into())))
        .collect();
    let sent = messaging::send_batch(&mut from.store, &items, now, rng).expect("send");
    let envelopes: Vec<_> = sent
        .iter()
        .map(|o| (to.peer.clone(), o.envelope.to_bytes()))
        .collect();
    let results = messaging::receive_batch(&mut to.store, &envelopes, now, rng).expect("receive");
    assert!(results.iter().all(|r| r.is_ok()));
}

/// Encrypt + commit (message row and outbox), then decrypt + commit.
fn sotto_one_way<S: SottoStore>(
    from: &mut SottoParty<S>,
    to: &mut SottoParty<S>,
    rng: &mut StdRng,
) {
    let now = SystemTime::now();
    let out = messaging::send_text(&mut from.store, &from.peer, TEXT, now, rng).expect("send");
    messaging::receive(&mut to.store, &to.peer, &out.envelope.to_bytes(), now, rng)
        .expect("receive");
}

fn message_path(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("message_path");
    group.throughput(Throughput::Elements(1));

    let mut raw = RawPair::new(&mut rng);
    group.bench_function("raw_libsignal_inmem/one_way", |b| {
        b.iter(|| raw.one_way(true, &mut rng))
    });
    let mut alice_sends = true;
    group.bench_function("raw_libsignal_inmem/ping_pong", |b| {
        b.iter(|| {
            raw.one_way(alice_sends, &mut rng);
            alice_sends = !alice_sends;
        })
    });

    let [alice_store, bob_store] = ["alice.db", "bob.db"].map(|name| {
        let key = DatabaseKey::generate(&mut rng);
        let mut store = SqlCipherStore::open(&dir.path().join(name), &key).expect("open");
        // A phone has one store; this process has two, and the bundled
        // SQLite (SQLITE_ENABLE_MEMORY_MANAGEMENT) gives all stores of a
        // process one shared page-cache LRU, in which two growing stores
        // evict each other's hot pages. Larger caches take that artefact
        // out of the measurement.
        store.set_cache_kib(64 * 1024).expect("cache size");
        store
    });
    let (mut a, mut bb) = sotto_pair(alice_store, bob_store, &mut rng);
    group.bench_function("sotto_sqlcipher/one_way", |b| {
        b.iter(|| sotto_one_way(&mut a, &mut bb, &mut rng))
    });
    let mut forward = true;
    group.bench_function("sotto_sqlcipher/ping_pong", |b| {
        b.iter(|| {
            if forward {
                sotto_one_way(&mut a, &mut bb, &mut rng)
            } else {
                sotto_one_way(&mut bb, &mut a, &mut rng)
            }
            forward = !forward;
        })
    });
    group.finish();

    let mut group = c.benchmark_group("message_path_batched");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut forward = true;
    group.bench_function("sotto_sqlcipher/one_way", |b| {
        b.iter(|| sotto_batch(&mut a, &mut bb, &mut rng))
    });
    group.bench_function("sotto_sqlcipher/alternating", |b| {
        b.iter(|| {
            if forward {
                sotto_batch(&mut a, &mut bb, &mut rng)
            } else {
                sotto_batch(&mut bb, &mut a, &mut rng)
            }
            forward = !forward;
        })
    });
    group.finish();
}

criterion_group!(benches, message_path);
criterion_main!(benches);
