//! The SQLCipher store on disk: restart, wrong keys, what the files reveal,
//! and disappearing messages.

mod support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use sotto_core::history;
use sotto_core::messaging::{self, Received};
use sotto_core::store::{salt_path, DatabaseKey, SottoStore, SqlCipherStore};
use sotto_core::{Error, Result};
use support::*;

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push((
                entry.file_name().to_string_lossy().into_owned(),
                fs::read(entry.path())?,
            ));
        }
    }
    files.sort();
    Ok(files)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn conversation_continues_after_both_stores_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(30);
    let (mut alice, mut bob) = sqlcipher_pair(dir.path(), &mut rng)?;
    for n in 0..5 {
        send_and_receive(&mut alice, &mut bob, &format!("before {n}"), &mut rng)?;
        send_and_receive(&mut bob, &mut alice, &format!("reply {n}"), &mut rng)?;
    }
    // A message in flight across the restart, too.
    let in_flight =
        messaging::send_text(&mut alice.store, &alice.peer, "in flight", now(), &mut rng)?;
    let (alice_peer, bob_peer) = (alice.peer.clone(), bob.peer.clone());
    drop(alice);
    drop(bob);

    let mut alice = Party {
        store: SqlCipherStore::open(&db_path(dir.path(), "alice"), &key(1))?,
        peer: alice_peer,
    };
    let mut bob = Party {
        store: SqlCipherStore::open(&db_path(dir.path(), "bob"), &key(2))?,
        peer: bob_peer,
    };
    // The unsent envelope is still in the outbox.
    assert_eq!(alice.store.outbox()?.len(), 1);
    let got = messaging::receive(
        &mut bob.store,
        &bob.peer,
        &in_flight.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;
    assert_eq!(text_of(&got), "in flight");
    for n in 0..5 {
        assert_eq!(
            text_of(&send_and_receive(
                &mut alice,
                &mut bob,
                &format!("after {n}"),
                &mut rng
            )?),
            format!("after {n}")
        );
        send_and_receive(&mut bob, &mut alice, &format!("reply after {n}"), &mut rng)?;
    }
    assert_eq!(bob.store.messages(&bob.peer, 100, None)?.len(), 21);
    assert!(bob.store.cipher_integrity_check()?.is_empty());
    Ok(())
}

#[test]
fn wrong_key_is_refused_and_the_file_is_unchanged() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(31);
    let (mut alice, mut bob) = sqlcipher_pair(dir.path(), &mut rng)?;
    send_and_receive(&mut alice, &mut bob, "hello", &mut rng)?;
    drop((alice, bob));
    let before = snapshot(dir.path())?;
    assert!(matches!(
        SqlCipherStore::open(&db_path(dir.path(), "alice"), &key(9)),
        Err(Error::WrongKey)
    ));
    assert_eq!(
        snapshot(dir.path())?,
        before,
        "a wrong key must not touch any file"
    );
    // The right key still opens it.
    SqlCipherStore::open(&db_path(dir.path(), "alice"), &key(1))?;
    Ok(())
}

/// Issue 19 (key vault): changing the Android passphrase rekeys the store, so
/// an older copy of the wrapped key no longer opens it. After `rekey` the
/// open store goes on reading and writing; on disk only the new key opens
/// it, with everything in it.
#[test]
fn a_rekeyed_store_opens_with_the_new_key_only_and_keeps_everything() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(34);
    let (mut alice, mut bob) = sqlcipher_pair(dir.path(), &mut rng)?;
    for n in 0..3 {
        send_and_receive(&mut alice, &mut bob, &format!("before {n}"), &mut rng)?;
        send_and_receive(&mut bob, &mut alice, &format!("reply {n}"), &mut rng)?;
    }
    alice.store.rekey(&key(7))?;
    // The open store goes on, both ways, with its sessions.
    let got = send_and_receive(&mut bob, &mut alice, "while rekeyed", &mut rng)?;
    assert_eq!(text_of(&got), "while rekeyed");
    send_and_receive(&mut alice, &mut bob, "answer", &mut rng)?;
    let stored = alice.store.messages(&alice.peer, 100, None)?.len();
    assert_eq!(stored, 8);
    let alice_peer = alice.peer.clone();
    drop(alice);

    let path = db_path(dir.path(), "alice");
    assert!(matches!(
        SqlCipherStore::open(&path, &key(1)),
        Err(Error::WrongKey)
    ));
    let mut alice = Party {
        store: SqlCipherStore::open(&path, &key(7))?,
        peer: alice_peer,
    };
    assert_eq!(alice.store.messages(&alice.peer, 100, None)?.len(), stored);
    assert!(alice.store.cipher_integrity_check()?.is_empty());
    let got = send_and_receive(&mut bob, &mut alice, "after reopening", &mut rng)?;
    assert_eq!(text_of(&got), "after reopening");
    // Nothing of the rekey is left beside the store.
    let names: Vec<String> = snapshot(dir.path())?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(
        !names.iter().any(|name| name.contains("rekey")),
        "{names:?}"
    );
    Ok(())
}

/// A rekey is refused inside a transaction (it would end it) and changes
/// nothing; a store can be rekeyed again.
#[test]
fn a_rekey_inside_a_transaction_is_refused_and_a_second_rekey_works() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let mut rng = rng(35);
    let mut store = with_account(SqlCipherStore::open(&path, &key(1))?, &mut rng)?;
    store.begin()?;
    assert!(matches!(
        store.rekey(&key(2)),
        Err(Error::NestedTransaction)
    ));
    store.rollback()?;
    store.rekey(&key(2))?;
    store.rekey(&key(3))?;
    drop(store);
    for wrong in [1, 2] {
        assert!(matches!(
            SqlCipherStore::open(&path, &key(wrong)),
            Err(Error::WrongKey)
        ));
    }
    assert!(SqlCipherStore::open(&path, &key(3))?
        .local_account()?
        .is_some());
    Ok(())
}

/// A rekey that fails before the store is replaced changes nothing: the
/// open store goes on under its old key. A staged copy a crash left beside
/// the store is deleted by the next open, which uses the store itself.
#[test]
fn a_failed_or_interrupted_rekey_leaves_the_old_key_in_force() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let staged = dir.path().join("store.db.rekey");
    let mut rng = rng(36);
    let mut store = with_account(SqlCipherStore::open(&path, &key(1))?, &mut rng)?;
    // The staged copy cannot be written (a directory is in its place).
    fs::create_dir(&staged)?;
    assert!(store.rekey(&key(2)).is_err());
    store.save_app_setting("still", "writable")?;
    drop(store);
    fs::remove_dir(&staged)?;
    assert!(matches!(
        SqlCipherStore::open(&path, &key(2)),
        Err(Error::WrongKey)
    ));

    // A crash after the export, before the rename.
    fs::write(&staged, b"a half-written copy")?;
    let store = SqlCipherStore::open(&path, &key(1))?;
    assert_eq!(store.app_setting("still")?.as_deref(), Some("writable"));
    assert!(!staged.exists());
    Ok(())
}

#[test]
fn wrong_passphrase_is_refused_and_the_file_is_unchanged() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let mut rng = rng(32);
    let store = SqlCipherStore::open_with_passphrase(&path, b"correct horse battery", &mut rng)?;
    with_account(store, &mut rng)?;
    assert!(salt_path(&path).exists());
    let before = snapshot(dir.path())?;
    let wrong = SqlCipherStore::open_with_passphrase(&path, b"correct horse battery!", &mut rng);
    assert!(matches!(wrong, Err(Error::WrongKey)));
    assert_eq!(snapshot(dir.path())?, before);
    let store = SqlCipherStore::open_with_passphrase(&path, b"correct horse battery", &mut rng)?;
    assert!(store.local_account()?.is_some());
    drop(store);
    // Without its salt the passphrase cannot be turned into the key.
    fs::remove_file(salt_path(&path))?;
    assert!(matches!(
        SqlCipherStore::open_with_passphrase(&path, b"correct horse battery", &mut rng),
        Err(Error::MissingSalt)
    ));
    Ok(())
}

#[test]
fn a_second_writer_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("store.db");
    let mut first = SqlCipherStore::open(&path, &key(3))?;
    with_account_ref(&mut first)?;
    assert!(matches!(
        SqlCipherStore::open(&path, &key(3)),
        Err(Error::StoreLocked)
    ));
    Ok(())
}

fn with_account_ref(store: &mut SqlCipherStore) -> Result<()> {
    sotto_core::prekeys::create_account(store, &small_policy(), now(), &mut rng(33))?;
    Ok(())
}

#[test]
fn nothing_secret_is_readable_on_disk() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(34);
    let (alice_key, bob_key) = (
        DatabaseKey::generate(&mut rng),
        DatabaseKey::generate(&mut rng),
    );
    let alice = with_account(
        SqlCipherStore::open(&db_path(dir.path(), "alice"), &alice_key)?,
        &mut rng,
    )?;
    let bob = with_account(
        SqlCipherStore::open(&db_path(dir.path(), "bob"), &bob_key)?,
        &mut rng,
    )?;
    let (mut alice, mut bob) = introduce(alice, bob, &mut rng)?;
    let texts: Vec<String> = (0..20)
        .map(|n| format!("attack at dawn, plan {n:03}"))
        .collect();
    for text in &texts {
        send_and_receive(&mut alice, &mut bob, text, &mut rng)?;
        send_and_receive(&mut bob, &mut alice, &text.to_uppercase(), &mut rng)?;
    }
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for text in &texts {
        needles.push(text.as_bytes().to_vec());
        needles.push(text.to_uppercase().into_bytes());
    }
    needles.push(b"attack at dawn".to_vec());
    for store in [&alice.store, &bob.store] {
        let account = store.local_account()?.expect("account");
        needles.push(account.identity.private_key().serialize().to_vec());
    }
    for key in [&alice_key, &bob_key] {
        needles.push(key.as_bytes().to_vec());
        needles.push(hex::encode(key.as_bytes()).into_bytes());
        needles.push(hex::encode_upper(key.as_bytes()).into_bytes());
    }

    let check = |when: &str| -> Result<()> {
        let files = snapshot(dir.path())?;
        assert!(files.iter().any(|(name, _)| name.ends_with("-wal")) || when == "closed");
        for (name, bytes) in &files {
            for needle in &needles {
                assert!(
                    !contains(bytes, needle),
                    "{when}: a secret is readable in {name}"
                );
            }
        }
        Ok(())
    };
    check("open")?;
    drop((alice, bob));
    check("closed")
}

#[test]
fn disappearing_messages_are_deleted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(35);
    let (mut alice, mut bob) = sqlcipher_pair(dir.path(), &mut rng)?;
    send_and_receive(&mut alice, &mut bob, "stays", &mut rng)?;
    let update = history::set_expiration_timer(&mut alice.store, &alice.peer, 60, now(), &mut rng)?;
    let got = messaging::receive(
        &mut bob.store,
        &bob.peer,
        &update.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;
    assert_eq!(got, Received::ExpirationTimerChanged(60));
    assert_eq!(
        bob.store
            .conversation_settings(&bob.peer)?
            .expire_timer_secs,
        60
    );
    send_and_receive(&mut alice, &mut bob, "goes away", &mut rng)?;
    send_and_receive(&mut bob, &mut alice, "me too", &mut rng)?;

    assert_eq!(history::delete_expired(&mut bob.store, now())?, 0);
    let later = now() + Duration::from_secs(61);
    assert_eq!(history::delete_expired(&mut bob.store, later)?, 2);
    assert_eq!(history::delete_expired(&mut alice.store, later)?, 2);
    let left: Vec<String> = bob
        .store
        .messages(&bob.peer, 10, None)?
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(left, vec!["stays".to_string()]);
    // The WAL was checkpointed and truncated after the deletion.
    let wal = fs::metadata(dir.path().join("bob.db-wal"))?;
    assert_eq!(wal.len(), 0);
    Ok(())
}

#[test]
fn keep_no_history_stores_nothing_but_still_delivers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(36);
    let (mut alice, mut bob) = sqlcipher_pair(dir.path(), &mut rng)?;
    send_and_receive(&mut alice, &mut bob, "kept", &mut rng)?;
    history::set_keep_no_history(&mut bob.store, &bob.peer, true)?;
    assert!(
        bob.store.messages(&bob.peer, 10, None)?.is_empty(),
        "turning it on wipes the conversation"
    );
    let got = send_and_receive(&mut alice, &mut bob, "not kept", &mut rng)?;
    assert_eq!(text_of(&got), "not kept");
    send_and_receive(&mut bob, &mut alice, "nor this", &mut rng)?;
    assert!(bob.store.messages(&bob.peer, 10, None)?.is_empty());
    assert_eq!(alice.store.messages(&alice.peer, 10, None)?.len(), 3);
    // The duplicate check does not depend on stored history.
    let out = messaging::send_text(&mut alice.store, &alice.peer, "twice", now(), &mut rng)?;
    let bytes = out.envelope.to_bytes();
    messaging::receive(&mut bob.store, &bob.peer, &bytes, now(), &mut rng)?;
    let again = messaging::resend(
        &mut alice.store,
        &alice.peer,
        &out.message_id,
        now(),
        &mut rng,
    )?;
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
    Ok(())
}
