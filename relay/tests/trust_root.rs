//! The relay's trust root vouches for each TLS connection: a client
//! accepts whatever certificate the relay presents only once the challenge
//! carries a server certificate signed by the invite's trust root and that
//! key's signature over this connection's TLS exporter value, and sends
//! nothing before. Impostors (another trust root, a challenge replayed from
//! another connection even with the relay's own TLS certificate and key,
//! no binding at all) are refused with nothing sent to them; a relay that
//! renews its certificate, or moves to a CA-issued chain, is still reached
//! with its old invite.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use libsignal_protocol::{KeyPair, ServerCertificate};
use sotto_core::relay::client::{Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::relay::wire::{self, proto};
use sotto_core::store::SottoStore;
use sotto_core::Error;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What a fake relay puts in its challenge.
enum Vouching {
    /// What a relay does: a server certificate, and the channel signed by
    /// its key on this very connection.
    Signs {
        server_certificate: Vec<u8>,
        server_key: libsignal_protocol::PrivateKey,
    },
    /// A challenge taken from another connection, sent as it is.
    Replays(proto::Challenge),
}

/// A TLS certificate (DER) and its PKCS#8 key.
struct TlsCertificate {
    der: Vec<u8>,
    key: Vec<u8>,
}

/// A TLS server on loopback that plays a relay for one connection: it
/// presents `certificate`, sends a challenge vouched for as `vouching`
/// says, and reports the application data the client sent next (empty if
/// the client hung up without sending any).
async fn fake_relay(
    certificate: TlsCertificate,
    vouching: Vouching,
) -> TestResult<(SocketAddr, JoinHandle<std::io::Result<Vec<u8>>>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(certificate.key.into()),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let challenge = match vouching {
            Vouching::Signs {
                server_certificate,
                server_key,
            } => {
                let mut binding = [0u8; wire::CHANNEL_BINDING_LEN];
                tls.get_ref()
                    .1
                    .export_keying_material(&mut binding, wire::CHANNEL_EXPORTER_LABEL, None)
                    .map_err(std::io::Error::other)?;
                proto::Challenge {
                    nonce: vec![7; wire::NONCE_LEN],
                    protocol_version: wire::PROTOCOL_VERSION,
                    server_certificate,
                    channel_signature: wire::sign_channel(&server_key, &binding, &mut rand::rng())
                        .map_err(std::io::Error::other)?,
                }
            }
            Vouching::Replays(challenge) => challenge,
        };
        let frame = proto::ServerFrame {
            kind: Some(proto::server_frame::Kind::Challenge(challenge)),
        };
        let body = wire::encode(&frame);
        tls.write_all(&(body.len() as u32).to_be_bytes()).await?;
        tls.write_all(&body).await?;
        tls.flush().await?;
        let mut sent = vec![0u8; 4096];
        let len = match tls.read(&mut sent).await {
            Ok(len) => len,
            // Hung up without a TLS close_notify: nothing was sent.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        sent.truncate(len);
        Ok(sent)
    });
    Ok((address, served))
}

fn new_certificate() -> TestResult<TlsCertificate> {
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    Ok(TlsCertificate {
        der: generated.cert.der().to_vec(),
        key: generated.signing_key.serialize_der(),
    })
}

/// A server key and its certificate, signed by `root`.
fn server_key_signed_by(root: &KeyPair, rng: &mut impl rand::CryptoRng) -> TestResult<Vouching> {
    let server = KeyPair::generate(rng);
    let certificate = ServerCertificate::new(1, server.public_key, &root.private_key, rng)?;
    Ok(Vouching::Signs {
        server_certificate: certificate.serialized()?.to_vec(),
        server_key: server.private_key,
    })
}

fn invite_for(address: SocketAddr, trust_root: libsignal_protocol::PublicKey) -> RelayInvite {
    RelayInvite {
        host: address.ip().to_string(),
        port: address.port(),
        trust_root,
    }
}

/// Connects to `invite` and tries to log in as `account`.
async fn log_in(
    account: &mut Account,
    invite: &RelayInvite,
) -> sotto_core::Result<RelayConnection> {
    let local = account.store.local_account()?.ok_or(Error::NoAccount)?;
    let login = Login {
        identity: &local.identity,
        registration_id: local.registration_id,
    };
    RelayConnection::connect(invite, Some(login), &mut account.rng).await
}

/// The fake relay is a fair witness: when it vouches correctly, the client
/// logs in, and the fake relay sees the login. So the empty reports in the
/// tests below mean the client held back, not that nothing could be seen.
#[tokio::test]
async fn a_correctly_vouched_connection_is_accepted_and_the_client_logs_in() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut alice = Account::create(dir.path(), "alice", 1)?;
    let root = KeyPair::generate(&mut alice.rng);
    let vouching = server_key_signed_by(&root, &mut alice.rng)?;
    let (address, served) = fake_relay(new_certificate()?, vouching).await?;

    // The fake relay hangs up after the first frame, so the login itself
    // cannot complete; what matters is that it was sent.
    let _ = log_in(&mut alice, &invite_for(address, root.public_key)).await;
    let sent = served.await??;
    let frame = wire::decode_client_stream(&sent).0;
    assert!(
        matches!(
            frame.first().and_then(|f| f.kind.as_ref()),
            Some(proto::client_frame::Kind::Authenticate(_))
        ),
        "the client sent its login"
    );
    Ok(())
}

#[tokio::test]
async fn a_relay_vouched_for_by_another_trust_root_is_refused_before_anything_is_sent() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let mut alice = Account::create(dir.path(), "alice", 2)?;
    let expected = KeyPair::generate(&mut alice.rng).public_key;
    let other = KeyPair::generate(&mut alice.rng);
    let vouching = server_key_signed_by(&other, &mut alice.rng)?;
    let (address, served) = fake_relay(new_certificate()?, vouching).await?;

    let refused = log_in(&mut alice, &invite_for(address, expected)).await;
    assert!(
        matches!(refused, Err(Error::CertificateMismatch)),
        "{refused:?}"
    );
    assert_eq!(served.await??, Vec::<u8>::new(), "nothing was sent");

    // A real relay, named in the invite with a trust root not its own:
    // refused, for logins and anonymous connections alike.
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let mut elsewhere = relay.invite.clone();
    elsewhere.trust_root = expected;
    let refused = log_in(&mut alice, &elsewhere).await;
    assert!(
        matches!(refused, Err(Error::CertificateMismatch)),
        "{refused:?}"
    );
    let refused = RelayConnection::connect(&elsewhere, None, &mut alice.rng).await;
    assert!(
        matches!(refused, Err(Error::CertificateMismatch)),
        "{refused:?}"
    );
    log_in(&mut alice, &relay.invite).await?.ping().await?;
    relay.stop()
}

/// Someone who stole the relay's TLS key (from a backup, or a web server
/// sharing it) and copied a genuine challenge off a connection of their
/// own still cannot pass as the relay: the challenge is bound to the
/// connection it was made for.
#[tokio::test]
async fn a_challenge_replayed_on_another_connection_is_refused_even_with_the_relays_tls_key(
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = RelayProcess::start(&relay_dir)?;
    let mut alice = Account::create(dir.path(), "alice", 3)?;

    let mut tls = raw_tls(relay.invite.port).await?;
    let mut len = [0u8; 4];
    tls.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    tls.read_exact(&mut body).await?;
    let Some(proto::server_frame::Kind::Challenge(challenge)) = wire::decode_server(&body)?.kind
    else {
        return Err("expected a challenge".into());
    };

    let stolen = || -> TestResult<TlsCertificate> {
        Ok(TlsCertificate {
            der: std::fs::read(relay_dir.join("tls-cert.der"))?,
            key: std::fs::read(relay_dir.join("tls-key.der"))?,
        })
    };
    for certificate in [stolen()?, new_certificate()?] {
        let replay = Vouching::Replays(challenge.clone());
        let (address, served) = fake_relay(certificate, replay).await?;
        let refused = log_in(&mut alice, &invite_for(address, relay.invite.trust_root)).await;
        assert!(
            matches!(refused, Err(Error::CertificateMismatch)),
            "{refused:?}"
        );
        assert_eq!(served.await??, Vec::<u8>::new(), "nothing was sent");
    }
    relay.stop()
}

/// A relay of an earlier build sends no channel binding: refused like any
/// relay the trust root does not vouch for, nothing sent.
#[tokio::test]
async fn a_relay_that_does_not_bind_the_channel_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut alice = Account::create(dir.path(), "alice", 4)?;
    let root = KeyPair::generate(&mut alice.rng).public_key;
    let bare = Vouching::Replays(proto::Challenge {
        nonce: vec![7; wire::NONCE_LEN],
        protocol_version: wire::PROTOCOL_VERSION,
        ..proto::Challenge::default()
    });
    let (address, served) = fake_relay(new_certificate()?, bare).await?;
    let refused = log_in(&mut alice, &invite_for(address, root)).await;
    assert!(
        matches!(refused, Err(Error::CertificateMismatch)),
        "{refused:?}"
    );
    assert_eq!(served.await??, Vec::<u8>::new(), "nothing was sent");
    Ok(())
}

#[tokio::test]
async fn a_relay_that_renews_its_certificate_is_reached_with_the_old_invite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = RelayProcess::start(&relay_dir)?;
    let invite = relay.invite.clone();
    let port = invite.port;
    let mut alice = Account::create(dir.path(), "alice", 5)?;
    alice.register(&invite).await?.ping().await?;
    let first_certificate = std::fs::read(relay_dir.join("tls-cert.der"))?;
    relay.stop()?;

    // The trust root's private key goes offline (it is needed only on
    // first start), and a new self-signed certificate and key come in; the
    // trust root stays.
    std::fs::remove_file(relay_dir.join("trust-root.key"))?;
    let renewed = new_certificate()?;
    std::fs::write(relay_dir.join("tls-cert.der"), &renewed.der)?;
    std::fs::write(relay_dir.join("tls-key.der"), &renewed.key)?;
    let relay = RelayProcess::start_on(&relay_dir, port)?;
    assert_eq!(relay.invite, invite, "the invite did not change");
    assert_ne!(
        std::fs::read(relay_dir.join("tls-cert.der"))?,
        first_certificate
    );
    log_in(&mut alice, &invite).await?.ping().await?;
    relay.stop()?;

    // An operator's chain from a CA (as from ACME, renewed every 90 days).
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf =
        rcgen::CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&leaf_key, &ca)?;
    std::fs::write(
        relay_dir.join("chain.pem"),
        format!("{}{}", leaf.pem(), ca.pem()),
    )?;
    std::fs::write(relay_dir.join("key.pem"), leaf_key.serialize_pem())?;
    let config = format!(
        "tls_cert = {:?}\ntls_key = {:?}\n",
        relay_dir.join("chain.pem"),
        relay_dir.join("key.pem")
    );
    let relay = RelayProcess::start_with(&relay_dir, port, &config)?;
    assert_eq!(relay.invite, invite, "the invite did not change");
    log_in(&mut alice, &invite).await?.ping().await?;
    relay.stop()
}

/// Something that does not speak TLS is a broken relay address, not a
/// question of trust: it is not reported as a mismatch.
#[tokio::test]
async fn a_server_that_does_not_speak_tls_is_not_called_a_mismatch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut alice = Account::create(dir.path(), "alice", 6)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let served = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await?;
        tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await?;
        tcp.flush().await
    });
    let root = KeyPair::generate(&mut alice.rng).public_key;
    let refused = log_in(&mut alice, &invite_for(address, root)).await;
    assert!(
        matches!(refused, Err(Error::RelayProtocol(_))),
        "{refused:?}"
    );
    served.await??;
    Ok(())
}
