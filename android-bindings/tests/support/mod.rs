//! Fixtures for the bindings' Rust tests: stores seeded through the core's
//! public API (contacts and sessions, which the bindings cannot make yet),
//! then opened through the bindings.
#![allow(dead_code)]

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::SystemTime;

use sotto_core::app::{self, StoreKey};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::{Contact, ContactId, DatabaseKey, InMemStore, SottoStore};
use sotto_core::{history, session, IdentityKey};
use sotto_ffi::{AccountEvent, AccountListener, AccountOptions, ListenerError};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const KEY: [u8; 32] = [7; 32];

/// A well-formed relay invite for accounts that never connect (port 9,
/// discard; a made-up trust root).
pub const OFFLINE_RELAY: &str = concat!(
    "sotto-relay:2/127.0.0.1/9/",
    "051111111111111111111111111111111111111111111111111111111111111111"
);

/// Options that keep tests fast and leave maintenance to the test.
pub fn quiet_options() -> AccountOptions {
    AccountOptions {
        maintenance_interval_ms: 0,
        prekey_batch: 2,
        prekey_low_water: 1,
    }
}

fn small_policy() -> PreKeyPolicy {
    PreKeyPolicy {
        batch: 2,
        low_water: 1,
        ..PreKeyPolicy::default()
    }
}

/// Alice's store on disk, knowing Bob (in memory) as a contact with a
/// session and a disappearing-messages timer.
pub struct Seeded {
    /// Bob's side, to compute what his phone would show.
    pub bob: InMemStore,
    /// Bob's id in Alice's store.
    pub bob_id: ContactId,
    pub alice_identity: IdentityKey,
}

pub fn seed_alice_knowing_bob(data_dir: &Path, timer_secs: u32) -> sotto_core::Result<Seeded> {
    let mut rng = rand::rng();
    let now = SystemTime::now();
    let alice = app::Account::create_with_policy(
        data_dir,
        &StoreKey::Raw(DatabaseKey::from_bytes(KEY)),
        RelayInvite::parse(OFFLINE_RELAY)?,
        &small_policy(),
    )?;
    let mut bob = InMemStore::new();
    prekeys::create_account(&mut bob, &small_policy(), now, &mut rng)?;

    let bob_id = ContactId::random(&mut rng);
    alice.with_store(|alice| {
        alice.save_contact(&Contact {
            id: bob_id.clone(),
            name: "Bob".into(),
            relay: None,
        })?;
        let bundle = prekeys::take_prekey_bundle(&mut bob)?;
        session::start_session(alice, &bob_id, &bundle, now, &mut rng)?;
        history::set_expiration_timer(alice, &bob_id, timer_secs, now, &mut rng)?;
        Ok(())
    })?;
    Ok(Seeded {
        bob,
        bob_id,
        alice_identity: alice.identity_key(),
    })
}

/// A listener that forwards events to a channel.
pub struct ChannelListener(Mutex<Sender<AccountEvent>>);

impl ChannelListener {
    pub fn new() -> (Self, Receiver<AccountEvent>) {
        let (sender, receiver) = mpsc::channel();
        (Self(Mutex::new(sender)), receiver)
    }
}

impl AccountListener for ChannelListener {
    fn on_event(&self, event: AccountEvent) -> Result<(), ListenerError> {
        let sender = self.0.lock().map_err(|_| ListenerError::Failed)?;
        sender.send(event).map_err(|_| ListenerError::Failed)
    }
}
