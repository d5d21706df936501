//! Sender certificates live 24 hours, but a sealed envelope may wait in a
//! mailbox for up to the mailbox TTL. The recipient therefore checks the
//! certificate at the time the relay received the envelope, not at the time
//! it is read: a week-old envelope sealed under a then-valid certificate is
//! accepted, and one sealed under an already expired certificate is not.

mod support;

use std::time::{Duration, SystemTime};

use sotto_core::messaging::{self, Received};
use sotto_core::relay::sealed;
use sotto_core::store::SottoStore;
use sotto_core::{prekeys, session, Error};
use sotto_relay::identity::{RelayIdentity, SENDER_CERTIFICATE_LIFETIME};
use support::*;

const HOUR: Duration = Duration::from_secs(3600);

/// A relay identity made in `dir`, and its trust root.
fn relay_in(dir: &std::path::Path) -> TestResult<(RelayIdentity, libsignal_protocol::PublicKey)> {
    let (relay, _) =
        RelayIdentity::load_or_create(&dir.join("relay"), &["localhost".into()], &mut rand::rng())?;
    let trust_root = relay.invite("localhost", 7443).trust_root;
    Ok((relay, trust_root))
}

#[test]
fn certificates_are_checked_at_relay_arrival_not_at_reading_time() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (relay, trust_root) = relay_in(dir.path())?;
    let mut alice = Account::create(dir.path(), "alice", 21)?;
    let mut bob = Account::create(dir.path(), "bob", 22)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    let alice_for_bob = bob.add_contact(&alice_id, "Alice")?;
    let bundle = prekeys::take_prekey_bundle(&mut bob.store)?;
    let issued_at = SystemTime::now() - 7 * 24 * HOUR;
    session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        issued_at,
        &mut alice.rng,
    )?;
    let certificate = relay
        .issue_sender_certificate(&alice_id, issued_at, &mut alice.rng)
        .ok_or("certificate")?;

    let mut seal_text = |text: &str| -> TestResult<Vec<u8>> {
        let out = messaging::send_text(
            &mut alice.store,
            &bob_for_alice,
            text,
            issued_at,
            &mut alice.rng,
        )?;
        Ok(sealed::seal(
            &alice.store,
            &bob_for_alice,
            &out.envelope,
            &certificate,
            &mut alice.rng,
        )?)
    };
    let kept_a_week = seal_text("queued for a week")?;
    let sent_too_late = seal_text("sent after the certificate expired")?;
    let now = SystemTime::now();

    // Queued an hour after issue, read a week later: accepted.
    let got = messaging::receive_sealed(
        &mut bob.store,
        &kept_a_week,
        &trust_root,
        issued_at + HOUR,
        now,
        &mut bob.rng,
    )?;
    assert!(
        matches!(got.received, Received::Text(_)),
        "{:?}",
        got.received
    );

    // Reached the relay after the certificate expired: refused, and
    // nothing is stored.
    let refused = messaging::receive_sealed(
        &mut bob.store,
        &sent_too_late,
        &trust_root,
        issued_at + SENDER_CERTIFICATE_LIFETIME + HOUR,
        now,
        &mut bob.rng,
    );
    assert!(
        matches!(refused, Err(Error::InvalidSenderCertificate)),
        "{refused:?}"
    );
    assert_eq!(bob.store.messages(&alice_for_bob, 10, None)?.len(), 1);
    Ok(())
}

/// A contact whose SMS handshake waits for its number (we answered a hello
/// that may have been forged, so its key is not proven to be the number's)
/// gets no new session through the relay either: a sealed PreKey message
/// under that key is refused, and nothing is stored. Once the handshake is
/// complete, the same message is taken.
#[test]
fn a_pending_sms_handshake_gets_no_new_session_through_the_relay() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (relay, trust_root) = relay_in(dir.path())?;
    let mut mallory = Account::create(dir.path(), "mallory", 23)?;
    let mut bob = Account::create(dir.path(), "bob", 24)?;
    let (mallory_id, bob_id) = (mallory.identity()?, bob.identity()?);
    let bob_for_mallory = mallory.add_contact(&bob_id, "Bob")?;
    // Bob answered a hello "from Mum" that carried Mallory's key.
    let mum_for_bob = bob.add_contact(&mallory_id, "Mum")?;
    let mum = sotto_core::sms::PhoneNumber::parse("+4940555123", "DE")?;
    bob.store.link_phone(&mum, &mum_for_bob)?;
    bob.store.set_handshake_pending(&mum, true)?;

    let now = SystemTime::now();
    let bundle = prekeys::take_prekey_bundle(&mut bob.store)?;
    session::start_session(
        &mut mallory.store,
        &bob_for_mallory,
        &bundle,
        now,
        &mut mallory.rng,
    )?;
    let certificate = relay
        .issue_sender_certificate(&mallory_id, now, &mut mallory.rng)
        .ok_or("certificate")?;
    let out = messaging::send_text(
        &mut mallory.store,
        &bob_for_mallory,
        "it is Mum",
        now,
        &mut mallory.rng,
    )?;
    let payload = sealed::seal(
        &mallory.store,
        &bob_for_mallory,
        &out.envelope,
        &certificate,
        &mut mallory.rng,
    )?;
    let refused = messaging::receive_sealed(
        &mut bob.store,
        &payload,
        &trust_root,
        now,
        now,
        &mut bob.rng,
    );
    assert!(
        matches!(refused, Err(Error::HandshakeIncomplete)),
        "{refused:?}"
    );
    assert!(bob.store.messages(&mum_for_bob, 10, None)?.is_empty());

    bob.store.set_handshake_pending(&mum, false)?;
    let got = messaging::receive_sealed(
        &mut bob.store,
        &payload,
        &trust_root,
        now,
        now,
        &mut bob.rng,
    )?;
    assert!(
        matches!(got.received, Received::Text(_)),
        "{:?}",
        got.received
    );
    Ok(())
}
