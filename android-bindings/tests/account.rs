//! The exported `Account` from Rust, on stores seeded through the core:
//! contacts, safety numbers, verification and conversation settings as the
//! app will see them, persisted across close and reopen.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sotto_core::safety;
use sotto_ffi::AccountOptions;
use sotto_ffi::{Account, AccountEvent, SottoError};
use support::{
    quiet_options, seed_alice_knowing_bob, ChannelListener, TestResult, KEY, OFFLINE_RELAY,
};

fn open(dir: &std::path::Path) -> Result<Arc<Account>, SottoError> {
    Account::open_with_key(dir.display().to_string(), KEY.to_vec(), quiet_options())
}

fn create(dir: &std::path::Path, options: AccountOptions) -> Result<Arc<Account>, SottoError> {
    Account::create_with_key(
        dir.display().to_string(),
        KEY.to_vec(),
        OFFLINE_RELAY.into(),
        options,
    )
}

#[test]
fn contacts_show_what_the_store_holds_and_verification_persists() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("alice");
    let seeded = seed_alice_knowing_bob(&path, 30)?;
    let bob_id = seeded.bob_id.as_str().to_owned();

    let account = open(&path)?;
    let contacts = account.contacts()?;
    assert_eq!(contacts.len(), 1);
    let bob = &contacts[0];
    assert_eq!(
        (bob.id.as_str(), bob.name.as_str()),
        (bob_id.as_str(), "Bob")
    );
    assert!(!bob.on_relay && !bob.verified && !bob.keep_no_history);
    assert_eq!(bob.disappearing_timer_secs, 30);
    assert_eq!(account.disappearing_timer(bob_id.clone())?, 30);

    // Alice's number for Bob is the one Bob's phone shows for Alice.
    let at_alice = account.contact_safety_number(bob_id.clone())?;
    let at_bob = safety::safety_number_with(&seeded.bob, &seeded.alice_identity)?;
    assert_eq!(at_alice.digits, at_bob.digits);
    assert_eq!(at_alice.grouped, at_bob.grouped());

    assert!(matches!(
        account.verify_contact_code(bob_id.clone(), b"junk".to_vec()),
        Err(SottoError::InvalidInput(_))
    ));
    assert!(account.verify_contact_code(bob_id.clone(), at_bob.scannable)?);
    account.set_keep_no_history(bob_id.clone(), true)?;

    drop(account);
    let account = open(&path)?;
    let bob = &account.contacts()?[0];
    assert!(bob.verified && bob.keep_no_history);
    Ok(())
}

#[test]
fn per_contact_calls_refuse_unknown_contacts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let account = create(&dir.path().join("a"), quiet_options())?;
    assert_eq!(
        account.set_keep_no_history("nobody".into(), true),
        Err(SottoError::UnknownContact)
    );
    assert_eq!(
        account.mark_contact_verified("nobody".into()),
        Err(SottoError::UnknownContact)
    );
    assert_eq!(
        account.verify_contact_code("nobody".into(), vec![1]),
        Err(SottoError::UnknownContact)
    );
    Ok(())
}

#[test]
fn maintenance_events_reach_a_rust_listener_until_cancelled() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut options = quiet_options();
    options.prekey_batch = 1;
    options.prekey_low_water = 50;
    let account = create(&dir.path().join("a"), options)?;
    let (listener, events) = ChannelListener::new();
    let subscription = account.subscribe(Arc::new(listener));

    let report = account.run_maintenance()?;
    assert_eq!(report.one_time_prekeys_made, 1);
    let event = events.recv_timeout(Duration::from_secs(30))?;
    assert_eq!(
        event,
        AccountEvent::PrekeysRefreshed {
            one_time: 1,
            kyber: 1,
            rotated: false
        }
    );

    subscription.cancel();
    assert!(!subscription.is_active());
    account.run_maintenance()?;
    // Cancelling released the listener, so its channel is disconnected:
    // nothing can arrive any more.
    assert_eq!(
        events.recv_timeout(Duration::from_secs(30)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
    );
    Ok(())
}

#[test]
fn opening_needs_an_account_and_creating_refuses_a_second() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("a");
    assert_eq!(open(&data_dir).err(), Some(SottoError::NoAccount));
    drop(create(&data_dir, quiet_options())?);
    assert_eq!(
        create(&data_dir, quiet_options()).err(),
        Some(SottoError::AccountExists)
    );
    let bad = Account::create_with_key(
        dir.path().join("b").display().to_string(),
        KEY.to_vec(),
        "sotto-relay:2/nonsense".into(),
        quiet_options(),
    );
    assert!(matches!(bad, Err(SottoError::InvalidInput(_))));
    Ok(())
}

#[test]
fn an_options_batch_of_zero_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut options = quiet_options();
    options.prekey_batch = 0;
    let result = create(&dir.path().join("a"), options);
    assert!(matches!(result, Err(SottoError::InvalidInput(_))));
    Ok(())
}

#[test]
fn the_cap_on_automatic_sms_is_a_setting_that_persists() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("alice");
    let account = create(&path, quiet_options())?;
    assert_eq!(account.automatic_sms_per_hour()?, 30);
    account.set_automatic_sms_per_hour(5)?;
    assert_eq!(account.automatic_sms_per_hour()?, 5);
    assert_eq!(account.sms_tick()?.automatic_sms_held_back, 0);
    drop(account);
    assert_eq!(open(&path)?.automatic_sms_per_hour()?, 5);
    Ok(())
}
