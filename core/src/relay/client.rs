//! The relay client connection: TLS 1.3 (rustls) with each connection
//! vouched for by the invite's trust root, the challenge login, and request/response over
//! [`super::wire`] frames. Deliveries pushed by the relay while a request is
//! outstanding are queued and returned by [`RelayConnection::next_delivery`].
//!
//! The connection holds no store: callers acknowledge a delivery only after
//! their own commit (see `messaging::receive_sealed`).

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use libsignal_protocol::{IdentityKey, IdentityKeyPair, PreKeyBundle, SenderCertificate};
use rand::{CryptoRng, Rng};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::invite::RelayInvite;
use super::wire::{self, proto};
use crate::error::{Error, Result};
use crate::prekeys::{PreKeyUpload, PublishedKey};

/// A delivery from the relay: an envelope for us, still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The relay's id for it; acknowledge it with [`RelayConnection::ack`].
    pub envelope_id: u64,
    /// The sealed-sender payload.
    pub payload: Vec<u8>,
    /// When the relay accepted it (ms since the epoch): the time at which
    /// the sender's certificate must have been valid.
    pub received_at_ms: u64,
}

impl From<proto::Delivery> for Delivery {
    fn from(d: proto::Delivery) -> Self {
        Self {
            envelope_id: d.envelope_id,
            payload: d.payload,
            received_at_ms: d.received_at_ms,
        }
    }
}

/// How an account logs in: its identity key pair and registration id.
#[derive(Clone, Copy)]
pub struct Login<'a> {
    /// The account's identity.
    pub identity: &'a IdentityKeyPair,
    /// Its libsignal registration id.
    pub registration_id: u32,
}

trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// One open connection to a relay.
pub struct RelayConnection {
    framed: Framed<Box<dyn Transport>, LengthDelimitedCodec>,
    next_request_id: u64,
    deliveries: VecDeque<Delivery>,
    authenticated: bool,
}

impl std::fmt::Debug for RelayConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConnection")
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

/// Accepts whatever certificate the relay presents, and checks the TLS 1.3
/// handshake signature (CertificateVerify) against it with the normal
/// algorithms. No CA is involved, and no certificate is pinned: whether
/// the other end is the relay is decided by its trust root, after the
/// handshake.
///
/// Accepting the certificate here is safe because of what happens next:
/// [`RelayConnection::establish`] checks, before the client sends a single
/// byte of application data, that the relay's first frame carries a
/// server certificate signed by the invite's trust root and that
/// certificate's key's signature over this connection's TLS exporter
/// value, and drops the connection otherwise. The exporter value is unique
/// to this TLS session: a server in the middle has its own session with
/// the client, and cannot get the relay to sign it; a challenge copied off
/// another connection, or a stolen TLS key, does not help either.
#[derive(Debug)]
struct VouchedForByTrustRoot {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for VouchedForByTrustRoot {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // See the type's comment: the trust root decides, in `establish`.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        // The client config only enables TLS 1.3.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A direct TCP connection to the relay (small frames: no Nagle delay).
async fn tcp_to(invite: &RelayInvite) -> Result<TcpStream> {
    let tcp = TcpStream::connect((invite.host.as_str(), invite.port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

fn tls_connector() -> Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|_| Error::Protocol("TLS configuration"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(VouchedForByTrustRoot { provider }))
        .with_no_client_auth();
    // No session tickets: a ticket would link this connection to the last
    // one (which matters through Tor), and the channel binding is checked
    // on every connection anyway.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl RelayConnection {
    /// Connects to the relay of `invite` over TLS and, with `login`,
    /// authenticates as that account; without, the connection is anonymous
    /// (it can fetch bundles and send sealed envelopes only).
    pub async fn connect<R: Rng + CryptoRng>(
        invite: &RelayInvite,
        login: Option<Login<'_>>,
        rng: &mut R,
    ) -> Result<Self> {
        Self::over(tcp_to(invite).await?, invite, login, rng).await
    }

    /// Like [`RelayConnection::connect`], through a SOCKS5 proxy such as Tor
    /// or Orbot. The relay's host name goes to the proxy unresolved, so no
    /// DNS query leaves this device; TLS runs end to end inside the proxied
    /// stream.
    pub async fn connect_via_socks5<R: Rng + CryptoRng>(
        invite: &RelayInvite,
        proxy: std::net::SocketAddr,
        login: Option<Login<'_>>,
        rng: &mut R,
    ) -> Result<Self> {
        let stream =
            tokio_socks::tcp::Socks5Stream::connect(proxy, (invite.host.as_str(), invite.port))
                .await
                .map_err(|e| match e {
                    tokio_socks::Error::Io(e) => Error::Io(e),
                    _ => Error::ProxyFailed,
                })?;
        Self::over(stream, invite, login, rng).await
    }

    /// Like [`RelayConnection::connect`], over a stream already opened to the
    /// relay.
    pub async fn over<S, R>(
        stream: S,
        invite: &RelayInvite,
        login: Option<Login<'_>>,
        rng: &mut R,
    ) -> Result<Self>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        R: Rng + CryptoRng,
    {
        let (mut connection, challenge) = Self::establish(stream, invite).await?;
        if let Some(login) = login {
            let signature = wire::sign_challenge(login.identity, &challenge, rng)?;
            let identity = *login.identity.identity_key();
            connection
                .log_in(&identity, login.registration_id, signature)
                .await?;
        }
        Ok(connection)
    }

    /// Connects and logs in with a signature made elsewhere: `sign` receives
    /// the login challenge (the relay's nonce and the channel binding, see
    /// [`wire::login_challenge`]) and returns the XEdDSA signature over the
    /// authentication message (see [`wire::sign_challenge`]).
    pub async fn connect_with_signer(
        invite: &RelayInvite,
        identity: &IdentityKey,
        registration_id: u32,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
    ) -> Result<Self> {
        let (mut connection, challenge) = Self::establish(tcp_to(invite).await?, invite).await?;
        let signature = sign(&challenge)?;
        connection
            .log_in(identity, registration_id, signature)
            .await?;
        Ok(connection)
    }

    /// TLS handshake, the relay's challenge, and the check that the
    /// invite's trust root vouches for this very TLS connection (see
    /// [`VouchedForByTrustRoot`]); returns what a login signs
    /// ([`wire::login_challenge`]). Every way of connecting comes through
    /// here, and nothing is sent to the relay before it returns.
    async fn establish<S>(stream: S, invite: &RelayInvite) -> Result<(Self, Vec<u8>)>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let server_name =
            ServerName::try_from(invite.host.clone()).map_err(|_| Error::InvalidInvite)?;
        let tls = tls_connector()?
            .connect(server_name, stream)
            .await
            .map_err(|e| {
                let tls_error = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
                match (e.kind(), tls_error) {
                    // A handshake signature that does not verify.
                    (_, Some(rustls::Error::InvalidCertificate(_))) => Error::CertificateMismatch,
                    // Not TLS, or TLS gone wrong: not a question of trust.
                    (std::io::ErrorKind::InvalidData, _) => {
                        Error::RelayProtocol("the TLS handshake failed")
                    }
                    _ => Error::Io(e),
                }
            })?;
        let mut binding = [0u8; wire::CHANNEL_BINDING_LEN];
        tls.get_ref()
            .1
            .export_keying_material(&mut binding, wire::CHANNEL_EXPORTER_LABEL, None)
            .map_err(|_| Error::RelayProtocol("the TLS handshake failed"))?;
        let transport: Box<dyn Transport> = Box::new(tls);
        let mut connection = Self {
            framed: Framed::new(transport, wire::codec()),
            next_request_id: 1,
            deliveries: VecDeque::new(),
            authenticated: false,
        };
        let challenge = match connection.read_frame().await?.kind {
            Some(proto::server_frame::Kind::Challenge(c)) => c,
            _ => return Err(Error::RelayProtocol("expected a challenge")),
        };
        // Who it is comes first: an impostor must not choose which error
        // the user sees. A relay of an earlier build, which sends no
        // binding, is refused the same way.
        if !wire::verify_channel(
            &invite.trust_root,
            &challenge.server_certificate,
            &binding,
            &challenge.channel_signature,
        ) {
            return Err(Error::CertificateMismatch);
        }
        if challenge.protocol_version != wire::PROTOCOL_VERSION {
            return Err(Error::RelayProtocol("unsupported protocol version"));
        }
        if challenge.nonce.len() != wire::NONCE_LEN {
            return Err(Error::RelayProtocol("bad challenge"));
        }
        Ok((
            connection,
            wire::login_challenge(&challenge.nonce, &binding),
        ))
    }

    async fn log_in(
        &mut self,
        identity: &IdentityKey,
        registration_id: u32,
        signature: Vec<u8>,
    ) -> Result<()> {
        let frame = proto::ClientFrame {
            kind: Some(proto::client_frame::Kind::Authenticate(
                proto::Authenticate {
                    identity_key: identity.serialize().to_vec(),
                    signature,
                    registration_id,
                },
            )),
        };
        self.framed.send(wire::encode(&frame)).await?;
        let response = self.await_response(0).await?;
        check(&response)?;
        self.authenticated = true;
        Ok(())
    }

    /// Whether this connection logged in.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    async fn read_frame(&mut self) -> Result<proto::ServerFrame> {
        let body = self
            .framed
            .next()
            .await
            .ok_or(Error::RelayProtocol("connection closed"))??;
        wire::decode_server(&body).map_err(|_| Error::RelayProtocol("malformed frame"))
    }

    async fn await_response(&mut self, id: u64) -> Result<proto::Response> {
        loop {
            match self.read_frame().await?.kind {
                Some(proto::server_frame::Kind::Response(r)) if r.id == id => return Ok(r),
                // Id 0 answers the connection as a whole: the relay is
                // refusing it and about to close.
                Some(proto::server_frame::Kind::Response(r)) if r.id == 0 => return Ok(r),
                Some(proto::server_frame::Kind::Delivery(d)) => {
                    self.deliveries.push_back(Delivery::from(d))
                }
                _ => return Err(Error::RelayProtocol("unexpected frame")),
            }
        }
    }

    async fn request(&mut self, body: proto::request::Body) -> Result<proto::Response> {
        let id = self.next_request_id;
        self.next_request_id += 1;
        let frame = proto::ClientFrame {
            kind: Some(proto::client_frame::Kind::Request(proto::Request {
                id,
                body: Some(body),
            })),
        };
        self.framed.send(wire::encode(&frame)).await?;
        let response = self.await_response(id).await?;
        check(&response)?;
        Ok(response)
    }

    /// Uploads prekeys; returns how many one-time keys the relay now holds.
    pub async fn upload_prekeys(&mut self, upload: &PreKeyUpload) -> Result<proto::PreKeyCounts> {
        let key = |k: &PublishedKey| proto::SignedKey {
            id: k.id,
            public_key: k.public_key.clone(),
            signature: k.signature.clone(),
        };
        let message = proto::UploadPreKeys {
            signed_prekey: upload.signed.as_ref().map(key),
            kyber_last_resort: upload.last_resort.as_ref().map(key),
            one_time_prekeys: upload.one_time.iter().map(key).collect(),
            one_time_kyber_prekeys: upload.one_time_kyber.iter().map(key).collect(),
        };
        let response = self
            .request(proto::request::Body::UploadPrekeys(message))
            .await?;
        match response.body {
            Some(proto::response::Body::PrekeyCounts(counts)) => Ok(counts),
            _ => Err(Error::RelayProtocol("expected prekey counts")),
        }
    }

    /// Fetches a bundle for the account of `identity` (consuming one of its
    /// one-time prekeys on the relay).
    pub async fn fetch_bundle(&mut self, identity: &IdentityKey) -> Result<PreKeyBundle> {
        let body = proto::request::Body::FetchBundle(proto::FetchBundle {
            identity_key: identity.serialize().to_vec(),
        });
        match self.request(body).await?.body {
            Some(proto::response::Body::Bundle(bytes)) => crate::decode_bundle(&bytes),
            _ => Err(Error::RelayProtocol("expected a bundle")),
        }
    }

    /// Asks the relay for a sender certificate for our account.
    pub async fn sender_certificate(&mut self) -> Result<SenderCertificate> {
        let body = proto::request::Body::GetSenderCertificate(proto::GetSenderCertificate {});
        match self.request(body).await?.body {
            Some(proto::response::Body::SenderCertificate(bytes)) => {
                SenderCertificate::deserialize(&bytes)
                    .map_err(|_| Error::RelayProtocol("malformed sender certificate"))
            }
            _ => Err(Error::RelayProtocol("expected a sender certificate")),
        }
    }

    /// Asks the relay for short-lived TURN credentials (authenticated
    /// connections only), for the media path of a call: one
    /// [`TurnServer`](crate::call::TurnServer) per server the relay names,
    /// all with the same credentials. `Err(RelayRefused("not found"))`
    /// means the relay offers no TURN.
    pub async fn turn_credentials(&mut self) -> Result<Vec<crate::call::TurnServer>> {
        let body = proto::request::Body::GetTurnCredentials(proto::GetTurnCredentials {});
        let Some(proto::response::Body::TurnCredentials(credentials)) =
            self.request(body).await?.body
        else {
            return Err(Error::RelayProtocol("expected TURN credentials"));
        };
        if credentials.servers.is_empty() || credentials.username.is_empty() {
            return Err(Error::RelayProtocol("empty TURN credentials"));
        }
        let expires_at = std::time::SystemTime::now()
            + std::time::Duration::from_secs(u64::from(credentials.ttl_seconds));
        let password = zeroize::Zeroizing::new(credentials.password);
        Ok(credentials
            .servers
            .into_iter()
            .map(|address| crate::call::TurnServer {
                address,
                credentials: crate::call::TurnCredentials {
                    username: credentials.username.clone(),
                    password: password.clone(),
                    expires_at,
                },
            })
            .collect())
    }

    /// Hands a sealed envelope to the relay for `recipient`. Returns once the
    /// relay has stored it durably.
    pub async fn send_sealed(&mut self, recipient: &IdentityKey, payload: Vec<u8>) -> Result<()> {
        let body = proto::request::Body::Send(proto::SendEnvelope {
            recipient: recipient.serialize().to_vec(),
            payload,
        });
        self.request(body).await.map(|_| ())
    }

    /// The next envelope for us: queued ones first, then whatever the relay
    /// pushes. Waits until one arrives.
    pub async fn next_delivery(&mut self) -> Result<Delivery> {
        if let Some(delivery) = self.deliveries.pop_front() {
            return Ok(delivery);
        }
        match self.read_frame().await?.kind {
            Some(proto::server_frame::Kind::Delivery(d)) => Ok(Delivery::from(d)),
            _ => Err(Error::RelayProtocol("unexpected frame")),
        }
    }

    /// Tells the relay an envelope is safely stored here; it deletes it.
    /// Call only after the commit that stored it.
    pub async fn ack(&mut self, envelope_id: u64) -> Result<()> {
        self.request(proto::request::Body::Ack(proto::Ack { envelope_id }))
            .await
            .map(|_| ())
    }

    /// A round trip, to keep the connection alive and check it.
    pub async fn ping(&mut self) -> Result<()> {
        self.request(proto::request::Body::Ping(proto::Ping {}))
            .await
            .map(|_| ())
    }

    /// Deletes this account and everything the relay holds for it.
    pub async fn delete_account(&mut self) -> Result<()> {
        let body = proto::request::Body::DeleteAccount(proto::DeleteAccount {});
        self.request(body).await.map(|_| ())
    }
}

fn check(response: &proto::Response) -> Result<()> {
    use proto::Status;
    match Status::try_from(response.status) {
        Ok(Status::Ok) => Ok(()),
        Ok(Status::Unauthenticated) => Err(Error::RelayRefused("not authenticated")),
        Ok(Status::NotFound) => Err(Error::RelayRefused("not found")),
        Ok(Status::RateLimited) => Err(Error::RelayRefused("rate limited")),
        Ok(Status::QuotaExceeded) => Err(Error::RelayRefused("mailbox full")),
        Ok(Status::BadRequest) => Err(Error::RelayRefused("bad request")),
        Ok(Status::Internal) => Err(Error::RelayRefused("relay error")),
        _ => Err(Error::RelayProtocol("unknown status")),
    }
}
