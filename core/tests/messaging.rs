//! Messaging through the public API: sessions, receipts, re-sends, identity
//! changes and safety numbers. Every test runs on the in-memory store and on
//! the SQLCipher store (see `both_stores!` at the end).

mod support;

use rand::rngs::StdRng;
use sotto_core::message::{Envelope, ReceiptKind};
use sotto_core::messaging::{self, Received};
use sotto_core::safety;
use sotto_core::session;
use sotto_core::store::{DeliveryState, Direction, InMemStore, SottoStore};
use sotto_core::{prekeys, Error, Result};
use support::*;

fn texts_flow_both_ways_and_are_stored<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    let first = send_and_receive(&mut alice, &mut bob, "hello bob", rng)?;
    assert_eq!(text_of(&first), "hello bob");
    let reply = send_and_receive(&mut bob, &mut alice, "hello alice", rng)?;
    assert_eq!(text_of(&reply), "hello alice");

    let alice_view = alice.store.messages(&alice.peer, 10, None)?;
    assert_eq!(alice_view.len(), 2);
    assert_eq!(alice_view[0].direction, Direction::Incoming);
    assert_eq!(alice_view[1].direction, Direction::Outgoing);
    assert_eq!(alice_view[1].state, DeliveryState::Sent);
    Ok(())
}

fn the_first_message_is_a_prekey_message_and_later_ones_are_not<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    let first = messaging::send_text(&mut alice.store, &alice.peer, "one", now(), rng)?;
    assert_eq!(
        first.envelope.kind,
        sotto_core::message::EnvelopeKind::PreKey
    );
    messaging::receive(
        &mut bob.store,
        &bob.peer,
        &first.envelope.to_bytes(),
        now(),
        rng,
    )?;
    send_and_receive(&mut bob, &mut alice, "ack", rng)?;
    let later = messaging::send_text(&mut alice.store, &alice.peer, "two", now(), rng)?;
    assert_eq!(
        later.envelope.kind,
        sotto_core::message::EnvelopeKind::Signal
    );
    Ok(())
}

fn receipts_move_delivery_state_forward_only<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    let got = send_and_receive(&mut alice, &mut bob, "receipt me", rng)?;
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
            rng,
        )?;
        let result = messaging::receive(
            &mut alice.store,
            &alice.peer,
            &receipt.envelope.to_bytes(),
            now(),
            rng,
        )?;
        assert!(matches!(result, Received::Receipt { .. }));
    }
    // Read then Delivered: the late Delivered must not move it back.
    let stored = alice.store.messages(&alice.peer, 1, None)?;
    assert_eq!(stored[0].state, DeliveryState::Read);
    Ok(())
}

fn replayed_ciphertext_and_resent_message_are_duplicates<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    let out = messaging::send_text(&mut alice.store, &alice.peer, "once only", now(), rng)?;
    let bytes = out.envelope.to_bytes();
    assert!(matches!(
        messaging::receive(&mut bob.store, &bob.peer, &bytes, now(), rng)?,
        Received::Text(_)
    ));
    assert_eq!(
        messaging::receive(&mut bob.store, &bob.peer, &bytes, now(), rng)?,
        Received::Duplicate
    );
    let again = messaging::resend(&mut alice.store, &alice.peer, &out.message_id, now(), rng)?;
    assert_ne!(again.envelope, out.envelope);
    assert_eq!(
        messaging::receive(
            &mut bob.store,
            &bob.peer,
            &again.envelope.to_bytes(),
            now(),
            rng
        )?,
        Received::Duplicate
    );
    assert_eq!(bob.store.messages(&bob.peer, 10, None)?.len(), 1);
    Ok(())
}

/// What a failed receive must leave untouched: the session record, the
/// identity, the messages, and the held envelopes.
fn observable_state<S: SottoStore>(
    party: &Party<S>,
) -> Result<(Option<Vec<u8>>, String, usize, usize)> {
    use futures::executor::block_on;
    let address =
        libsignal_protocol::ProtocolAddress::new(party.peer.as_str().into(), sotto_core::DEVICE_ID);
    let session = block_on(party.store.load_session(&address))?
        .map(|r| r.serialize())
        .transpose()?;
    let identity = format!(
        "{:?}",
        block_on(party.store.get_identity(&address))?.map(|k| k.serialize())
    );
    Ok((
        session,
        identity,
        party.store.messages(&party.peer, usize::MAX, None)?.len(),
        party.store.held_envelopes(&party.peer)?.len(),
    ))
}

fn hostile_envelopes_give_errors_and_change_nothing<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    let out = messaging::send_text(&mut alice.store, &alice.peer, "real one", now(), rng)?;
    let mut tampered = out.envelope.to_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let garbage: [&[u8]; 4] = [&[], &[0x12], &[0x11, 1, 2, 3], &tampered];
    let before = observable_state(&bob)?;
    for bytes in garbage {
        assert!(messaging::receive(&mut bob.store, &bob.peer, bytes, now(), rng).is_err());
    }
    assert_eq!(
        observable_state(&bob)?,
        before,
        "failed receives change nothing"
    );
    // The real message still decrypts afterwards.
    let got = messaging::receive(
        &mut bob.store,
        &bob.peer,
        &out.envelope.to_bytes(),
        now(),
        rng,
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

    // A known contact without a session: the error comes from inside
    // libsignal, whose own message would name the address.
    alice.store.save_contact(&sotto_core::store::Contact {
        id: stranger.clone(),
        name: "Stranger".into(),
        relay: None,
    })?;
    let err = messaging::send_text(&mut alice.store, &stranger, "secret text", now(), &mut rng)
        .expect_err("no session");
    assert!(matches!(err, Error::NoSession));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(stranger.as_str()));
    assert!(!shown.contains("secret"));
    Ok(())
}

fn a_changed_identity_is_refused_until_retrusted<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    send_and_receive(&mut alice, &mut bob, "before", rng)?;
    send_and_receive(&mut bob, &mut alice, "before too", rng)?;

    // Bob reinstalls: a new account, same contact entry on Alice's side.
    let mut new_bob = with_account(InMemStore::new(), rng)?;
    new_bob.save_contact(&sotto_core::store::Contact {
        id: bob.peer.clone(),
        name: "Alice".into(),
        relay: None,
    })?;
    // Sending: Alice is handed the new Bob's bundle and refuses it.
    let new_bundle = prekeys::take_prekey_bundle(&mut new_bob)?;
    let refused = session::start_session(&mut alice.store, &alice.peer, &new_bundle, now(), rng);
    assert!(matches!(refused, Err(Error::UntrustedIdentity)));

    // Receiving: the new Bob writes to Alice; the envelope is held, not shown.
    let alice_bundle = prekeys::take_prekey_bundle(&mut alice.store)?;
    session::start_session(&mut new_bob, &bob.peer, &alice_bundle, now(), rng)?;
    let out = messaging::send_text(&mut new_bob, &bob.peer, "it's me, new phone", now(), rng)?;
    let got = messaging::receive(
        &mut alice.store,
        &alice.peer,
        &out.envelope.to_bytes(),
        now(),
        rng,
    )?;
    assert_eq!(got, Received::HeldForUntrustedIdentity);
    assert_eq!(alice.store.messages(&alice.peer, 10, None)?.len(), 2);

    // Held envelopes are bounded: once the contact has the most, another
    // is refused (not stored), with an error that names no one.
    let filler: Vec<i64> = (1..messaging::MAX_HELD_ENVELOPES)
        .map(|_| alice.store.hold_envelope(&alice.peer, &out.envelope, None))
        .collect::<Result<_>>()?;
    let more = messaging::send_text(&mut new_bob, &bob.peer, "one too many", now(), rng)?;
    let refused = messaging::receive(
        &mut alice.store,
        &alice.peer,
        &more.envelope.to_bytes(),
        now(),
        rng,
    );
    assert!(matches!(refused, Err(Error::TooManyHeld)), "{refused:?}");
    assert_eq!(
        alice.store.held_envelope_count(&alice.peer)?,
        messaging::MAX_HELD_ENVELOPES
    );
    for id in filler {
        alice.store.remove_held_envelope(id)?;
    }

    // Alice checks the new safety number and re-trusts; the held text appears.
    let offered = session::offered_identities(&alice.store, &alice.peer)?;
    assert_eq!(offered.len(), 1, "one key offered");
    let offered = offered[0];
    let results = session::trust_new_identity(&mut alice.store, &alice.peer, &offered, now(), rng)?;
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

/// A new account (a new identity key) that starts a session from `bundle`
/// as `peer` (its contact for whoever holds the bundle) and writes `text`:
/// the envelope's bytes.
fn new_account_writes(
    peer: &sotto_core::store::ContactId,
    bundle: &sotto_core::PreKeyBundle,
    text: &str,
    rng: &mut StdRng,
) -> Result<Vec<u8>> {
    let mut store = with_account(InMemStore::new(), rng)?;
    store.save_contact(&sotto_core::store::Contact {
        id: peer.clone(),
        name: "Alice".into(),
        relay: None,
    })?;
    session::start_session(&mut store, peer, bundle, now(), rng)?;
    Ok(messaging::send_text(&mut store, peer, text, now(), rng)?
        .envelope
        .to_bytes())
}

/// Someone (an SMS sender is easily forged) sends Alice a PreKey message
/// "from Bob" under a key of their own. A key whose message does not
/// decrypt is not offered at all; keys that do are offered each with their
/// own safety number, several at once are a conflict that no accept
/// settles silently, and an accept names exactly the key the user saw.
fn forged_identity_offers_are_checked_and_never_chosen_silently<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    send_and_receive(&mut alice, &mut bob, "before", rng)?;
    send_and_receive(&mut bob, &mut alice, "before too", rng)?;
    safety::mark_verified(&mut alice.store, &alice.peer)?;
    let old_number = safety::safety_number(&alice.store, &alice.peer)?;

    // A message under a forger's key built from some other account's
    // bundle: well-formed, names a key, and cannot decrypt at Alice's.
    let mut carol = with_account(InMemStore::new(), rng)?;
    let carol_bundle = prekeys::take_prekey_bundle(&mut carol)?;
    let bogus = new_account_writes(&bob.peer, &carol_bundle, "it is me, Bob", rng)?;
    let refused = messaging::receive(&mut alice.store, &alice.peer, &bogus, now(), rng);
    assert!(refused.is_err(), "not held: {refused:?}");
    assert!(session::offered_identities(&alice.store, &alice.peer)?.is_empty());
    assert!(alice.store.held_envelopes(&alice.peer)?.is_empty());

    // A forger who got one of Alice's real bundles (the relay hands them
    // out) makes a message that does decrypt: offered, with its own number.
    let alice_bundle = prekeys::take_prekey_bundle(&mut alice.store)?;
    let forged = new_account_writes(&bob.peer, &alice_bundle, "new phone, Bob", rng)?;
    let held = messaging::receive(&mut alice.store, &alice.peer, &forged, now(), rng)?;
    assert_eq!(held, Received::HeldForUntrustedIdentity);
    let offered = session::offered_identities(&alice.store, &alice.peer)?;
    assert_eq!(offered.len(), 1);
    let mallory_key = offered[0];
    // The number to compare is the offered key's, which Bob's phone will
    // not show; the old one (which it does show) is not offered.
    let offered_number = safety::safety_number_with(&alice.store, &mallory_key)?;
    assert_ne!(offered_number.digits, old_number.digits);
    // A verification mark cannot land while a key is offered.
    assert!(matches!(
        safety::mark_verified(&mut alice.store, &alice.peer),
        Err(Error::UntrustedIdentity)
    ));

    // The real Bob reinstalls and writes too: two keys, a conflict.
    let alice_bundle = prekeys::take_prekey_bundle(&mut alice.store)?;
    let real = new_account_writes(&bob.peer, &alice_bundle, "new phone, really", rng)?;
    let held = messaging::receive(&mut alice.store, &alice.peer, &real, now(), rng)?;
    assert_eq!(held, Received::HeldForUntrustedIdentity);
    let offered = session::offered_identities(&alice.store, &alice.peer)?;
    assert_eq!(offered.len(), 2, "both keys offered, none chosen");
    let bob_key = offered[1];
    assert_eq!(offered[0], mallory_key);

    // Accepting the key the user looked at before the second one came is
    // refused, and so is a key nobody offered.
    for key in [mallory_key, bob_key] {
        let accepted = session::trust_new_identity(&mut alice.store, &alice.peer, &key, now(), rng);
        assert!(
            matches!(accepted, Err(Error::ConflictingIdentities)),
            "{accepted:?}"
        );
    }
    let stranger_key = *with_account(InMemStore::new(), rng)?
        .local_account()?
        .expect("account")
        .identity
        .identity_key();
    assert!(matches!(
        session::trust_new_identity(&mut alice.store, &alice.peer, &stranger_key, now(), rng),
        Err(Error::NoIdentityChange)
    ));
    assert_eq!(
        alice
            .store
            .identity_record(&alice.peer)?
            .expect("known")
            .key,
        *bob.store
            .local_account()?
            .expect("account")
            .identity
            .identity_key(),
        "the old key stays trusted"
    );

    // Alice compares both numbers with Bob: she rejects Mallory's key and
    // accepts Bob's; only Bob's text is released.
    assert_eq!(
        session::reject_new_identity(&mut alice.store, &alice.peer, &mallory_key)?,
        1
    );
    // (Had Bob's number an SMS handshake waiting, trusting the key whose
    // number Alice compared would end it too.)
    let bobs_number = sotto_core::sms::PhoneNumber::parse("+4940123456", "DE")?;
    alice.store.link_phone(&bobs_number, &alice.peer)?;
    alice.store.set_handshake_pending(&bobs_number, true)?;
    let released =
        session::trust_new_identity(&mut alice.store, &alice.peer, &bob_key, now(), rng)?;
    assert!(!alice.store.handshake_pending(&alice.peer)?);
    let released: Vec<String> = released
        .iter()
        .filter_map(|r| match r {
            Ok(Received::Text(m)) => Some(m.body.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(released, ["new phone, really"]);
    let record = alice.store.identity_record(&alice.peer)?.expect("known");
    assert_eq!(record.key, bob_key);
    assert!(!record.verified, "a new key starts unverified");
    Ok(())
}

fn safety_numbers_match_and_scanning_verifies<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    send_and_receive(&mut alice, &mut bob, "hi", rng)?;
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
    let (mut carol, mut dave) = in_memory_pair(rng)?;
    send_and_receive(&mut carol, &mut dave, "hi", rng)?;
    let other = safety::safety_number(&dave.store, &dave.peer)?;
    assert!(!safety::verify_scanned(
        &mut bob.store,
        &bob.peer,
        &other.scannable
    )?);
    assert!(safety::verify_scanned(&mut bob.store, &bob.peer, b"junk").is_err());
    Ok(())
}

fn bundles_handed_out_before_a_rotation_still_work<S: SottoStore>(
    alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    // Carol got Bob's bundle (in an invite, say) and uses it only after
    // Bob rotated his signed and last-resort keys.
    let mut carol = with_account(InMemStore::new(), rng)?;
    let bob_for_carol = sotto_core::store::ContactId::random(rng);
    carol.save_contact(&sotto_core::store::Contact {
        id: bob_for_carol.clone(),
        name: "Bob".into(),
        relay: None,
    })?;
    let old_bundle = prekeys::take_prekey_bundle(&mut bob.store)?;
    let month_later = now() + std::time::Duration::from_secs(31 * 24 * 3600);
    let report = prekeys::maintain_prekeys(&mut bob.store, &small_policy(), month_later, rng)?;
    assert!(report.rotated_signed && report.rotated_last_resort);
    session::start_session(&mut carol, &bob_for_carol, &old_bundle, now(), rng)?;
    let out = messaging::send_text(&mut carol, &bob_for_carol, "late hello", now(), rng)?;
    let carol_for_bob = sotto_core::store::ContactId::random(rng);
    bob.store.save_contact(&sotto_core::store::Contact {
        id: carol_for_bob.clone(),
        name: "Carol".into(),
        relay: None,
    })?;
    let got = messaging::receive(
        &mut bob.store,
        &carol_for_bob,
        &out.envelope.to_bytes(),
        now(),
        rng,
    )?;
    assert_eq!(text_of(&got), "late hello");
    drop(alice);
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
        relay: None,
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

fn batches_commit_together_and_a_bad_envelope_spoils_nothing<S: SottoStore>(
    mut alice: Party<S>,
    mut bob: Party<S>,
    rng: &mut StdRng,
) -> Result<()> {
    use sotto_core::message::Body;
    send_and_receive(&mut alice, &mut bob, "start", rng)?;
    let items: Vec<_> = (0..5)
        .map(|n| (alice.peer.clone(), Body::Text(format!("batch {n}"))))
        .collect();
    let sent = messaging::send_batch(&mut alice.store, &items, now(), rng)?;
    assert_eq!(alice.store.outbox()?.len(), 5);

    let mut batch: Vec<_> = sent
        .iter()
        .map(|o| (bob.peer.clone(), o.envelope.to_bytes()))
        .collect();
    batch.insert(2, (bob.peer.clone(), vec![0x12, 0, 1])); // garbage in the middle
    batch.push(batch[0].clone()); // and a replay at the end
    let results = messaging::receive_batch(&mut bob.store, &batch, now(), rng)?;
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
    let sent = messaging::send_batch(&mut alice.store, &more, now(), rng)?;
    let batch: Vec<_> = sent
        .iter()
        .map(|o| (bob.peer.clone(), o.envelope.to_bytes()))
        .collect();
    let results = messaging::receive_batch(&mut bob.store, &batch, now(), rng)?;
    assert!(results.iter().all(|r| matches!(r, Ok(Received::Text(_)))));
    Ok(())
}

/// Runs each listed test on a fresh in-memory pair and on a fresh SQLCipher
/// pair.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod in_memory {
            use super::*;
            $(
                #[test]
                fn $name() -> Result<()> {
                    let mut rng = rng(stringify!($name).len() as u64);
                    let (alice, bob) = in_memory_pair(&mut rng)?;
                    super::$name(alice, bob, &mut rng)
                }
            )*
        }
        mod sqlcipher {
            use super::*;
            $(
                #[test]
                fn $name() -> Result<()> {
                    let dir = tempfile::tempdir()?;
                    let mut rng = rng(stringify!($name).len() as u64);
                    let (alice, bob) = sqlcipher_pair(dir.path(), &mut rng)?;
                    super::$name(alice, bob, &mut rng)
                }
            )*
        }
    };
}

both_stores!(
    texts_flow_both_ways_and_are_stored,
    the_first_message_is_a_prekey_message_and_later_ones_are_not,
    receipts_move_delivery_state_forward_only,
    replayed_ciphertext_and_resent_message_are_duplicates,
    hostile_envelopes_give_errors_and_change_nothing,
    a_changed_identity_is_refused_until_retrusted,
    forged_identity_offers_are_checked_and_never_chosen_silently,
    safety_numbers_match_and_scanning_verifies,
    batches_commit_together_and_a_bad_envelope_spoils_nothing,
    bundles_handed_out_before_a_rotation_still_work,
);
