//! Hostile clients: malformed and oversized frames, request floods, mailbox
//! floods and idle connections. Each gets an error and, where the protocol
//! says so, a closed connection; the relay keeps serving everyone else.

mod support;

use std::time::Duration;

use sotto_core::relay::client::RelayConnection;
use sotto_core::relay::wire::{self, proto};
use sotto_core::Error;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Opens a raw TLS stream to the relay and reads its challenge frame.
async fn raw(
    relay: &RelayProcess,
) -> TestResult<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut tls = raw_tls(relay.invite.port).await?;
    read_frame(&mut tls).await?.ok_or("no challenge")?;
    Ok(tls)
}

/// Reads one frame; `None` at a clean end of stream.
async fn read_frame<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> TestResult<Option<proto::ServerFrame>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await?;
    Ok(Some(wire::decode_server(&body)?))
}

/// Expects a BAD_REQUEST and then the end of the connection.
async fn expect_rejected_and_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> TestResult {
    let frame = tokio::time::timeout(Duration::from_secs(10), read_frame(stream)).await??;
    match frame.and_then(|f| f.kind) {
        Some(proto::server_frame::Kind::Response(r)) => {
            assert_eq!(r.status, proto::Status::BadRequest as i32)
        }
        other => return Err(format!("expected BAD_REQUEST, got {other:?}").into()),
    }
    let end = tokio::time::timeout(Duration::from_secs(10), read_frame(stream)).await?;
    assert!(matches!(end, Ok(None) | Err(_)), "the connection is closed");
    Ok(())
}

#[tokio::test]
async fn malformed_and_oversized_frames_close_the_connection() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;

    let mut garbage = raw(&relay).await?;
    garbage
        .write_all(&[0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
        .await?;
    expect_rejected_and_closed(&mut garbage).await?;

    let mut oversized = raw(&relay).await?;
    oversized
        .write_all(&[0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3])
        .await?;
    expect_rejected_and_closed(&mut oversized).await?;

    let mut empty = raw(&relay).await?;
    empty.write_all(&[0, 0, 0, 0]).await?;
    expect_rejected_and_closed(&mut empty).await?;

    // The relay still serves well-behaved clients.
    let mut fine = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;
    fine.ping().await?;
    relay.stop()
}

#[tokio::test]
async fn floods_are_rate_limited() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = "[limits]\nrequests_per_second = 5\nrequest_burst = 10\nrecipient_envelopes_per_second = 1\nrecipient_burst = 3\nbundle_fetches_per_second = 1\nbundle_fetch_burst = 5\n";
    let relay = RelayProcess::start_with(&dir.path().join("relay"), 0, config)?;

    // One connection past its request budget is refused and closed.
    let mut chatty = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;
    let mut refused = None;
    for attempt in 0..50 {
        if let Err(e) = chatty.ping().await {
            refused = Some((attempt, e));
            break;
        }
    }
    let (attempt, error) = refused.ok_or("never rate limited")?;
    assert!(
        (9..50).contains(&attempt),
        "the burst is honoured ({attempt})"
    );
    assert!(matches!(error, Error::RelayRefused(_)));

    // Many senders together cannot flood one recipient's mailbox.
    let mut bob = Account::create(dir.path(), "bob", 21)?;
    let bob_id = bob.identity()?;
    drop(bob.register(&relay.invite).await?);
    let mut accepted = 0;
    let mut limited = 0;
    for _ in 0..10 {
        let mut sender = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;
        match sender.send_sealed(&bob_id, vec![1, 2, 3]).await {
            Ok(()) => accepted += 1,
            Err(Error::RelayRefused(_)) => limited += 1,
            Err(e) => return Err(e.into()),
        }
    }
    assert!(
        accepted >= 3 && limited >= 5,
        "accepted {accepted}, limited {limited}"
    );

    // Nobody can drain Bob's one-time prekeys faster than the bundle budget.
    let mut fetched = 0;
    let mut refused = 0;
    for _ in 0..15 {
        let mut fetcher = RelayConnection::connect(&relay.invite, None, &mut rand::rng()).await?;
        match fetcher.fetch_bundle(&bob_id).await {
            Ok(_) => fetched += 1,
            Err(Error::RelayRefused(_)) => refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    assert!(
        fetched >= 5 && refused >= 5,
        "fetched {fetched}, refused {refused}"
    );
    relay.stop()
}

#[tokio::test]
async fn idle_connections_are_closed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        "[limits]\nidle_timeout_secs = 1\n",
    )?;
    let mut idle = raw(&relay).await?;
    let started = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut idle)).await?;
    assert!(matches!(end, Ok(None) | Err(_)), "closed");
    assert!(started.elapsed() >= Duration::from_millis(900));
    relay.stop()
}
