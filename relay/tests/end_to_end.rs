//! The relay end to end: a real `sotto-relay` process over loopback TLS,
//! clients built on `sotto-core`.

mod support;

use std::collections::HashSet;
use std::time::SystemTime;

use sotto_core::messaging;
use sotto_core::relay::client::RelayConnection;
use sotto_core::relay::sealed;
use sotto_core::relay::wire;
use sotto_core::session;
use sotto_core::store::SottoStore;
use sotto_core::Error;
use support::*;

#[tokio::test]
async fn delivery_survives_an_offline_recipient_and_a_relay_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = RelayProcess::start(&relay_dir)?;
    let invite = relay.invite.clone();
    let mut alice = Account::create(dir.path(), "alice", 1)?;
    let mut bob = Account::create(dir.path(), "bob", 2)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    let alice_for_bob = bob.add_contact(&alice_id, "Alice")?;

    // Bob registers, then goes offline.
    drop(bob.register(&invite).await?);

    let mut alice_relay = alice.register(&invite).await?;
    let bundle = alice_relay.fetch_bundle(&bob_id).await?;
    session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice.rng,
    )?;
    for n in 0..10 {
        send_sealed(
            &mut alice,
            &mut alice_relay,
            &bob_for_alice,
            &bob_id,
            &format!("while you were out {n}"),
        )
        .await?;
    }
    drop(alice_relay);

    // The relay restarts with the messages queued.
    relay.stop()?;
    let relay = RelayProcess::start(&relay_dir)?;
    let invite = relay.invite.clone();

    let mut bob_relay = bob.connect(&invite).await?;
    let texts = receive_texts(&mut bob, &mut bob_relay, &invite, 10).await?;
    let expected: Vec<String> = (0..10).map(|n| format!("while you were out {n}")).collect();
    assert_eq!(texts, expected, "all ten, in order, once");
    assert_eq!(bob.store.messages(&alice_for_bob, 100, None)?.len(), 10);

    // Acknowledged envelopes are gone: a new connection gets nothing old.
    drop(bob_relay);
    let mut bob_relay = bob.connect(&invite).await?;
    let mut alice_relay = alice.connect(&invite).await?;
    send_sealed(
        &mut bob,
        &mut bob_relay,
        &alice_for_bob,
        &alice_id,
        "back now",
    )
    .await?;
    let texts = receive_texts(&mut alice, &mut alice_relay, &invite, 1).await?;
    assert_eq!(texts, vec!["back now".to_string()]);
    send_sealed(
        &mut alice,
        &mut alice_relay,
        &bob_for_alice,
        &bob_id,
        "welcome back",
    )
    .await?;
    let texts = receive_texts(&mut bob, &mut bob_relay, &invite, 1).await?;
    assert_eq!(
        texts,
        vec!["welcome back".to_string()],
        "no old envelope comes again"
    );
    relay.stop()
}

#[tokio::test]
async fn mailbox_access_needs_a_fresh_signature() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let invite = relay.invite.clone();
    let mut alice = Account::create(dir.path(), "alice", 3)?;
    let account = alice.store.local_account()?.ok_or("no account")?;
    let identity = *account.identity.identity_key();

    // Anonymous connections cannot touch a mailbox or upload keys.
    let mut anonymous = RelayConnection::connect(&invite, None, &mut alice.rng).await?;
    assert!(matches!(
        anonymous.ack(1).await,
        Err(Error::RelayRefused(_))
    ));
    let mut anonymous = RelayConnection::connect(&invite, None, &mut alice.rng).await?;
    assert!(matches!(
        anonymous.sender_certificate().await,
        Err(Error::RelayRefused(_))
    ));

    let mut anonymous = RelayConnection::connect(&invite, None, &mut alice.rng).await?;
    let upload = sotto_core::prekeys::take_for_upload(&mut alice.store)?;
    assert!(matches!(
        anonymous.upload_prekeys(&upload).await,
        Err(Error::RelayRefused(_))
    ));
    let mut anonymous = RelayConnection::connect(&invite, None, &mut alice.rng).await?;
    assert!(matches!(
        anonymous.delete_account().await,
        Err(Error::RelayRefused(_))
    ));

    // A signature by another key is refused.
    let mallory = libsignal_protocol::IdentityKeyPair::generate(&mut alice.rng);
    let mut rng = rand::rng();
    let forged = RelayConnection::connect_with_signer(&invite, &identity, 1, |nonce| {
        wire::sign_challenge(&mallory, nonce, &mut rng)
    })
    .await;
    assert!(matches!(forged, Err(Error::RelayRefused(_))));

    // A valid signature recorded on one connection is refused on another.
    let mut recorded = Vec::new();
    let mut rng = rand::rng();
    let first = RelayConnection::connect_with_signer(&invite, &identity, 1, |nonce| {
        let signature = wire::sign_challenge(&account.identity, nonce, &mut rng)?;
        recorded = signature.clone();
        Ok(signature)
    })
    .await?;
    assert!(first.is_authenticated());
    let replayed =
        RelayConnection::connect_with_signer(&invite, &identity, 1, |_nonce| Ok(recorded.clone()))
            .await;
    assert!(matches!(replayed, Err(Error::RelayRefused(_))));
    relay.stop()
}

#[tokio::test]
async fn accounts_only_touch_their_own_mailbox_and_can_delete_themselves() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let invite = relay.invite.clone();
    let mut bob = Account::create(dir.path(), "bob", 8)?;
    let mut mallory = Account::create(dir.path(), "mallory", 9)?;
    let bob_id = bob.identity()?;
    drop(bob.register(&invite).await?);
    let mut sender = RelayConnection::connect(&invite, None, &mut rand::rng()).await?;
    sender.send_sealed(&bob_id, b"opaque".to_vec()).await?;

    // Mallory acknowledges ids that are not hers (and one that is not an
    // id at all); Bob's envelope stays.
    let mut mallory_relay = mallory.connect(&invite).await?;
    for id in 0..20 {
        mallory_relay.ack(id).await?;
    }
    let mut odd = mallory.connect(&invite).await?;
    assert!(matches!(
        odd.ack(u64::MAX).await,
        Err(Error::RelayRefused(_))
    ));
    let mut bob_relay = bob.connect(&invite).await?;
    let delivery = bob_relay.next_delivery().await?;
    assert_eq!(delivery.payload, b"opaque");

    // Bob deletes his account: his mailbox and keys go with it.
    bob_relay.delete_account().await?;
    let mut anyone = RelayConnection::connect(&invite, None, &mut rand::rng()).await?;
    assert!(matches!(
        anyone.fetch_bundle(&bob_id).await,
        Err(Error::RelayRefused(_))
    ));
    let mut anyone = RelayConnection::connect(&invite, None, &mut rand::rng()).await?;
    assert!(matches!(
        anyone.send_sealed(&bob_id, b"x".to_vec()).await,
        Err(Error::RelayRefused(_))
    ));
    relay.stop()
}

#[tokio::test]
async fn a_one_time_prekey_is_served_once_under_concurrent_fetches() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let invite = relay.invite.clone();
    let mut bob = Account::create(dir.path(), "bob", 4)?;
    let bob_id = bob.identity()?;
    drop(bob.register(&invite).await?); // 20 one-time keys of each kind

    let fetches = (0..40).map(|_| {
        let invite = invite.clone();
        tokio::spawn(async move {
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_os_rng();
            let mut connection = RelayConnection::connect(&invite, None, &mut rng).await?;
            connection.fetch_bundle(&bob_id).await
        })
    });
    let mut one_time = Vec::new();
    let mut kyber = Vec::new();
    for fetch in fetches.collect::<Vec<_>>() {
        let bundle = fetch.await??;
        if let Some(id) = bundle.pre_key_id()? {
            one_time.push(u32::from(id));
        }
        kyber.push(u32::from(bundle.kyber_pre_key_id()?));
    }
    let distinct: HashSet<_> = one_time.iter().collect();
    assert_eq!(
        one_time.len(),
        20,
        "exactly the 20 uploaded keys are served"
    );
    assert_eq!(distinct.len(), 20, "none twice");
    let last_resort = kyber
        .iter()
        .filter(|id| kyber.iter().filter(|other| other == id).count() > 1)
        .count();
    assert_eq!(
        last_resort, 20,
        "after the 20 one-time Kyber keys, the last-resort key"
    );
    relay.stop()
}

#[tokio::test]
async fn the_relay_keeps_no_text_and_no_sender() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = RelayProcess::start(&relay_dir)?;
    let invite = relay.invite.clone();
    let mut alice = Account::create(dir.path(), "alice", 5)?;
    let mut bob = Account::create(dir.path(), "bob", 6)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    drop(bob.register(&invite).await?);
    // Alice logs in only to get her sender certificate and Bob's bundle,
    // then sends on a separate, anonymous connection.
    let mut alice_relay = alice.connect(&invite).await?;
    let certificate = alice_relay.sender_certificate().await?;
    let bundle = alice_relay.fetch_bundle(&bob_id).await?;
    drop(alice_relay);
    session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice.rng,
    )?;
    let mut anonymous = RelayConnection::connect(&invite, None, &mut alice.rng).await?;
    let text = "meet me at the old oak at nine";
    let out = messaging::send_text(
        &mut alice.store,
        &bob_for_alice,
        text,
        SystemTime::now(),
        &mut alice.rng,
    )?;
    let payload = sealed::seal(
        &alice.store,
        &bob_for_alice,
        &out.envelope,
        &certificate,
        &mut alice.rng,
    )?;
    anonymous.send_sealed(&bob_id, payload).await?;
    drop(anonymous);
    relay.stop()?;

    assert!(
        files_contain(&relay_dir, &bob_id.serialize())?,
        "the recipient is known"
    );
    assert!(!files_contain(&relay_dir, text.as_bytes())?);
    assert!(!files_contain(&relay_dir, b"old oak")?);
    assert!(
        !files_contain(&relay_dir, certificate.serialized()?)?,
        "no sender certificate"
    );
    // Alice logged in once to get her certificate, so her account exists;
    // what must not exist is any link from the envelope to her. The mailbox
    // row holds only recipient, payload, its size and times (see
    // storage.rs), and the payload is sealed: her identity key appears only
    // in her account row.
    let conn = rusqlite::Connection::open(relay_dir.join("relay.db"))?;
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('mailbox')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(
        columns,
        vec![
            "id",
            "recipient",
            "payload",
            "received_at_ms",
            "expires_at_ms",
            "size"
        ]
    );
    let payload: Vec<u8> = conn.query_row("SELECT payload FROM mailbox", [], |r| r.get(0))?;
    let alice_key = alice_id.serialize();
    assert!(!payload
        .windows(alice_key.len())
        .any(|w| w == &alice_key[..]));
    Ok(())
}

#[tokio::test]
async fn a_full_mailbox_arrives_through_the_push_window() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let invite = relay.invite.clone();
    let mut bob = Account::create(dir.path(), "bob", 10)?;
    let bob_id = bob.identity()?;
    drop(bob.register(&invite).await?);
    let mut sender = RelayConnection::connect(&invite, None, &mut rand::rng()).await?;
    for n in 0u32..150 {
        sender
            .send_sealed(&bob_id, n.to_be_bytes().to_vec())
            .await?;
    }
    // More than the relay's window of unacknowledged pushes: the rest comes
    // as Bob acknowledges, in order, each once.
    let mut bob_relay = bob.connect(&invite).await?;
    for n in 0u32..150 {
        let delivery = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            bob_relay.next_delivery(),
        )
        .await??;
        assert_eq!(delivery.payload, n.to_be_bytes());
        bob_relay.ack(delivery.envelope_id).await?;
    }
    relay.stop()
}
