//! The relay's TURN side (RFC 8656): an embedded TURN server on UDP (the
//! webrtc-rs `turn` crate), and the credentials the relay issues to its
//! authenticated accounts for it — or for a coturn run beside it.
//!
//! Credentials follow the TURN REST-API scheme (see
//! `sotto_core::call::turn`): any TURN server that knows the shared secret
//! checks them on its own, so coturn with `use-auth-secret` and
//! `static-auth-secret` set to the same secret accepts exactly what this
//! relay issues. The embedded server refuses expired usernames.
//!
//! The relay never logs TURN usernames, peers or relayed addresses.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::RngCore;
use sotto_core::call::turn::{rest_credentials, rest_password, rest_username_expiry};
use sotto_core::relay::wire::proto;
use tokio::net::UdpSocket;
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::relay::RelayAddressGenerator;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;
use webrtc_util::Conn;
use zeroize::Zeroizing;

use crate::config::TurnSection;

/// Issues TURN credentials: the shared secret, their lifetime, and the
/// servers to name in the response.
pub struct TurnIssuer {
    secret: Zeroizing<Vec<u8>>,
    ttl: Duration,
    servers: Vec<String>,
}

impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnIssuer")
            .field("ttl", &self.ttl)
            .field("servers", &self.servers.len())
            .finish_non_exhaustive()
    }
}

impl TurnIssuer {
    /// An issuer for `servers` ("host:port") with `secret`.
    pub fn new(secret: Zeroizing<Vec<u8>>, ttl: Duration, servers: Vec<String>) -> Self {
        Self {
            secret,
            ttl,
            servers,
        }
    }

    /// Fresh credentials, valid for the configured lifetime from `now`.
    pub fn issue(&self, now: SystemTime) -> proto::TurnCredentials {
        let credentials = rest_credentials(&self.secret, self.ttl, now, &mut rand::rng());
        proto::TurnCredentials {
            username: credentials.username.clone(),
            password: credentials.password.to_string(),
            ttl_seconds: u32::try_from(self.ttl.as_secs()).unwrap_or(u32::MAX),
            servers: self.servers.clone(),
        }
    }
}

/// Checks REST-scheme usernames for the embedded server: unexpired, and
/// the password the secret gives (as the long-term key of RFC 8489 §9.2.2,
/// MD5(username ":" realm ":" password)).
struct RestAuth {
    secret: Zeroizing<Vec<u8>>,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let expiry = rest_username_expiry(username)
            .ok_or_else(|| turn::Error::Other("not a REST-scheme username".into()))?;
        if expiry <= SystemTime::now() {
            return Err(turn::Error::Other("expired TURN credentials".into()));
        }
        let password = rest_password(&self.secret, username);
        Ok(generate_auth_key(username, realm, &password))
    }
}

/// Why TURN could not start.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum TurnError {
    /// cannot read or create the TURN secret: {0}
    Secret(std::io::Error),
    /// cannot listen for TURN: {0}
    Listen(std::io::Error),
    /// the TURN server did not start
    Server,
    /// turn.public_ip must be set when turn.listen is a wildcard address
    NoPublicIp,
}

/// The shared secret: from the configuration, else `turn-secret` in the
/// data directory, created (32 random bytes, hex) on first use.
pub fn load_or_create_secret(
    section: &TurnSection,
    data_dir: &Path,
) -> Result<Zeroizing<Vec<u8>>, TurnError> {
    if let Some(secret) = &section.secret {
        return Ok(Zeroizing::new(secret.as_bytes().to_vec()));
    }
    let path = data_dir.join("turn-secret");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Zeroizing::new(text.trim().as_bytes().to_vec())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(bytes.as_mut());
            let secret = Zeroizing::new(hex::encode(bytes.as_ref()));
            write_private(&path, secret.as_bytes()).map_err(TurnError::Secret)?;
            Ok(Zeroizing::new(secret.as_bytes().to_vec()))
        }
        Err(e) => Err(TurnError::Secret(e)),
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// The embedded TURN server, running until [`EmbeddedTurn::close`].
pub struct EmbeddedTurn {
    server: Server,
    address: SocketAddr,
}

impl EmbeddedTurn {
    /// Binds `section.listen` (UDP) and starts serving allocations on
    /// relayed ports `min_port..=max_port` of `public_ip`.
    pub async fn start(
        section: &TurnSection,
        secret: Zeroizing<Vec<u8>>,
    ) -> Result<Self, TurnError> {
        let public_ip = public_ip(section)?;
        let socket = UdpSocket::bind(section.listen)
            .await
            .map_err(TurnError::Listen)?;
        let address = socket.local_addr().map_err(TurnError::Listen)?;
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: Arc::new(socket),
                relay_addr_generator: Box::new(PeerFilteredRelays {
                    ranges: RelayAddressGeneratorRanges {
                        relay_address: public_ip,
                        min_port: section.min_port,
                        max_port: section.max_port,
                        max_retries: 10,
                        address: section.listen.ip().to_string(),
                        net: Arc::new(Net::new(None)),
                    },
                    allow_loopback: section.allow_loopback_peers,
                }),
            }],
            realm: section.realm.clone(),
            auth_handler: Arc::new(RestAuth { secret }),
            // Zero: the crate's default of ten minutes (RFC 8656 §12).
            channel_bind_timeout: Duration::from_secs(0),
            alloc_close_notify: None,
        })
        .await
        .map_err(|_| TurnError::Server)?;
        Ok(Self { server, address })
    }

    /// The UDP address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops the server and frees every allocation.
    pub async fn close(self) {
        let _ = self.server.close().await;
    }
}

/// Whether a relayed port may exchange datagrams with `peer`. Never with
/// addresses that would turn the TURN server into a way into the relay
/// host itself or its link: loopback (unless allowed, for tests),
/// unspecified, multicast, broadcast and link-local addresses — as coturn
/// refuses loopback peers by default.
pub fn peer_allowed(peer: IpAddr, allow_loopback: bool) -> bool {
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
        v4 => v4,
    };
    if peer.is_loopback() {
        return allow_loopback;
    }
    match peer {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_link_local())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Allocates relayed ports from a range, each behind [`PeerFilter`].
struct PeerFilteredRelays {
    ranges: RelayAddressGeneratorRanges,
    allow_loopback: bool,
}

#[async_trait::async_trait]
impl RelayAddressGenerator for PeerFilteredRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        self.ranges.validate()
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let (conn, address) = self.ranges.allocate_conn(use_ipv4, requested_port).await?;
        let filtered: Arc<dyn Conn + Send + Sync> = Arc::new(PeerFilter {
            inner: conn,
            allow_loopback: self.allow_loopback,
        });
        Ok((filtered, address))
    }
}

/// A relayed port that neither sends to nor hears from refused peers
/// ([`peer_allowed`]): the TURN crate has no peer policy of its own.
struct PeerFilter {
    inner: Arc<dyn Conn + Send + Sync>,
    allow_loopback: bool,
}

fn refused() -> webrtc_util::Error {
    webrtc_util::Error::Other("peer address refused".into())
}

#[async_trait::async_trait]
impl Conn for PeerFilter {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        if !peer_allowed(addr.ip(), self.allow_loopback) {
            return Err(refused());
        }
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if peer_allowed(from.ip(), self.allow_loopback) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        match self.inner.remote_addr() {
            Some(peer) if peer_allowed(peer.ip(), self.allow_loopback) => {
                self.inner.send(buf).await
            }
            _ => Err(refused()),
        }
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !peer_allowed(target.ip(), self.allow_loopback) {
            return Err(refused());
        }
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// The address relayed ports are advertised on.
pub fn public_ip(section: &TurnSection) -> Result<IpAddr, TurnError> {
    match section.public_ip {
        Some(ip) => Ok(ip),
        None if !section.listen.ip().is_unspecified() => Ok(section.listen.ip()),
        None => Err(TurnError::NoPublicIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_on_the_relay_host_or_its_link_are_refused() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        for allowed in ["203.0.113.7", "192.168.1.20", "2001:db8::1", "10.0.0.2"] {
            assert!(peer_allowed(ip(allowed), false), "{allowed}");
        }
        for refused in [
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "169.254.1.1",
            "fe80::1",
            "ff02::1",
        ] {
            assert!(!peer_allowed(ip(refused), false), "{refused}");
        }
        assert!(peer_allowed(ip("127.0.0.1"), true));
        assert!(peer_allowed(ip("::ffff:127.0.0.1"), true));
    }

    #[test]
    fn the_embedded_server_accepts_only_fresh_rest_credentials() -> Result<(), turn::Error> {
        let auth = RestAuth {
            secret: Zeroizing::new(b"s3cret".to_vec()),
        };
        let from: SocketAddr = "127.0.0.1:1".parse().map_err(|_| turn::Error::ErrFakeErr)?;
        let issuer = TurnIssuer::new(
            Zeroizing::new(b"s3cret".to_vec()),
            Duration::from_secs(60),
            vec!["127.0.0.1:3478".into()],
        );
        let fresh = issuer.issue(SystemTime::now());
        let key = auth.auth_handle(&fresh.username, "sotto", from)?;
        assert_eq!(
            key,
            generate_auth_key(&fresh.username, "sotto", &fresh.password)
        );
        let old = issuer.issue(SystemTime::now() - Duration::from_secs(120));
        assert!(auth.auth_handle(&old.username, "sotto", from).is_err());
        assert!(auth.auth_handle("alice", "sotto", from).is_err());
        Ok(())
    }
}
