//! The relay agent: two accounts stay connected through a relay restart;
//! texts queued while the relay is down are sent when it comes back.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sotto_core::messaging::{self, Received};
use sotto_core::relay::agent::{self, AgentConfig, AgentEvent, Backoff};
use sotto_core::session;
use sotto_core::store::{SottoStore, SqlCipherStore};
use support::*;
use tokio::sync::{mpsc, watch, Notify};

struct Running {
    store: Arc<Mutex<SqlCipherStore>>,
    outbox: Arc<Notify>,
    events: mpsc::UnboundedReceiver<AgentEvent>,
}

fn start_agent(account: Account, config: AgentConfig, stop: watch::Receiver<bool>) -> Running {
    let store = Arc::new(Mutex::new(account.store));
    let outbox = Arc::new(Notify::new());
    let (tx, events) = mpsc::unbounded_channel();
    tokio::spawn(agent::run(store.clone(), config, outbox.clone(), tx, stop));
    Running {
        store,
        outbox,
        events,
    }
}

/// Waits (bounded) for the next received text.
async fn next_text(agent: &mut Running) -> TestResult<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, agent.events.recv())
            .await?
            .ok_or("agent stopped")?;
        if let AgentEvent::Received(got) = event {
            if let Received::Text(message) = got.received {
                return Ok(message.body);
            }
        }
    }
}

async fn wait_connected(agent: &mut Running) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, agent.events.recv())
            .await?
            .ok_or("agent stopped")?;
        if matches!(event, AgentEvent::Connected) {
            return Ok(());
        }
    }
}

#[tokio::test]
async fn agents_reconnect_after_a_relay_restart_and_flush_the_outbox() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let relay = RelayProcess::start_on(&relay_dir, port)?;
    let invite = relay.invite.clone();

    let mut alice = Account::create(dir.path(), "alice", 11)?;
    let mut bob = Account::create(dir.path(), "bob", 12)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    let alice_for_bob = bob.add_contact(&alice_id, "Alice")?;
    drop(bob.register(&invite).await?);
    let bundle = alice.register(&invite).await?.fetch_bundle(&bob_id).await?;
    session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice.rng,
    )?;

    let mut config = AgentConfig::new(invite.clone());
    config.backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(500));
    let (stop_tx, stop) = watch::channel(false);
    let mut alice = start_agent(alice, config.clone(), stop.clone());
    let mut bob = start_agent(bob, config, stop);
    wait_connected(&mut alice).await?;
    wait_connected(&mut bob).await?;

    let send = |agent: &Running, to: &sotto_core::store::ContactId, text: &str| -> TestResult {
        let mut store = agent.store.lock().map_err(|_| "poisoned")?;
        messaging::send_text(&mut *store, to, text, SystemTime::now(), &mut rand::rng())?;
        agent.outbox.notify_one();
        Ok(())
    };
    send(&alice, &bob_for_alice, "before the restart")?;
    assert_eq!(next_text(&mut bob).await?, "before the restart");

    // The relay goes down; Alice writes anyway; the texts wait in her outbox.
    relay.stop()?;
    send(&alice, &bob_for_alice, "while it was down 1")?;
    send(&alice, &bob_for_alice, "while it was down 2")?;
    let relay = RelayProcess::start_on(&relay_dir, port)?;

    assert_eq!(next_text(&mut bob).await?, "while it was down 1");
    assert_eq!(next_text(&mut bob).await?, "while it was down 2");
    send(&bob, &alice_for_bob, "all three arrived")?;
    assert_eq!(next_text(&mut alice).await?, "all three arrived");
    assert!(alice
        .store
        .lock()
        .map_err(|_| "poisoned")?
        .outbox()?
        .is_empty());

    stop_tx.send(true)?;
    relay.stop()
}

#[tokio::test]
async fn the_agent_tops_up_one_time_prekeys_that_others_used() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let invite = relay.invite.clone();
    let bob = Account::create(dir.path(), "bob", 13)?; // 20 one-time keys of each kind
    let bob_id = bob.identity()?;

    let mut config = AgentConfig::new(invite.clone());
    config.keepalive = Duration::from_millis(100);
    config.prekeys = sotto_core::prekeys::PreKeyPolicy {
        batch: 20,
        low_water: 5,
        ..Default::default()
    };
    let (stop_tx, stop) = watch::channel(false);
    let mut bob = start_agent(bob, config, stop);
    wait_connected(&mut bob).await?;

    // Others fetch bundles until the relay's stock runs out.
    let mut served = 0;
    let mut fetcher =
        sotto_core::relay::client::RelayConnection::connect(&invite, None, &mut rand::rng())
            .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while served < 60 && tokio::time::Instant::now() < deadline {
        let bundle = match fetcher.fetch_bundle(&bob_id).await {
            Ok(bundle) => bundle,
            // The agent reports itself connected before its first upload
            // is through (the relay checks every key's signature).
            Err(sotto_core::Error::RelayRefused("not found")) if served == 0 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if bundle.pre_key_id()?.is_some() {
            served += 1;
        } else {
            // Out of one-time keys for now: give the agent a keepalive.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    assert!(
        served >= 60,
        "the agent kept the stock up ({served} served)"
    );
    stop_tx.send(true)?;
    relay.stop()
}

#[tokio::test]
async fn the_agent_stays_connected_when_the_relay_closes_idle_anonymous_connections() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        "[limits]\nanonymous_idle_timeout_secs = 1\n",
    )?;
    let invite = relay.invite.clone();
    let mut alice = Account::create(dir.path(), "alice", 14)?;
    let mut bob = Account::create(dir.path(), "bob", 15)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    bob.add_contact(&alice_id, "Alice")?;
    drop(bob.register(&invite).await?);
    let bundle = alice.register(&invite).await?.fetch_bundle(&bob_id).await?;
    session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice.rng,
    )?;

    let mut config = AgentConfig::new(invite.clone());
    config.keepalive = Duration::from_millis(200);
    let (stop_tx, stop) = watch::channel(false);
    let mut alice = start_agent(alice, config.clone(), stop.clone());
    let mut bob = start_agent(bob, config, stop);
    wait_connected(&mut alice).await?;
    wait_connected(&mut bob).await?;

    // Keepalives for longer than the relay lets an anonymous connection
    // idle, then a text.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    {
        let mut store = alice.store.lock().map_err(|_| "poisoned")?;
        messaging::send_text(
            &mut *store,
            &bob_for_alice,
            "still here",
            SystemTime::now(),
            &mut rand::rng(),
        )?;
    }
    alice.outbox.notify_one();
    assert_eq!(next_text(&mut bob).await?, "still here");
    while let Ok(event) = alice.events.try_recv() {
        assert!(
            !matches!(event, AgentEvent::Disconnected(_)),
            "the agent lost its session: {event:?}"
        );
    }
    stop_tx.send(true)?;
    relay.stop()
}
