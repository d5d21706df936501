//! Messaging through the public API: sessions, receipts, re-sends, identity
//! changes and safety numbers, on the in-memory and SQLCipher stores.

mod support;

use sotto_core::message::{Envelope, ReceiptKind};
use sotto_core::messaging::{self, Received};
use sotto_core::safety;
use sotto_core::session;
use sotto_core::store::{DeliveryState, Direction, InMemStore, SottoStore};
use sotto_core::{prekeys, Error, Result};
use support::*;

#[test]
fn texts_flow_both_ways_and_are_stored() -> Result<()> {
    let mut rng = rng(1);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let first = send_and_receive(&mut alice, &mut bob, "hello bob", &mut rng)?;
    assert_eq!(text_of(&first), "hello bob");
    let reply = send_and_receive(&mut bob, &mut alice, "hello alice", &mut rng)?;
    assert_eq!(text_of(&reply), "hello alice");

    let alice_view = alice.store.messages(&alice.peer, 10, None)?;
    assert_eq!(alice_view.len(), 2);
    assert_eq!(alice_view[0].direction, Direction::Incoming);
    assert_eq!(alice_view[1].direction, Direction::Outgoing);
    assert_eq!(alice_view[1].state, DeliveryState::Sent);
    Ok(())
}

#[test]
fn the_first_message_is_a_prekey_message_and_later_ones_are_not() -> Result<()> {
    let mut rng = rng(2);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let first = messaging::send_text(&mut alice.store, &alice.peer, "one", now(), &mut rng)?;
    assert_eq!(
        first.envelope.kind,
        sotto_core::message::EnvelopeKind::PreKey
    );
    messaging::receive(
        &mut bob.store,
        &bob.peer,
        &first.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;
    send_and_receive(&mut bob, &mut alice, "ack", &mut rng)?;
    let later = messaging::send_text(&mut alice.store, &alice.peer, "two", now(), &mut rng)?;
    assert_eq!(
        later.envelope.kind,
        sotto_core::message::EnvelopeKind::Signal
    );
    Ok(())
}

#[test]
fn receipts_move_delivery_state_forward_only() -> Result<()> {
    let mut rng = rng(3);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let got = send_and_receive(&mut alice, &mut bob, "receipt me", &mut rng)?;
    let Received::Text(message) = got else {
        panic!("expected text")
    };

    for kind in [ReceiptKind::Read, ReceiptKind::Delivered] {
        let receipt = messaging::send_receipt(
            &mut bob.store,
            &bob.peer,
            kind,
            vec![message.id],
            now(),
            &mut rng,
        )?;
        let result = messaging::receive(
            &mut alice.store,
            &alice.peer,
            &receipt.envelope.to_bytes(),
            now(),
            &mut rng,
        )?;
        assert!(matches!(result, Received::Receipt { .. }));
    }
    // Read then Delivered: the late Delivered must not move it back.
    let stored = alice.store.messages(&alice.peer, 1, None)?;
    assert_eq!(stored[0].state, DeliveryState::Read);
    Ok(())
}

#[test]
fn replayed_ciphertext_and_resent_message_are_duplicates() -> Result<()> {
    let mut rng = rng(4);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let out = messaging::send_text(&mut alice.store, &alice.peer, "once only", now(), &mut rng)?;
    let bytes = out.envelope.to_bytes();
    assert!(matches!(
        messaging::receive(&mut bob.store, &bob.peer, &bytes, now(), &mut rng)?,
        Received::Text(_)
    ));
    assert_eq!(
        messaging::receive(&mut bob.store, &bob.peer, &bytes, now(), &mut rng)?,
        Received::Duplicate
    );
    let again = messaging::resend(
        &mut alice.store,
        &alice.peer,
        &out.message_id,
        now(),
        &mut rng,
    )?;
    assert_ne!(again.envelope, out.envelope);
    assert_eq!(
        messaging::receive(
            &mut bob.store,
            &bob.peer,
            &again.envelope.to_bytes(),
            now(),
            &mut rng
        )?,
        Received::Duplicate
    );
    assert_eq!(bob.store.messages(&bob.peer, 10, None)?.len(), 1);
    Ok(())
}

#[test]
fn hostile_envelopes_give_errors_and_change_nothing() -> Result<()> {
    let mut rng = rng(5);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    let out = messaging::send_text(&mut alice.store, &alice.peer, "real one", now(), &mut rng)?;
    let mut tampered = out.envelope.to_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let garbage: [&[u8]; 4] = [&[], &[0x12], &[0x11, 1, 2, 3], &tampered];
    for bytes in garbage {
        assert!(messaging::receive(&mut bob.store, &bob.peer, bytes, now(), &mut rng).is_err());
    }
    // The real message still decrypts afterwards.
    let got = messaging::receive(
        &mut bob.store,
        &bob.peer,
        &out.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;
    assert_eq!(text_of(&got), "real one");
    Ok(())
}

#[test]
fn errors_never_name_the_contact_or_the_text() -> Result<()> {
    let mut rng = rng(6);
    let (mut alice, _bob) = in_memory_pair(&mut rng)?;
    let stranger = sotto_core::store::ContactId::random(&mut rng);
    let err = messaging::send_text(&mut alice.store, &stranger, "secret text", now(), &mut rng)
        .expect_err("unknown contact");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(stranger.as_str()));
    assert!(!shown.contains("secret"));
    Ok(())
}

#[test]
fn a_changed_identity_is_refused_until_retrusted() -> Result<()> {
    let mut rng = rng(7);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    send_and_receive(&mut alice, &mut bob, "before", &mut rng)?;
    send_and_receive(&mut bob, &mut alice, "before too", &mut rng)?;

    // Bob reinstalls: a new account, same contact entry on Alice's side.
    let mut new_bob = with_account(InMemStore::new(), &mut rng)?;
    new_bob.save_contact(&sotto_core::store::Contact {
        id: bob.peer.clone(),
        name: "Alice".into(),
    })?;
    // Sending: Alice is handed the new Bob's bundle and refuses it.
    let new_bundle = prekeys::take_prekey_bundle(&mut new_bob)?;
    let refused =
        session::start_session(&mut alice.store, &alice.peer, &new_bundle, now(), &mut rng);
    assert!(matches!(refused, Err(Error::UntrustedIdentity)));

    // Receiving: the new Bob writes to Alice; the envelope is held, not shown.
    let alice_bundle = prekeys::take_prekey_bundle(&mut alice.store)?;
    session::start_session(&mut new_bob, &bob.peer, &alice_bundle, now(), &mut rng)?;
    let out = messaging::send_text(
        &mut new_bob,
        &bob.peer,
        "it's me, new phone",
        now(),
        &mut rng,
    )?;
    let got = messaging::receive(
        &mut alice.store,
        &alice.peer,
        &out.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;
    assert_eq!(got, Received::HeldForUntrustedIdentity);
    assert_eq!(alice.store.messages(&alice.peer, 10, None)?.len(), 2);

    // Alice checks the new safety number and re-trusts; the held text appears.
    let offered = session::offered_identity(&alice.store, &alice.peer)?.expect("offered key");
    let results =
        session::trust_new_identity(&mut alice.store, &alice.peer, &offered, now(), &mut rng)?;
    assert_eq!(results.len(), 1);
    assert_eq!(
        text_of(
            results[0]
                .as_ref()
                .map_err(|e| e.to_string())
                .expect("decrypts")
        ),
        "it's me, new phone"
    );
    assert!(alice.store.held_envelopes(&alice.peer)?.is_empty());
    Ok(())
}

#[test]
fn safety_numbers_match_and_scanning_verifies() -> Result<()> {
    let mut rng = rng(8);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    send_and_receive(&mut alice, &mut bob, "hi", &mut rng)?;
    let a = safety::safety_number(&alice.store, &alice.peer)?;
    let b = safety::safety_number(&bob.store, &bob.peer)?;
    assert_eq!(a.digits, b.digits);
    assert_eq!(a.digits.len(), 60);
    assert_eq!(a.grouped().split(' ').count(), 12);
    assert!(safety::verify_scanned(
        &mut alice.store,
        &alice.peer,
        &b.scannable
    )?);
    assert!(
        alice
            .store
            .identity_record(&alice.peer)?
            .expect("known")
            .verified
    );
    // A code from a different pair does not match.
    let (mut carol, mut dave) = in_memory_pair(&mut rng)?;
    send_and_receive(&mut carol, &mut dave, "hi", &mut rng)?;
    let other = safety::safety_number(&dave.store, &dave.peer)?;
    assert!(!safety::verify_scanned(
        &mut bob.store,
        &bob.peer,
        &other.scannable
    )?);
    assert!(safety::verify_scanned(&mut bob.store, &bob.peer, b"junk").is_err());
    Ok(())
}

#[test]
fn bundles_survive_encoding_and_bad_bundles_are_refused() -> Result<()> {
    let mut rng = rng(9);
    let mut bob = with_account(InMemStore::new(), &mut rng)?;
    let bundle = prekeys::take_prekey_bundle(&mut bob)?;
    let bytes = sotto_core::encode_bundle(&bundle)?;
    let decoded = sotto_core::decode_bundle(&bytes)?;
    assert_eq!(sotto_core::encode_bundle(&decoded)?, bytes);
    assert!(matches!(
        sotto_core::decode_bundle(&bytes[..bytes.len() / 2]),
        Err(Error::InvalidBundle)
    ));

    // A bundle whose signed prekey signature is broken is refused.
    let mut alice = with_account(InMemStore::new(), &mut rng)?;
    let contact = sotto_core::store::ContactId::random(&mut rng);
    alice.save_contact(&sotto_core::store::Contact {
        id: contact.clone(),
        name: "Bob".into(),
    })?;
    let forged = bundle.modify(|content| {
        if let Some(sig) = content.signed_pre_key_signature.as_mut() {
            sig[0] ^= 1;
        }
    })?;
    assert!(matches!(
        session::start_session(&mut alice, &contact, &forged, now(), &mut rng),
        Err(Error::InvalidBundle)
    ));
    Ok(())
}

#[test]
fn unknown_envelope_bytes_parse_errors_are_specific() {
    assert!(matches!(
        Envelope::from_bytes(&[]),
        Err(Error::MalformedEnvelope(_))
    ));
}

#[test]
fn batches_commit_together_and_a_bad_envelope_spoils_nothing() -> Result<()> {
    use sotto_core::message::Body;
    let mut rng = rng(10);
    let (mut alice, mut bob) = in_memory_pair(&mut rng)?;
    send_and_receive(&mut alice, &mut bob, "start", &mut rng)?;
    let items: Vec<_> = (0..5)
        .map(|n| (alice.peer.clone(), Body::Text(format!("batch {n}"))))
        .collect();
    let sent = messaging::send_batch(&mut alice.store, &items, now(), &mut rng)?;
    assert_eq!(alice.store.outbox()?.len(), 5);

    let mut batch: Vec<_> = sent
        .iter()
        .map(|o| (bob.peer.clone(), o.envelope.to_bytes()))
        .collect();
    batch.insert(2, (bob.peer.clone(), vec![0x12, 0, 1])); // garbage in the middle
    batch.push(batch[0].clone()); // and a replay at the end
    let results = messaging::receive_batch(&mut bob.store, &batch, now(), &mut rng)?;
    assert_eq!(results.len(), 7);
    assert!(results[2].is_err());
    let texts: Vec<&str> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(|r| match r {
            Received::Text(m) => Some(m.body.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        vec!["batch 0", "batch 1", "batch 2", "batch 3", "batch 4"]
    );
    assert_eq!(results[6].as_ref().ok(), Some(&Received::Duplicate));

    // A clean batch takes the one-transaction path.
    let more: Vec<_> = (0..3)
        .map(|n| (alice.peer.clone(), Body::Text(format!("more {n}"))))
        .collect();
    let sent = messaging::send_batch(&mut alice.store, &more, now(), &mut rng)?;
    let batch: Vec<_> = sent
        .iter()
        .map(|o| (bob.peer.clone(), o.envelope.to_bytes()))
        .collect();
    let results = messaging::receive_batch(&mut bob.store, &batch, now(), &mut rng)?;
    assert!(results.iter().all(|r| matches!(r, Ok(Received::Text(_)))));
    Ok(())
}
