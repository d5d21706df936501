//! The relay part of `sotto demo`: an embedded `sotto-relay` on loopback,
//! and a text each way through it, sealed so that the relay never learns
//! who sent it.

use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use sotto_core::messaging::{self, Received};
use sotto_core::relay::client::{Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::relay::sealed;
use sotto_core::store::SottoStore;
use sotto_relay::identity::RelayIdentity;
use sotto_relay::server::{Limits, RelayServer};
use sotto_relay::storage::SqliteStorage;

use crate::demo::{check, Account, DemoResult};

/// Starts the relay, sends a text each way through it, stops it.
pub async fn run(
    dir: &std::path::Path,
    alice: &mut Account,
    bob: &mut Account,
    rng: &mut StdRng,
) -> DemoResult<()> {
    let relay_dir = dir.join("relay");
    let (identity, _) = RelayIdentity::load_or_create(&relay_dir, &["127.0.0.1".into()], rng)?;
    let storage = SqliteStorage::open(&relay_dir.join("relay.db"))?;
    let server = RelayServer::bind(
        "127.0.0.1:0".parse()?,
        identity,
        Box::new(storage),
        Limits::default(),
    )
    .await?;
    let port = server.local_addr()?.port();
    let invite = server.invite("127.0.0.1", port);
    println!(
        "  relay listening on 127.0.0.1:{port}; invite: {}…",
        &invite.to_string()[..40]
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    let texts = [
        (true, "Testing the relay: can you read this one too?"),
        (
            false,
            "Loud and clear, and the relay can't see who sent it.",
        ),
    ];
    for (alice_sends, text) in texts {
        let (from, to) = if alice_sends {
            (&mut *alice, &mut *bob)
        } else {
            (&mut *bob, &mut *alice)
        };
        relay_text(&invite, from, to, text, rng).await?;
    }

    let database = std::fs::read(relay_dir.join("relay.db"))?;
    let wal = std::fs::read(relay_dir.join("relay.db-wal")).unwrap_or_default();
    let leaked = texts.iter().any(|(_, text)| {
        let needle = &text.as_bytes()[..20];
        [&database, &wal]
            .iter()
            .any(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    });
    check(!leaked, "the relay's database holds no message text")?;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), serving).await???;
    Ok(())
}

async fn login(
    account: &mut Account,
    invite: &RelayInvite,
    rng: &mut StdRng,
) -> DemoResult<RelayConnection> {
    let local = account.store.local_account()?.ok_or("no account")?;
    let login = Login {
        identity: &local.identity,
        registration_id: local.registration_id,
    };
    Ok(RelayConnection::connect(invite, Some(login), rng).await?)
}

async fn relay_text(
    invite: &RelayInvite,
    from: &mut Account,
    to: &mut Account,
    text: &str,
    rng: &mut StdRng,
) -> DemoResult<()> {
    let mut receiver = login(to, invite, rng).await?;
    let recipient = *to
        .store
        .local_account()?
        .ok_or("no account")?
        .identity
        .identity_key();
    let certificate = login(from, invite, rng).await?.sender_certificate().await?;

    let out = messaging::send_text(&mut from.store, &from.peer, text, SystemTime::now(), rng)?;
    let payload = sealed::seal(&from.store, &from.peer, &out.envelope, &certificate, rng)?;
    let size = payload.len();
    // Sent on an anonymous connection: the relay sees only the recipient.
    let mut anonymous = RelayConnection::connect(invite, None, rng).await?;
    anonymous.send_sealed(&recipient, payload).await?;
    messaging::mark_sent(&mut from.store, out.outbox_id)?;
    println!(
        "  {} → relay → {}: {size}-byte sealed envelope",
        from.name, to.name
    );

    let delivery =
        tokio::time::timeout(Duration::from_secs(10), receiver.next_delivery()).await??;
    let relay_time = SystemTime::UNIX_EPOCH + Duration::from_millis(delivery.received_at_ms);
    let got = messaging::receive_sealed(
        &mut to.store,
        &delivery.payload,
        &invite.trust_root,
        relay_time,
        SystemTime::now(),
        rng,
    )?;
    receiver.ack(delivery.envelope_id).await?;
    let body = match got.received {
        Received::Text(message) => message.body,
        _ => String::new(),
    };
    check(
        body == text && got.contact == to.peer,
        &format!(
            "{} decrypted it and knew it came from {}",
            to.name, from.name
        ),
    )
}
