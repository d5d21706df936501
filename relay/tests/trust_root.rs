//! The relay's trust root vouches for its TLS certificate: a client accepts
//! whatever certificate the relay presents only once the challenge carries
//! the trust root's signature over it, and sends nothing before. Impostors
//! (another trust root, a replayed signature, no signature) are refused
//! with nothing sent to them; a relay that renews its certificate, or moves
//! to a CA-issued chain, is still reached with its old invite.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use libsignal_protocol::KeyPair;
use sotto_core::relay::client::{Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::relay::wire::{self, proto};
use sotto_core::store::SottoStore;
use sotto_core::Error;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A TLS server on loopback that plays a relay for one connection: it
/// presents `certificate`, sends a challenge carrying `signature`, and
/// reports the application data the client sent next (empty if the client
/// hung up without sending any).
async fn fake_relay(
    certificate: rcgen::CertifiedKey<rcgen::KeyPair>,
    signature: Vec<u8>,
) -> TestResult<(SocketAddr, JoinHandle<std::io::Result<Vec<u8>>>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(certificate.signing_key.serialize_der().into()),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let challenge = proto::ServerFrame {
            kind: Some(proto::server_frame::Kind::Challenge(proto::Challenge {
                nonce: vec![7; wire::NONCE_LEN],
                protocol_version: wire::PROTOCOL_VERSION,
                tls_certificate_signature: signature,
            })),
        };
        let body = wire::encode(&challenge);
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

fn new_certificate() -> TestResult<rcgen::CertifiedKey<rcgen::KeyPair>> {
    Ok(rcgen::generate_simple_self_signed(vec![
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
    ])?)
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

/// The fake relay is a fair witness: when its signature is right, the
/// client logs in, and the fake relay sees the login. So the empty reports
/// in the tests below mean the client held back, not that nothing could be
/// seen.
#[tokio::test]
async fn a_correctly_vouched_certificate_is_accepted_and_the_client_logs_in() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut alice = Account::create(dir.path(), "alice", 1)?;
    let root = KeyPair::generate(&mut alice.rng);
    let certificate = new_certificate()?;
    let signature =
        wire::sign_tls_certificate(&root.private_key, certificate.cert.der(), &mut alice.rng)?;
    let (address, served) = fake_relay(certificate, signature).await?;

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
    let certificate = new_certificate()?;
    let signature =
        wire::sign_tls_certificate(&other.private_key, certificate.cert.der(), &mut alice.rng)?;
    let (address, served) = fake_relay(certificate, signature).await?;

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

#[tokio::test]
async fn a_server_replaying_the_relays_signature_with_another_certificate_is_refused() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = RelayProcess::start(&relay_dir)?;
    let mut alice = Account::create(dir.path(), "alice", 3)?;

    // What the genuine relay sends every client: its signature, valid over
    // its own certificate.
    let mut tls = raw_tls(relay.invite.port).await?;
    let mut len = [0u8; 4];
    tls.read_exact(&mut len).await?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    tls.read_exact(&mut body).await?;
    let Some(proto::server_frame::Kind::Challenge(challenge)) = wire::decode_server(&body)?.kind
    else {
        return Err("expected a challenge".into());
    };
    let genuine_certificate = std::fs::read(relay_dir.join("tls-cert.der"))?;
    assert!(wire::verify_tls_certificate(
        &relay.invite.trust_root,
        &genuine_certificate,
        &challenge.tls_certificate_signature
    ));

    // Replayed by a server with a certificate of its own (it cannot show
    // the genuine one: it lacks that key for the handshake signature).
    let (address, served) =
        fake_relay(new_certificate()?, challenge.tls_certificate_signature).await?;
    let refused = log_in(&mut alice, &invite_for(address, relay.invite.trust_root)).await;
    assert!(
        matches!(refused, Err(Error::CertificateMismatch)),
        "{refused:?}"
    );
    assert_eq!(served.await??, Vec::<u8>::new(), "nothing was sent");
    relay.stop()
}

/// A relay of an earlier build sends no certificate signature: refused with
/// a clear error, nothing sent.
#[tokio::test]
async fn a_relay_that_does_not_vouch_for_its_certificate_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut alice = Account::create(dir.path(), "alice", 4)?;
    let root = KeyPair::generate(&mut alice.rng).public_key;
    let (address, served) = fake_relay(new_certificate()?, Vec::new()).await?;
    let refused = log_in(&mut alice, &invite_for(address, root)).await;
    assert!(
        matches!(refused, Err(Error::RelayProtocol(why)) if why.contains("does not sign its TLS certificate")),
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

    // A new self-signed certificate and key; the trust root stays.
    let renewed = new_certificate()?;
    std::fs::write(relay_dir.join("tls-cert.der"), renewed.cert.der())?;
    std::fs::write(
        relay_dir.join("tls-key.der"),
        renewed.signing_key.serialize_der(),
    )?;
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
