//! Call set-up on loopback through a real `sotto-relay` process (with its
//! embedded TURN server). Prints, over a number of calls between two
//! accounts with SQLCipher stores and sealed-sender signalling:
//!
//! - offer sent → answer received and the caller's keys ready;
//! - offer sent → the callee's keys ready (after the key reveal);
//! - media path set-up (gather, checks, nomination) direct on loopback, and
//!   forced through the embedded TURN server, candidates swapped in memory.
//!
//! The callee answers at once (no human in the loop). This measures
//! everything before the first media packet; the yardstick "offer to first
//! decoded audio frame", voice pipeline included, is
//! `cargo bench -p sotto-core --bench call_media`.
//!
//! Run: `cargo bench -p sotto-relay --bench call_setup`
//! (`CALL_SETUP_CALLS` changes the number of calls, default 30).

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use libsignal_protocol::SenderCertificate;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::call::{
    self, CallId, CallKeys, CallParties, CallSignal, CalleeHandshake, CallerHandshake,
    LocalCandidates, PathConfig, PathPolicy, ReceivedSignal, Role, SignalKind, TurnServer,
};
use sotto_core::messaging::{self, Received};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::client::{Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::relay::sealed;
use sotto_core::session;
use sotto_core::store::{Contact, ContactId, DatabaseKey, SottoStore, SqlCipherStore};
use sotto_core::IdentityKey;

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

struct Side {
    store: SqlCipherStore,
    rng: StdRng,
    relay: RelayConnection,
    certificate: SenderCertificate,
    peer: ContactId,
    peer_identity: IdentityKey,
}

impl Side {
    fn identity(store: &SqlCipherStore) -> BenchResult<IdentityKey> {
        Ok(*store
            .local_account()?
            .ok_or("no account")?
            .identity
            .identity_key())
    }

    async fn send(&mut self, signal: CallSignal) -> BenchResult {
        let out = call::send_signal(
            &mut self.store,
            &self.peer,
            signal,
            SystemTime::now(),
            &mut self.rng,
        )?;
        let payload = sealed::seal(
            &self.store,
            &self.peer,
            &out.envelope,
            &self.certificate,
            &mut self.rng,
        )?;
        self.relay.send_sealed(&self.peer_identity, payload).await?;
        messaging::mark_sent(&mut self.store, out.outbox_id)?;
        Ok(())
    }

    async fn receive(&mut self, invite: &RelayInvite) -> BenchResult<Received> {
        let delivery = self.relay.next_delivery().await?;
        let got = messaging::receive_sealed(
            &mut self.store,
            &delivery.payload,
            &invite.trust_root,
            SystemTime::UNIX_EPOCH + Duration::from_millis(delivery.received_at_ms),
            SystemTime::now(),
            &mut self.rng,
        )?;
        self.relay.ack(delivery.envelope_id).await?;
        Ok(got.received)
    }

    async fn receive_signal(&mut self, invite: &RelayInvite) -> BenchResult<ReceivedSignal> {
        match self.receive(invite).await? {
            Received::CallSignal(signal) => Ok(signal),
            other => Err(format!("expected a call signal, got {other:?}").into()),
        }
    }
}

async fn side(
    dir: &std::path::Path,
    name: &str,
    seed: u64,
    invite: &RelayInvite,
) -> BenchResult<(SqlCipherStore, StdRng, RelayConnection)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let key = DatabaseKey::generate(&mut rng);
    let mut store = SqlCipherStore::open(&dir.join(format!("{name}.db")), &key)?;
    let policy = PreKeyPolicy {
        batch: 10,
        low_water: 2,
        ..PreKeyPolicy::default()
    };
    prekeys::create_account(&mut store, &policy, SystemTime::now(), &mut rng)?;
    let account = store.local_account()?.ok_or("no account")?;
    let login = Login {
        identity: &account.identity,
        registration_id: account.registration_id,
    };
    let mut relay = RelayConnection::connect(invite, Some(login), &mut rng).await?;
    relay
        .upload_prekeys(&prekeys::take_for_upload(&mut store)?)
        .await?;
    Ok((store, rng, relay))
}

fn stats(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{label:<58} mean {:>8.2} ms   p50 {:>8.2} ms   p99 {:>8.2} ms",
        mean.as_secs_f64() * 1e3,
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3
    );
}

/// One call from `alice` to `bob`; returns (answer received + caller keys
/// ready, callee keys ready), both from the moment the offer is made.
async fn one_call(
    alice: &mut Side,
    bob: &mut Side,
    invite: &RelayInvite,
) -> BenchResult<(Duration, Duration, CallKeys, CallKeys)> {
    let (caller_id, callee_id) = (Side::identity(&alice.store)?, alice.peer_identity);
    let parties = CallParties {
        caller: &caller_id,
        callee: &callee_id,
    };
    let start = Instant::now();
    let call_id = CallId::random(&mut alice.rng);
    let (caller, commitment) = CallerHandshake::start(call_id, &mut alice.rng);
    alice
        .send(CallSignal {
            call_id,
            kind: SignalKind::Offer(commitment),
        })
        .await?;
    let offer = bob.receive_signal(invite).await?;
    if call::is_stale_offer(&offer, SystemTime::now()) {
        return Err("a fresh offer was judged stale".into());
    }
    let SignalKind::Offer(commitment) = offer.signal.kind else {
        return Err("expected an offer".into());
    };
    let (callee, bob_key) = CalleeHandshake::accept(call_id, commitment, &mut bob.rng);
    bob.send(CallSignal {
        call_id,
        kind: SignalKind::Answer(bob_key),
    })
    .await?;
    let answer = alice.receive_signal(invite).await?;
    let SignalKind::Answer(bob_key) = answer.signal.kind else {
        return Err("expected an answer".into());
    };
    let (alice_keys, revealed) = caller.finish(&bob_key, parties)?;
    let caller_ready = start.elapsed();
    alice
        .send(CallSignal {
            call_id,
            kind: SignalKind::KeyReveal(revealed),
        })
        .await?;
    let reveal = bob.receive_signal(invite).await?;
    let SignalKind::KeyReveal(revealed) = reveal.signal.kind else {
        return Err("expected a key reveal".into());
    };
    let bob_keys = callee.finish(&revealed, parties)?;
    let callee_ready = start.elapsed();
    Ok((caller_ready, callee_ready, alice_keys, bob_keys))
}

async fn path_setup(config: &PathConfig, keys: &CallKeys) -> BenchResult<Duration> {
    let start = Instant::now();
    let (a, b) = tokio::join!(
        LocalCandidates::gather(config),
        LocalCandidates::gather(config)
    );
    let (a, b) = (a?, b?);
    let (for_b, for_a) = (a.candidates().to_vec(), b.candidates().to_vec());
    let (a, b) = tokio::join!(
        a.connect(&for_a, Role::Caller, &keys.path, config),
        b.connect(&for_b, Role::Callee, &keys.path, config)
    );
    let elapsed = start.elapsed();
    a?.close().await;
    b?.close().await;
    Ok(elapsed)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> BenchResult {
    let calls: usize = std::env::var("CALL_SETUP_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);
    let dir = tempfile::tempdir()?;
    let turn_port = std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        format!("[turn]\nenabled = true\nlisten = \"127.0.0.1:{turn_port}\"\nmin_port = 44000\nmax_port = 44999\nallow_loopback_peers = true\n"),
    )?;
    let mut relay = Command::new(env!("CARGO_BIN_EXE_sotto-relay"))
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(relay.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let invite = RelayInvite::parse(&line)?;

    let result = run(dir.path(), &invite, calls).await;
    let _ = relay.kill();
    let _ = relay.wait();
    result
}

async fn run(dir: &std::path::Path, invite: &RelayInvite, calls: usize) -> BenchResult {
    let (mut alice_store, mut alice_rng, mut alice_relay) = side(dir, "alice", 1, invite).await?;
    let (mut bob_store, bob_rng, mut bob_relay) = side(dir, "bob", 2, invite).await?;
    let (alice_id, bob_id) = (Side::identity(&alice_store)?, Side::identity(&bob_store)?);
    let bob_for_alice = ContactId::random(&mut alice_rng);
    alice_store.save_contact(&Contact {
        id: bob_for_alice.clone(),
        name: "Bob".into(),
        relay: None,
    })?;
    alice_store.trust_identity(&bob_for_alice, &bob_id)?;
    let alice_for_bob = ContactId::random(&mut alice_rng);
    bob_store.save_contact(&Contact {
        id: alice_for_bob.clone(),
        name: "Alice".into(),
        relay: None,
    })?;
    bob_store.trust_identity(&alice_for_bob, &alice_id)?;
    let bundle = alice_relay.fetch_bundle(&bob_id).await?;
    session::start_session(
        &mut alice_store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice_rng,
    )?;
    let alice_certificate = alice_relay.sender_certificate().await?;
    let bob_certificate = bob_relay.sender_certificate().await?;
    let mut alice = Side {
        store: alice_store,
        rng: alice_rng,
        relay: alice_relay,
        certificate: alice_certificate,
        peer: bob_for_alice,
        peer_identity: bob_id,
    };
    let mut bob = Side {
        store: bob_store,
        rng: bob_rng,
        relay: bob_relay,
        certificate: bob_certificate,
        peer: alice_for_bob,
        peer_identity: alice_id,
    };
    let servers: Vec<TurnServer> = alice.relay.turn_credentials().await?;

    // One call to warm up: it also turns Alice's PreKey messages into
    // ordinary ones, as for any contact talked to before.
    let (_, _, keys, _) = one_call(&mut alice, &mut bob, invite).await?;
    let mut caller_ready = Vec::with_capacity(calls);
    let mut callee_ready = Vec::with_capacity(calls);
    for _ in 0..calls {
        let (caller, callee, a, b) = one_call(&mut alice, &mut bob, invite).await?;
        if a.sas.words() != b.sas.words() || a.media.send.master_key != b.media.receive.master_key {
            return Err("the two sides disagree on keys".into());
        }
        caller_ready.push(caller);
        callee_ready.push(callee);
    }

    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let direct_config = PathConfig::new(loopback, None);
    let mut relay_config = PathConfig::new(loopback, servers.first().cloned());
    relay_config.policy = PathPolicy::RelayOnly;
    let mut direct = Vec::new();
    let mut relayed = Vec::new();
    for _ in 0..calls.min(20) {
        direct.push(path_setup(&direct_config, &keys).await?);
        relayed.push(path_setup(&relay_config, &keys).await?);
    }

    println!("call set-up on loopback through a real sotto-relay, {calls} calls (SQLCipher stores, sealed sender):");
    stats(
        "offer sent -> answer received, caller keys ready",
        &mut caller_ready,
    );
    stats(
        "offer sent -> key reveal received, callee keys ready",
        &mut callee_ready,
    );
    stats("media path: gather + checks, direct UDP", &mut direct);
    stats(
        "media path: gather + checks, through the embedded TURN",
        &mut relayed,
    );
    Ok(())
}
