//! The application facade without a relay: accounts in directories,
//! contacts from invites, settings, and the errors a client acts on. (The
//! relay paths are exercised end to end by the CLI's tests, which run a
//! real relay.)

use std::path::Path;

use sotto_core::app::{Account, AppSettings, ContactInvite, ErrorKind, Event, Reach, StoreKey};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::{ContactId, DatabaseKey};
use sotto_core::{Error, Result};
use zeroize::Zeroizing;

fn relay(port: u16) -> RelayInvite {
    RelayInvite {
        host: "127.0.0.1".into(),
        port,
        trust_root: libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key,
    }
}

fn raw(byte: u8) -> StoreKey {
    StoreKey::Raw(DatabaseKey::from_bytes([byte; 32]))
}

fn create(dir: &Path, name: &str, key: u8, relay: &RelayInvite) -> Result<Account> {
    Account::create(&dir.join(name), &raw(key), relay.clone())
}

/// The bindings share one `Account` between threads and run its futures on
/// a multi-threaded runtime.
#[test]
fn accounts_and_their_futures_can_cross_threads() -> Result<()> {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir()?;
    let account = create(dir.path(), "alice", 1, &relay(1))?;
    send_sync(&account);
    let contact = ContactId::from_string("00".into());
    send(&account.send_text(&contact, "x"));
    send(&account.register());
    Ok(())
}

#[test]
fn an_account_opens_with_its_key_only_and_is_created_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("alice");
    assert!(matches!(
        Account::open(&home, &raw(1)),
        Err(Error::NoAccount)
    ));
    assert!(!home.exists(), "opening creates nothing");

    let relay = relay(7443);
    let created = Account::create(&home, &raw(1), relay.clone())?;
    let identity = created.identity_key();
    assert!(matches!(
        Account::open(&home, &raw(1)).map_err(|e| e.kind()),
        Err(ErrorKind::StoreBusy)
    ));
    drop(created);

    let opened = Account::open(&home, &raw(1))?;
    assert_eq!(opened.identity_key(), identity);
    assert_eq!(opened.settings(), AppSettings::new(relay.clone()));
    drop(opened);
    assert!(matches!(
        Account::open(&home, &raw(2)),
        Err(Error::WrongKey)
    ));
    assert!(matches!(
        Account::create(&home, &raw(1), relay),
        Err(Error::AccountExists)
    ));
    Ok(())
}

#[test]
fn a_passphrase_account_needs_its_passphrase() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let phrase = |text: &str| StoreKey::Passphrase(Zeroizing::new(text.as_bytes().to_vec()));
    let created = Account::create(dir.path(), &phrase("horse battery"), relay(1))?;
    let identity = created.identity_key();
    drop(created);
    assert_eq!(
        Account::open(dir.path(), &phrase("horse battery"))?.identity_key(),
        identity
    );
    assert!(matches!(
        Account::open(dir.path(), &phrase("horse staple")),
        Err(Error::WrongKey)
    ));
    Ok(())
}

/// Issue 19 (key vault): an account opened with a raw key moves to a new
/// key and goes on working; afterwards only the new key opens it. A
/// passphrase account is refused (its key comes from the passphrase).
#[test]
fn a_raw_key_account_rekeys_and_goes_on_while_a_passphrase_account_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("alice");
    let relay = relay(7443);
    let alice = Account::create(&home, &raw(1), relay.clone())?;
    let bob = create(dir.path(), "bob", 2, &relay)?;
    let bob_id = alice.add_contact(&bob.contact_invite(), "Bob")?;
    let identity = alice.identity_key();

    alice.rekey(&DatabaseKey::from_bytes([5; 32]))?;
    // Reads and writes go on on the open account.
    assert_eq!(alice.contact(&bob_id)?.name, "Bob");
    alice.add_contact(&bob.contact_invite(), "Robert")?;
    let mut settings = alice.settings();
    settings.read_receipts = !settings.read_receipts;
    alice.save_settings(settings.clone())?;
    drop(alice);

    assert!(matches!(
        Account::open(&home, &raw(1)),
        Err(Error::WrongKey)
    ));
    let alice = Account::open(&home, &raw(5))?;
    assert_eq!(alice.identity_key(), identity);
    assert_eq!(alice.contact(&bob_id)?.name, "Robert");
    assert_eq!(alice.settings(), settings);

    let phrase = StoreKey::Passphrase(Zeroizing::new(b"horse battery".to_vec()));
    let carol = Account::create(&dir.path().join("carol"), &phrase, relay)?;
    assert!(matches!(
        carol.rekey(&DatabaseKey::from_bytes([6; 32])),
        Err(Error::PassphraseStore)
    ));
    drop(carol);
    Account::open(&dir.path().join("carol"), &phrase)?;
    Ok(())
}

#[test]
fn invites_make_contacts_trusted_on_first_use() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ours = relay(7443);
    let alice = create(dir.path(), "alice", 1, &ours)?;
    let bob = create(dir.path(), "bob", 2, &ours)?;
    let carol = create(dir.path(), "carol", 3, &relay(9999))?;

    // The invite goes through its text form, as it would between people.
    let bob_invite = ContactInvite::parse(&bob.contact_invite().to_string())?;
    assert_eq!(bob_invite.identity, bob.identity_key());
    let bob_id = alice.add_contact(&bob_invite, " Bob ")?;
    let info = alice.contact(&bob_id)?;
    assert_eq!(info.name, "Bob");
    assert_eq!(info.reach, Reach::OurRelay);
    assert!(!info.verified && !info.identity_changed);

    // The same identity again renames the contact; no duplicate.
    assert_eq!(alice.add_contact(&bob_invite, "Robert")?, bob_id);
    assert_eq!(alice.contacts()?.len(), 1);
    assert_eq!(alice.contact(&bob_id)?.name, "Robert");

    // Our own invite, and names nobody can show, are refused.
    assert!(matches!(
        alice.add_contact(&alice.contact_invite(), "Me"),
        Err(Error::InvalidContactInvite(_))
    ));
    for name in ["", "   ", "tab\there", &"x".repeat(101)] {
        assert!(matches!(
            alice.add_contact(&bob_invite, name),
            Err(Error::InvalidName)
        ));
    }
    assert_eq!(alice.contact(&bob_id)?.name, "Robert", "unchanged");

    // A contact on another relay is kept, and said to be unreachable.
    let carol_id = alice.add_contact(&carol.contact_invite(), "Carol")?;
    assert_eq!(alice.contact(&carol_id)?.reach, Reach::OtherRelay);
    let runtime = tokio::runtime::Runtime::new()?;
    let sent = runtime.block_on(alice.send_text(&carol_id, "hello"));
    assert!(matches!(sent, Err(Error::OtherRelay)));
    assert_eq!(alice.pending_outgoing()?, 0, "nothing queued");

    // The conversation list holds both, with nothing said yet.
    let conversations = alice.conversations()?;
    assert_eq!(conversations.len(), 2);
    assert!(conversations.iter().all(|c| c.last_message.is_none()));
    Ok(())
}

#[test]
fn an_unreachable_relay_is_a_network_error_and_queues_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let ours = relay(port);
    let alice = create(dir.path(), "alice", 1, &ours)?;
    let bob = create(dir.path(), "bob", 2, &ours)?;
    let bob_id = alice.add_contact(&bob.contact_invite(), "Bob")?;
    let runtime = tokio::runtime::Runtime::new()?;
    let sent = runtime.block_on(alice.send_text(&bob_id, "hello"));
    let error = sent.expect_err("sending cannot work without the relay");
    assert_eq!(error.kind(), ErrorKind::Network);
    assert!(matches!(error, Error::RelayUnreachable));
    assert_eq!(alice.pending_outgoing()?, 0);
    assert!(alice.messages(&bob_id, 10, None)?.is_empty());
    assert!(matches!(
        runtime.block_on(alice.register()),
        Err(Error::RelayUnreachable)
    ));

    // A connection keeps retrying and says why it is down; there is one at
    // a time.
    let mut connection = alice.connect(runtime.handle())?;
    assert!(matches!(
        alice.connect(runtime.handle()),
        Err(Error::AlreadyConnected)
    ));
    let event = runtime.block_on(connection.next_event());
    assert!(
        matches!(event, Some(Event::Disconnected(Error::RelayUnreachable))),
        "{event:?}"
    );
    runtime.block_on(connection.close());
    runtime.block_on(alice.connect(runtime.handle())?.close());
    Ok(())
}

#[test]
fn settings_survive_reopening_and_unknown_contacts_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("alice");
    let alice = Account::create(&home, &raw(1), relay(7443))?;
    let mut settings = alice.settings();
    settings.delivery_receipts = false;
    settings.socks5 = Some("127.0.0.1:9050".parse().expect("an address"));
    alice.save_settings(settings.clone())?;
    drop(alice);
    let alice = Account::open(&home, &raw(1))?;
    assert_eq!(alice.settings(), settings);
    settings.socks5 = None;
    alice.save_settings(settings.clone())?;
    assert_eq!(alice.settings(), settings);

    let stranger = ContactId::from_string("0123456789abcdef".into());
    assert!(matches!(
        alice.messages(&stranger, 10, None),
        Err(Error::UnknownContact)
    ));
    assert!(matches!(
        alice.contact(&stranger),
        Err(Error::UnknownContact)
    ));
    assert!(matches!(
        alice.rename_contact(&stranger, "X"),
        Err(Error::UnknownContact)
    ));
    let any_key = alice.identity_key();
    assert!(matches!(
        alice.accept_new_identity(&stranger, &any_key),
        Err(Error::UnknownContact)
    ));
    assert!(matches!(
        alice.offered_identities(&stranger),
        Err(Error::UnknownContact)
    ));
    Ok(())
}

#[test]
fn settings_changed_at_once_from_two_threads_keep_both_changes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let alice = std::sync::Arc::new(Account::create(
        &dir.path().join("alice"),
        &raw(1),
        relay(7443),
    )?);
    // One thread turns the proxy on and off, the other the receipts; each
    // change goes through `update_settings`, so neither undoes the other.
    let proxy = Some("127.0.0.1:9050".parse().expect("an address"));
    let toggler = {
        let alice = alice.clone();
        std::thread::spawn(move || -> Result<()> {
            for round in 0..50 {
                alice
                    .update_settings(|s| s.socks5 = (round % 2 == 0).then_some(proxy).flatten())?;
            }
            alice.update_settings(|s| s.socks5 = proxy)?;
            Ok(())
        })
    };
    for round in 0..50 {
        alice.update_settings(|s| s.read_receipts = round % 2 == 1)?;
    }
    alice.update_settings(|s| s.read_receipts = false)?;
    toggler.join().expect("the thread ran")?;
    let settings = alice.settings();
    assert_eq!(settings.socks5, proxy);
    assert!(!settings.read_receipts);
    Ok(())
}
