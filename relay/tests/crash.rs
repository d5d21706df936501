//! Crashes on either side of the relay: a relay killed with SIGKILL keeps
//! everything it acknowledged, and a client that dies between its own commit
//! and its acknowledgement gets the envelope again and recognises it.

mod support;

use std::time::SystemTime;

use sotto_core::messaging::Received;
use sotto_core::session;
use sotto_core::store::SottoStore;
use support::*;

/// Alice and Bob with contacts for each other, both registered on `relay`,
/// and Alice holding a session with Bob.
struct Pair {
    alice: Account,
    bob: Account,
    bob_for_alice: sotto_core::store::ContactId,
    alice_for_bob: sotto_core::store::ContactId,
    bob_id: sotto_core::IdentityKey,
}

async fn pair(dir: &std::path::Path, relay: &RelayProcess) -> TestResult<Pair> {
    let mut alice = Account::create(dir, "alice", 11)?;
    let mut bob = Account::create(dir, "bob", 12)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    let alice_for_bob = bob.add_contact(&alice_id, "Alice")?;
    drop(bob.register(&relay.invite).await?);
    let mut alice_relay = alice.register(&relay.invite).await?;
    let bundle = alice_relay.fetch_bundle(&bob_id).await?;
    session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice.rng,
    )?;
    Ok(Pair {
        alice,
        bob,
        bob_for_alice,
        alice_for_bob,
        bob_id,
    })
}

#[tokio::test]
async fn every_acknowledged_send_survives_a_relay_killed_with_sigkill() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = RelayProcess::start(&relay_dir)?;
    let mut p = pair(dir.path(), &relay).await?;

    // Each send returns only once the relay has acknowledged it, which it
    // must do only after its group commit. Then the process dies.
    let mut alice_relay = p.alice.connect(&relay.invite).await?;
    let texts: Vec<String> = (0..25).map(|n| format!("before the crash {n}")).collect();
    for text in &texts {
        send_sealed(
            &mut p.alice,
            &mut alice_relay,
            &p.bob_for_alice,
            &p.bob_id,
            text,
        )
        .await?;
    }
    relay.kill()?;
    drop(alice_relay);

    let relay = RelayProcess::start(&relay_dir)?;
    let mut bob_relay = p.bob.connect(&relay.invite).await?;
    let received = receive_texts(&mut p.bob, &mut bob_relay, &relay.invite, texts.len()).await?;
    assert_eq!(
        received, texts,
        "every acknowledged envelope, in order, once"
    );
    assert_eq!(
        p.bob.store.messages(&p.alice_for_bob, 100, None)?.len(),
        texts.len()
    );
    relay.stop()
}

#[tokio::test]
async fn a_delivery_committed_but_never_acknowledged_comes_again_and_is_recognised() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let invite = relay.invite.clone();
    let mut p = pair(dir.path(), &relay).await?;

    let mut alice_relay = p.alice.connect(&invite).await?;
    send_sealed(
        &mut p.alice,
        &mut alice_relay,
        &p.bob_for_alice,
        &p.bob_id,
        "only once",
    )
    .await?;

    // Bob commits the message, then dies before acknowledging it.
    let mut bob_relay = p.bob.connect(&invite).await?;
    let (first, received) = receive_and_commit(&mut p.bob, &mut bob_relay, &invite).await?;
    assert!(matches!(received, Received::Text(_)));
    drop(bob_relay);

    // On reconnection the relay hands the same envelope over again; Bob's
    // store knows it, so it is a duplicate and he may now acknowledge it.
    let mut bob_relay = p.bob.connect(&invite).await?;
    let (again, received) = receive_and_commit(&mut p.bob, &mut bob_relay, &invite).await?;
    assert_eq!(again.envelope_id, first.envelope_id);
    assert!(matches!(received, Received::Duplicate), "got {received:?}");
    bob_relay.ack(again.envelope_id).await?;
    assert_eq!(
        p.bob.store.messages(&p.alice_for_bob, 100, None)?.len(),
        1,
        "stored once"
    );

    // After the acknowledgement the envelope is gone for good: the next
    // delivery on a new connection is the next message.
    drop(bob_relay);
    send_sealed(
        &mut p.alice,
        &mut alice_relay,
        &p.bob_for_alice,
        &p.bob_id,
        "the next one",
    )
    .await?;
    let mut bob_relay = p.bob.connect(&invite).await?;
    let texts = receive_texts(&mut p.bob, &mut bob_relay, &invite, 1).await?;
    assert_eq!(texts, vec!["the next one".to_string()]);
    relay.stop()
}
