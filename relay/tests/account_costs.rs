//! What one free account can make the relay store or hold, attacked through
//! a real relay on loopback: bulk data posing as prekeys, prekeys not signed
//! by the account, prekey and mailbox floods, account creation floods, and
//! connection slots held open by one source. Each is refused with a clear
//! error and costs the relay a bounded amount.

mod support;

use std::time::{Duration, Instant};

use libsignal_protocol::{kem, IdentityKeyPair, KeyPair};
use rand::SeedableRng;
use sotto_core::prekeys::{PreKeyUpload, PublishedKey};
use sotto_core::relay::client::RelayConnection;
use sotto_core::store::SottoStore;
use sotto_core::Error;
use support::*;
use tokio::io::AsyncReadExt;

/// A Kyber-1024 public key and its signature: what a one-time Kyber prekey
/// costs the relay.
const KYBER_KEY_BYTES: u64 = 1_569 + 64;

fn identity_of(account: &Account) -> TestResult<IdentityKeyPair> {
    Ok(account.store.local_account()?.ok_or("no account")?.identity)
}

fn ec_key(id: u32) -> PublishedKey {
    PublishedKey {
        id,
        public_key: KeyPair::generate(&mut rand::rng())
            .public_key
            .serialize()
            .to_vec(),
        signature: Vec::new(),
    }
}

/// A Kyber prekey signed by `signer`.
fn kyber_key(id: u32, signer: &IdentityKeyPair) -> TestResult<PublishedKey> {
    let public_key = kem::KeyPair::generate(kem::KeyType::Kyber1024, &mut rand::rng())
        .public_key
        .serialize()
        .to_vec();
    let signature = signer
        .private_key()
        .calculate_signature(&public_key, &mut rand::rng())?
        .to_vec();
    Ok(PublishedKey {
        id,
        public_key,
        signature,
    })
}

/// A signed EC prekey signed by `signer`.
fn signed_ec_key(id: u32, signer: &IdentityKeyPair) -> TestResult<PublishedKey> {
    let mut key = ec_key(id);
    key.signature = signer
        .private_key()
        .calculate_signature(&key.public_key, &mut rand::rng())?
        .to_vec();
    Ok(key)
}

fn expect_refused<T: std::fmt::Debug>(
    outcome: Result<T, Error>,
    reason: &str,
    what: &str,
) -> TestResult {
    match outcome {
        Err(Error::RelayRefused(got)) if got == reason => Ok(()),
        other => Err(format!("{what}: expected \"{reason}\", got {other:?}").into()),
    }
}

#[tokio::test]
async fn bulk_data_posing_as_prekeys_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let mut mallory = Account::create(dir.path(), "mallory", 1)?;
    let identity = identity_of(&mallory)?;
    let mut connection = mallory.connect(&relay.invite).await?;

    // The attack of the report: a 200 KiB blob as a one-time prekey (the
    // relay used to store 20 of them in 0.12 s).
    let mut blob = ec_key(1);
    blob.public_key.resize(200 * 1024, 0x42);
    let one_time = |key: PublishedKey| PreKeyUpload {
        one_time: vec![key],
        ..PreKeyUpload::default()
    };
    let kyber = |key: PublishedKey| PreKeyUpload {
        one_time_kyber: vec![key],
        ..PreKeyUpload::default()
    };
    let mut trailing = ec_key(2);
    trailing.public_key.push(0);
    let mut signed_one_time = ec_key(3);
    signed_one_time.signature = vec![0; 64];
    let mut long_kyber = kyber_key(4, &identity)?;
    long_kyber.public_key.extend_from_slice(&[0; 100 * 1024]);
    let ec_as_kyber = signed_ec_key(5, &identity)?;
    let cases = [
        ("a 200 KiB one-time prekey", one_time(blob)),
        ("an EC prekey with a trailing byte", one_time(trailing)),
        (
            "a one-time EC prekey with a signature",
            one_time(signed_one_time),
        ),
        ("a Kyber prekey with 100 KiB more", kyber(long_kyber)),
        ("an EC key as a Kyber prekey", kyber(ec_as_kyber)),
    ];
    for (what, upload) in &cases {
        expect_refused(connection.upload_prekeys(upload).await, "bad request", what)?;
    }

    // Nothing was stored, and the account's real keys still go up.
    let upload = sotto_core::prekeys::take_for_upload(&mut mallory.store)?;
    let counts = connection.upload_prekeys(&upload).await?;
    assert_eq!(
        (counts.one_time, counts.one_time_kyber),
        (
            upload.one_time.len() as u32,
            upload.one_time_kyber.len() as u32
        )
    );
    relay.stop()
}

#[tokio::test]
async fn signed_prekeys_must_be_signed_by_the_account() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let mut alice = Account::create(dir.path(), "alice", 2)?;
    let mut connection = alice.connect(&relay.invite).await?;
    let stranger = IdentityKeyPair::generate(&mut rand::rng());

    let cases = [
        (
            "a signed EC prekey signed by a stranger",
            PreKeyUpload {
                signed: Some(signed_ec_key(1, &stranger)?),
                ..PreKeyUpload::default()
            },
        ),
        (
            "a last-resort Kyber prekey signed by a stranger",
            PreKeyUpload {
                last_resort: Some(kyber_key(2, &stranger)?),
                ..PreKeyUpload::default()
            },
        ),
        (
            "an unsigned one-time Kyber prekey",
            PreKeyUpload {
                one_time_kyber: vec![PublishedKey {
                    signature: Vec::new(),
                    ..kyber_key(3, &stranger)?
                }],
                ..PreKeyUpload::default()
            },
        ),
    ];
    for (what, upload) in &cases {
        expect_refused(connection.upload_prekeys(upload).await, "bad request", what)?;
    }

    // Alice's own keys go up, and a bundle fetched for her is one her
    // contacts' libsignal accepts.
    let upload = sotto_core::prekeys::take_for_upload(&mut alice.store)?;
    connection.upload_prekeys(&upload).await?;
    let mut fetcher = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;
    let bundle = fetcher.fetch_bundle(&alice.identity()?).await?;
    assert_eq!(
        bundle.signed_pre_key_id()?,
        upload.signed.ok_or("signed")?.id.into()
    );
    relay.stop()
}

#[tokio::test]
async fn prekey_bytes_per_account_are_capped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let mut mallory = Account::create(dir.path(), "mallory", 3)?;
    let identity = identity_of(&mallory)?;
    let mut connection = mallory.register(&relay.invite).await?;

    // Valid, signed Kyber keys, 100 to an upload (about 163 KB, within one
    // frame), until the relay says no. Six uploads stay under the count
    // cap of 1,000, so only a byte quota can stop them.
    let mut next_id = 1_000;
    let mut stored = None;
    for _ in 0..6 {
        let keys = (next_id..next_id + 100)
            .map(|id| kyber_key(id, &identity))
            .collect::<TestResult<Vec<_>>>()?;
        next_id += 100;
        let upload = PreKeyUpload {
            one_time_kyber: keys,
            ..PreKeyUpload::default()
        };
        match connection.upload_prekeys(&upload).await {
            Ok(counts) => stored = Some(counts),
            Err(e) => {
                expect_refused(Err::<(), _>(e), "mailbox full", "an upload past the quota")?;
                break;
            }
        }
    }
    let stored = stored.ok_or("no upload was accepted")?;
    let kyber_bytes = u64::from(stored.one_time_kyber) * KYBER_KEY_BYTES;
    assert!(
        stored.one_time_kyber < 500,
        "{} one-time Kyber keys were stored ({kyber_bytes} bytes)",
        stored.one_time_kyber
    );
    assert!(kyber_bytes <= 512 * 1024);
    // The refused upload stored nothing.
    let counts = connection.upload_prekeys(&PreKeyUpload::default()).await?;
    assert_eq!(counts, stored);
    relay.stop()
}

#[tokio::test]
async fn mailbox_bytes_per_account_are_capped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let mut bob = Account::create(dir.path(), "bob", 4)?;
    let bob_id = bob.identity()?;
    drop(bob.register(&relay.invite).await?);

    // Envelopes of the largest size, from several anonymous senders at
    // once (they share commits), until the relay refuses one. The default
    // quotas: 10,000 envelopes or 32 MiB, whichever comes first.
    const PAYLOAD: usize = 64 * 1024;
    const SENDERS: usize = 8;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let invite = relay.invite.clone();
        tasks.spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            let mut sender = RelayConnection::connect(&invite, None, &mut rng).await?;
            let mut accepted = 0u64;
            // 100 each: 800 in all, past a byte quota of 512 such envelopes.
            for _ in 0..100 {
                match sender.send_sealed(&bob_id, vec![7; PAYLOAD]).await {
                    Ok(()) => accepted += 1,
                    Err(Error::RelayRefused("mailbox full")) => return Ok(accepted),
                    Err(e) => return Err(e),
                }
            }
            Ok(accepted)
        });
    }
    let mut accepted = 0;
    while let Some(result) = tasks.join_next().await {
        accepted += result??;
    }
    assert_eq!(
        accepted,
        32 * 1024 * 1024 / PAYLOAD as u64,
        "envelopes of 64 KiB accepted"
    );
    relay.stop()
}

#[tokio::test]
async fn new_accounts_per_source_address_are_limited() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        "[limits]\naccounts_per_address_per_hour = 3\n",
    )?;
    let mut first = Account::create(dir.path(), "first", 10)?;
    drop(first.register(&relay.invite).await?);
    for (name, seed) in [("second", 11), ("third", 12)] {
        drop(
            Account::create(dir.path(), name, seed)?
                .connect(&relay.invite)
                .await?,
        );
    }
    let mut fourth = Account::create(dir.path(), "fourth", 13)?;
    let refused = fourth.connect(&relay.invite).await.map(|_| ());
    match refused {
        Err(e) => match e.downcast_ref::<Error>() {
            Some(Error::RelayRefused("rate limited")) => {}
            _ => return Err(format!("expected \"rate limited\", got {e}").into()),
        },
        Ok(()) => return Err("a fourth account was created within the hour".into()),
    }
    // Accounts that exist are not new: they log in as before.
    let mut again = first.connect(&relay.invite).await?;
    again.ping().await?;
    relay.stop()
}

/// Opens a raw TLS connection and reads the relay's challenge.
async fn open_raw(port: u16) -> TestResult<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut tls = raw_tls(port).await?;
    let mut len = [0u8; 4];
    tls.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    tls.read_exact(&mut body).await?;
    Ok(tls)
}

#[tokio::test]
async fn connections_per_source_address_are_capped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        "[limits]\nmax_connections_per_address = 4\n",
    )?;
    let port = relay.invite.port;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(open_raw(port).await?);
    }
    // The fifth is closed before TLS: the handshake fails.
    let fifth = tokio::time::timeout(Duration::from_secs(10), open_raw(port)).await?;
    assert!(
        fifth.is_err(),
        "a fifth connection from one address was served"
    );
    // The relay-level client sees a plain failure, not a hang.
    let client = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await;
    assert!(client.is_err());

    // A slot given back is free again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open_raw(port).await {
            Ok(tls) => {
                held.push(tls);
                break;
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => return Err(e),
        }
    }
    relay.stop()
}

#[tokio::test]
async fn anonymous_connections_that_only_ping_are_closed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        "[limits]\nanonymous_idle_timeout_secs = 1\n",
    )?;
    let mut carol = Account::create(dir.path(), "carol", 20)?;
    let mut logged_in = carol.register(&relay.invite).await?;
    let mut anonymous = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;

    let started = Instant::now();
    let closed_after = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        logged_in.ping().await?;
        if anonymous.ping().await.is_err() {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err("an anonymous connection that only pings stayed open".into());
        }
    };
    assert!(
        closed_after >= Duration::from_millis(800),
        "{closed_after:?}"
    );
    // Pings keep the logged-in connection open past the anonymous limit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    logged_in.ping().await?;

    // Requests that do work keep an anonymous connection open.
    let carol_id = carol.identity()?;
    let mut sender = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2_500) {
        sender.send_sealed(&carol_id, vec![1, 2, 3]).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    relay.stop()
}
