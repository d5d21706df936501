//! The relay's TURN side (RFC 8656): an embedded TURN server on UDP (the
//! webrtc-rs `turn` crate), and the credentials the relay issues to its
//! authenticated accounts for it — or for a coturn run beside it.
//!
//! Credentials follow the TURN REST-API scheme (see
//! `sotto_core::call::turn`): any TURN server that knows the shared secret
//! checks them on its own, so coturn with `use-auth-secret` and
//! `static-auth-secret` set to the same secret accepts exactly what this
//! relay issues. The username is `<expiry>:<account tag>`: the tag is a
//! keyed hash of the account (stable, but no one without the secret can
//! tell which account it is), so the TURN server can count allocations per
//! account. Credentials are asked for when a call's media starts and last
//! minutes; the embedded server lets an allocation made with them refresh
//! itself past that for up to `max_call_secs` (see [`gate`]).
//!
//! The embedded server refuses peers on the relay host's networks
//! ([`peers`]) and more than `allocations_per_account` allocations per
//! account. The relay never logs TURN usernames, peers or relayed addresses.

mod gate;
pub mod peers;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use sotto_core::call::turn::{rest_password, rest_username_expiry};
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
use gate::Gate;
use peers::PeerPolicy;

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

    /// Fresh credentials for `account` (its identity key), valid for the
    /// configured lifetime from `now`.
    pub fn issue(&self, account: &[u8], now: SystemTime) -> proto::TurnCredentials {
        let expiry = (now + self.ttl)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let username = format!("{expiry}:{}", account_tag(&self.secret, account));
        let password = rest_password(&self.secret, &username);
        proto::TurnCredentials {
            username,
            password: password.to_string(),
            ttl_seconds: u32::try_from(self.ttl.as_secs()).unwrap_or(u32::MAX),
            servers: self.servers.clone(),
        }
    }
}

/// The account's name in TURN usernames: 128 bits of HMAC-SHA256 under the
/// TURN secret, in hex. Stable, so a TURN server can count an account's
/// allocations; keyed, so its logs cannot name the account.
fn account_tag(secret: &[u8], account: &[u8]) -> String {
    // HMAC accepts keys of any length; the error case cannot happen.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"sotto turn account\0");
    mac.update(account);
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The part of a REST-scheme username after its expiry: the account tag
/// (or, from older relays, a random id).
fn rest_username_account(username: &str) -> &str {
    username.split_once(':').map_or("", |(_, account)| account)
}

/// Checks REST-scheme usernames for the embedded server: the password the
/// secret gives (as the long-term key of RFC 8489 §9.2.2,
/// MD5(username ":" realm ":" password)), and not expired for longer than
/// the longest call. Whether an expired username may still be used is the
/// [`Gate`]'s decision: only on the allocation made with it.
struct RestAuth {
    secret: Zeroizing<Vec<u8>>,
    max_call: Duration,
}

impl RestAuth {
    /// The long-term key for `username`, if it is a REST-scheme username
    /// whose expiry is less than the longest call ago.
    fn key(&self, username: &str, realm: &str) -> Option<Vec<u8>> {
        let expiry = rest_username_expiry(username)?;
        if expiry + self.max_call <= SystemTime::now() {
            return None;
        }
        let password = rest_password(&self.secret, username);
        Some(generate_auth_key(username, realm, &password))
    }
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        self.key(username, realm)
            .ok_or_else(|| turn::Error::Other("unknown or expired TURN credentials".into()))
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
    server: Arc<Server>,
    address: SocketAddr,
}

impl EmbeddedTurn {
    /// Binds `section.listen` (UDP) and starts serving allocations on
    /// relayed ports `min_port..=max_port` of `public_ip`. `relay_ips` are
    /// other addresses of this host (the relay's own listening address),
    /// refused as peers like the TURN server's.
    pub async fn start(
        section: &TurnSection,
        secret: Zeroizing<Vec<u8>>,
        relay_ips: &[IpAddr],
    ) -> Result<Self, TurnError> {
        let public_ip = public_ip(section)?;
        let socket = UdpSocket::bind(section.listen)
            .await
            .map_err(TurnError::Listen)?;
        let address = socket.local_addr().map_err(TurnError::Listen)?;
        let mut own_ips = vec![public_ip, address.ip()];
        own_ips.extend_from_slice(relay_ips);
        own_ips.retain(|ip| !ip.is_unspecified());
        let policy = PeerPolicy {
            allow_loopback: section.allow_loopback_peers,
            own_ips,
            relay_ports: section.min_port..=section.max_port,
            listen_port: address.port(),
        };
        let auth = Arc::new(RestAuth {
            secret,
            max_call: Duration::from_secs(section.max_call_secs),
        });
        let gate = Arc::new(Gate::new(
            Arc::new(socket),
            address,
            policy.clone(),
            auth.clone(),
            section.allocations_per_account,
        ));
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: gate.clone(),
                relay_addr_generator: Box::new(PeerFilteredRelays {
                    ranges: RelayAddressGeneratorRanges {
                        relay_address: public_ip,
                        min_port: section.min_port,
                        max_port: section.max_port,
                        max_retries: 10,
                        address: section.listen.ip().to_string(),
                        net: Arc::new(Net::new(None)),
                    },
                    policy,
                }),
            }],
            realm: section.realm.clone(),
            auth_handler: auth,
            // Zero: the crate's default of ten minutes (RFC 8656 §12).
            channel_bind_timeout: Duration::from_secs(0),
            alloc_close_notify: None,
        })
        .await
        .map_err(|_| TurnError::Server)?;
        let server = Arc::new(server);
        gate.serve(&server);
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

/// Allocates relayed ports from a range, each behind [`PeerFilter`].
struct PeerFilteredRelays {
    ranges: RelayAddressGeneratorRanges,
    policy: PeerPolicy,
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
            policy: self.policy.clone(),
        });
        Ok((filtered, address))
    }
}

/// A relayed port that neither sends to nor hears from refused peers. The
/// [`Gate`] already refuses permissions and channels towards them; this is
/// the last line, where each datagram leaves or arrives, in case a request
/// ever slips past it (TURN permissions are per IP address, and the
/// relay's own address is allowed on its relayed ports only).
struct PeerFilter {
    inner: Arc<dyn Conn + Send + Sync>,
    policy: PeerPolicy,
}

fn refused() -> webrtc_util::Error {
    webrtc_util::Error::Other("peer address refused".into())
}

#[async_trait::async_trait]
impl Conn for PeerFilter {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        if !self.policy.allows(addr) {
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
            if self.policy.allows(from) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        match self.inner.remote_addr() {
            Some(peer) if self.policy.allows(peer) => self.inner.send(buf).await,
            _ => Err(refused()),
        }
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !self.policy.allows(target) {
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

    fn auth(max_call: Duration) -> RestAuth {
        RestAuth {
            secret: Zeroizing::new(b"s3cret".to_vec()),
            max_call,
        }
    }

    fn issuer(ttl: Duration) -> TurnIssuer {
        TurnIssuer::new(
            Zeroizing::new(b"s3cret".to_vec()),
            ttl,
            vec!["127.0.0.1:3478".into()],
        )
    }

    #[test]
    fn the_embedded_server_knows_only_its_own_credentials() -> Result<(), turn::Error> {
        let auth = auth(Duration::from_secs(3600));
        let from: SocketAddr = "127.0.0.1:1".parse().map_err(|_| turn::Error::ErrFakeErr)?;
        let issuer = issuer(Duration::from_secs(60));
        let fresh = issuer.issue(b"alice", SystemTime::now());
        let key = auth.auth_handle(&fresh.username, "sotto", from)?;
        assert_eq!(
            key,
            generate_auth_key(&fresh.username, "sotto", &fresh.password)
        );
        assert!(auth.auth_handle("alice", "sotto", from).is_err());
        assert!(auth.auth_handle("9999999999", "sotto", from).is_ok());
        Ok(())
    }

    #[test]
    fn expired_usernames_are_known_for_the_longest_call_only() {
        // The gate lets an expired username work on its own allocation;
        // past the longest call it is unknown everywhere.
        let auth = auth(Duration::from_secs(3600));
        let issuer = issuer(Duration::from_secs(60));
        let ended_a_minute_ago =
            issuer.issue(b"alice", SystemTime::now() - Duration::from_secs(120));
        assert!(auth.key(&ended_a_minute_ago.username, "sotto").is_some());
        let ended_long_ago = issuer.issue(b"alice", SystemTime::now() - Duration::from_secs(3700));
        assert!(auth.key(&ended_long_ago.username, "sotto").is_none());
    }

    #[test]
    fn usernames_name_the_account_by_a_keyed_tag() {
        let issuer = issuer(Duration::from_secs(300));
        let now = SystemTime::now();
        let alice = issuer.issue(b"alice identity key", now);
        let again = issuer.issue(b"alice identity key", now + Duration::from_secs(5));
        let bob = issuer.issue(b"bob identity key", now);
        let tag = rest_username_account(&alice.username);
        assert_eq!(tag.len(), 32);
        assert_eq!(tag, rest_username_account(&again.username));
        assert_ne!(tag, rest_username_account(&bob.username));
        assert!(!tag.contains(&hex::encode(b"alice")));
        assert_eq!(alice.ttl_seconds, 300);
        let other_secret = TurnIssuer::new(
            Zeroizing::new(b"other".to_vec()),
            Duration::from_secs(300),
            Vec::new(),
        );
        assert_ne!(
            tag,
            rest_username_account(&other_secret.issue(b"alice identity key", now).username)
        );
    }
}
