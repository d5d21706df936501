//! `sotto demo`: two accounts with their own encrypted stores in a temporary
//! directory exchange texts both ways; every claim it prints is checked.
//!
//! Then the same accounts talk through an embedded relay
//! (`demo_relay.rs`), two more phones find each other and text over SMS
//! (`demo_sms.rs`), and two accounts on a relay with TURN make an
//! encrypted call that carries speech both ways (`demo_call.rs`).

use std::time::SystemTime;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sotto_core::message::EnvelopeKind;
use sotto_core::messaging::{self, Received};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::safety;
use sotto_core::session;
use sotto_core::store::{Contact, ContactId, SottoStore, SqlCipherStore};
use zeroize::Zeroizing;

pub(crate) type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

pub(crate) struct Account {
    pub(crate) name: &'static str,
    pub(crate) store: SqlCipherStore,
    pub(crate) peer: ContactId,
}

fn step(text: &str) {
    println!("• {text}");
}

pub(crate) fn check(ok: bool, what: &str) -> DemoResult<()> {
    if ok {
        println!("  ✓ {what}");
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

fn open_account(
    dir: &std::path::Path,
    name: &'static str,
    rng: &mut StdRng,
) -> DemoResult<Account> {
    // A random passphrase per run, never shown: the point is the Argon2id path.
    let mut secret = [0u8; 24];
    rng.fill_bytes(&mut secret);
    let passphrase = Zeroizing::new(hex::encode(secret));
    let path = dir.join(format!("{}.db", name.to_lowercase()));
    let mut store = SqlCipherStore::open_with_passphrase(&path, passphrase.as_bytes(), rng)?;
    prekeys::create_account(&mut store, &PreKeyPolicy::default(), SystemTime::now(), rng)?;
    Ok(Account {
        name,
        store,
        peer: ContactId::random(rng),
    })
}

fn send(from: &mut Account, to: &mut Account, text: &str, rng: &mut StdRng) -> DemoResult<()> {
    let now = SystemTime::now();
    let out = messaging::send_text(&mut from.store, &from.peer, text, now, rng)?;
    messaging::mark_sent(&mut from.store, out.outbox_id)?;
    let bytes = out.envelope.to_bytes();
    let kind = match out.envelope.kind {
        EnvelopeKind::PreKey => "PreKey (PQXDH)",
        EnvelopeKind::Signal => "Signal",
        EnvelopeKind::SenderKey => "SenderKey (group)",
    };
    println!(
        "  {} → {}: {} characters as a {}-byte {kind} envelope",
        from.name,
        to.name,
        text.chars().count(),
        bytes.len()
    );
    let received = messaging::receive(&mut to.store, &to.peer, &bytes, now, rng)?;
    let Received::Text(message) = received else {
        return Err("the envelope did not decrypt to a text".into());
    };
    check(
        message.body == text,
        &format!("{} decrypted exactly what was sent", to.name),
    )?;
    let again = messaging::receive(&mut to.store, &to.peer, &bytes, now, rng)?;
    check(
        again == Received::Duplicate,
        "a replay of the same envelope is rejected",
    )
}

/// Runs the demo.
pub fn run() -> DemoResult<()> {
    let mut rng = StdRng::from_os_rng();
    let dir = tempfile::tempdir()?;
    println!("Sotto demo — two accounts on this machine, each with an SQLCipher store\n");

    step("Creating Alice and Bob (identity keys, signed EC and ML-KEM-1024 prekeys)");
    let mut alice = open_account(dir.path(), "Alice", &mut rng)?;
    let mut bob = open_account(dir.path(), "Bob", &mut rng)?;
    alice.store.save_contact(&Contact {
        id: alice.peer.clone(),
        name: "Bob".into(),
        relay: None,
    })?;
    bob.store.save_contact(&Contact {
        id: bob.peer.clone(),
        name: "Alice".into(),
        relay: None,
    })?;
    check(
        alice.store.local_account()?.is_some() && bob.store.local_account()?.is_some(),
        "both accounts exist",
    )?;

    step("Alice fetches Bob's prekey bundle and starts a PQXDH session");
    let bundle = prekeys::take_prekey_bundle(&mut bob.store)?;
    let bundle_bytes = sotto_core::encode_bundle(&bundle)?;
    println!("  bundle: {} bytes", bundle_bytes.len());
    let bundle = sotto_core::decode_bundle(&bundle_bytes)?;
    session::start_session(
        &mut alice.store,
        &alice.peer,
        &bundle,
        SystemTime::now(),
        &mut rng,
    )?;

    step("Texts both ways");
    send(
        &mut alice,
        &mut bob,
        "Hi Bob, this is Alice. Is this thing really encrypted?",
        &mut rng,
    )?;
    send(
        &mut bob,
        &mut alice,
        "Yes: Signal protocol, PQXDH and the triple ratchet.",
        &mut rng,
    )?;
    send(
        &mut alice,
        &mut bob,
        "Running ten minutes late, save me a seat near the window ok?",
        &mut rng,
    )?;
    send(&mut bob, &mut alice, "Saved. 🪟", &mut rng)?;

    step("Through an embedded relay (TLS 1.3, sealed sender)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::demo_relay::run(
        dir.path(),
        &mut alice,
        &mut bob,
        &mut rng,
    ))?;

    step("Over SMS, with no data connection (a perfect carrier in this process)");
    crate::demo_sms::run(dir.path(), &mut rng)?;

    step("An encrypted call: signalling over the Signal session, keys checked aloud, Opus in SRTP");
    runtime.block_on(crate::demo_call::run(dir.path()))?;

    step("Safety numbers");
    let a = safety::safety_number(&alice.store, &alice.peer)?;
    let b = safety::safety_number(&bob.store, &bob.peer)?;
    println!("  Alice sees: {}", a.grouped());
    println!("  Bob sees:   {}", b.grouped());
    check(
        a.digits == b.digits,
        "both phones show the same safety number",
    )?;
    check(
        safety::verify_scanned(&mut alice.store, &alice.peer, &b.scannable)?,
        "Alice scanned Bob's code: verified",
    )?;

    step("Stores");
    for account in [&alice, &bob] {
        let count = account
            .store
            .messages(&account.peer, usize::MAX, None)?
            .len();
        check(
            count == 6,
            &format!("{}'s store holds the 6 texts", account.name),
        )?;
        check(
            account.store.cipher_integrity_check()?.is_empty(),
            &format!("{}'s store passes cipher_integrity_check", account.name),
        )?;
    }

    println!("All checks passed.");
    Ok(())
}
