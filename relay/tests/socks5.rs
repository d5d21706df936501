//! The relay reached through a SOCKS5 proxy (as through Tor or Orbot), with
//! a minimal SOCKS5 server (RFC 1928, no authentication, CONNECT only) that
//! the test runs itself and that counts the connections it relays.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sotto_core::relay::client::RelayConnection;
use sotto_core::store::SottoStore;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves one SOCKS5 client: greeting, CONNECT (domain or IPv4), relay.
async fn serve_socks5(
    mut client: TcpStream,
    seen_domains: Arc<std::sync::Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    if head[0] != 5 || !methods.contains(&0) {
        return Ok(());
    }
    client.write_all(&[5, 0]).await?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let target = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            let port = client.read_u16().await?;
            format!("{}.{}.{}.{}:{port}", ip[0], ip[1], ip[2], ip[3])
        }
        3 => {
            let len = client.read_u8().await?;
            let mut name = vec![0u8; usize::from(len)];
            client.read_exact(&mut name).await?;
            let port = client.read_u16().await?;
            let name = String::from_utf8_lossy(&name).into_owned();
            seen_domains.lock().expect("lock").push(name.clone());
            format!("{name}:{port}")
        }
        _ => return Ok(()),
    };
    let mut upstream = TcpStream::connect(target).await?;
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

async fn start_proxy() -> std::io::Result<(
    SocketAddr,
    Arc<AtomicUsize>,
    Arc<std::sync::Mutex<Vec<String>>>,
)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let connections = Arc::new(AtomicUsize::new(0));
    let domains = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (count, seen) = (connections.clone(), domains.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_socks5(client, seen.clone()));
        }
    });
    Ok((address, connections, domains))
}

#[tokio::test]
async fn the_relay_works_through_a_socks5_proxy() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    // Clients name the relay by host name, resolved by the proxy (as Tor does).
    let mut invite = relay.invite.clone();
    invite.host = "localhost".into();
    let (proxy, connections, domains) = start_proxy().await?;

    let mut bob = Account::create(dir.path(), "bob", 7)?;
    let bob_id = bob.identity()?;
    let account = bob.store.local_account()?.ok_or("no account")?;
    let login = sotto_core::relay::client::Login {
        identity: &account.identity,
        registration_id: account.registration_id,
    };
    let mut connection =
        RelayConnection::connect_via_socks5(&invite, proxy, Some(login), &mut bob.rng).await?;
    let upload = sotto_core::prekeys::take_for_upload(&mut bob.store)?;
    let counts = connection.upload_prekeys(&upload).await?;
    assert_eq!(counts.one_time, 20);
    connection.ping().await?;

    let mut anonymous =
        RelayConnection::connect_via_socks5(&invite, proxy, None, &mut bob.rng).await?;
    let bundle = anonymous.fetch_bundle(&bob_id).await?;
    assert_eq!(bundle.identity_key()?, &bob_id);

    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "both connections went through the proxy"
    );
    assert_eq!(
        *domains.lock().expect("lock"),
        vec!["localhost", "localhost"],
        "the proxy resolved the name"
    );

    // Through a proxy too, the relay must be the one the trust root names.
    let mut elsewhere = invite.clone();
    elsewhere.trust_root = libsignal_protocol::KeyPair::generate(&mut bob.rng).public_key;
    let refused = RelayConnection::connect_via_socks5(&elsewhere, proxy, None, &mut bob.rng).await;
    assert!(
        matches!(refused, Err(sotto_core::Error::CertificateMismatch)),
        "{refused:?}"
    );
    relay.stop()
}

#[tokio::test]
async fn a_proxy_that_refuses_gives_a_clear_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    // A "proxy" that accepts and hangs up at once.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            drop(client);
        }
    });
    let result =
        RelayConnection::connect_via_socks5(&relay.invite, proxy, None, &mut rand::rng()).await;
    assert!(matches!(
        result,
        Err(sotto_core::Error::ProxyFailed) | Err(sotto_core::Error::Io(_))
    ));
    relay.stop()
}
