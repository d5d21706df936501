//! TURN (RFC 8656) for the media path: short-lived credentials in the
//! "TURN REST API" scheme that coturn's `use-auth-secret` understands, and a
//! UDP allocation on a TURN server through webrtc-rs's `turn` client.
//!
//! The credential scheme (draft-uberti-behave-turn-rest-00 §2.2):
//! `username = <expiry, Unix seconds> ":" <opaque id>` and
//! `password = base64(HMAC-SHA1(shared secret, username))`. Any TURN server
//! holding the shared secret checks them without a database, so the relay
//! can hand them to its authenticated accounts and either its embedded TURN
//! server or a coturn beside it accepts them. The relay puts a keyed tag of
//! the account in place of the opaque id, so that its TURN server can count
//! an account's allocations while a TURN server's logs still cannot tell
//! who called; [`rest_credentials`] mints them with a random id.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha1::Sha1;
use tokio::net::UdpSocket;
use webrtc_util::Conn;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Credentials for one TURN server, valid until `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// `<expiry>:<opaque id>`.
    pub username: String,
    /// `base64(HMAC-SHA1(secret, username))`.
    pub password: Zeroizing<String>,
    /// When the server stops accepting them.
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The password of the REST scheme for `username`: what a TURN server with
/// the shared `secret` expects.
pub fn rest_password(secret: &[u8], username: &str) -> Zeroizing<String> {
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = match <Hmac<Sha1> as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return Zeroizing::new(String::new()),
    };
    mac.update(username.as_bytes());
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Mints REST-scheme credentials valid for `ttl` from `now`.
pub fn rest_credentials<R: RngCore + CryptoRng>(
    secret: &[u8],
    ttl: Duration,
    now: SystemTime,
    rng: &mut R,
) -> TurnCredentials {
    let expires_at = now + ttl;
    let expiry = expires_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut id = [0u8; 12];
    rng.fill_bytes(&mut id);
    let username = format!("{expiry}:{}", hex::encode(id));
    let password = rest_password(secret, &username);
    TurnCredentials {
        username,
        password,
        expires_at,
    }
}

/// The expiry a REST-scheme username carries, if it has the form.
pub fn rest_username_expiry(username: &str) -> Option<SystemTime> {
    let (expiry, _) = username.split_once(':').unwrap_or((username, ""));
    let seconds = expiry.parse::<u64>().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// A TURN server and the credentials to use on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TurnServer {
    /// Its UDP address, `host:port`.
    pub address: String,
    /// Credentials for it.
    pub credentials: TurnCredentials,
}

/// A relayed address allocated on a TURN server. Datagrams sent through it
/// leave the server from [`TurnAllocation::relayed_address`]; the TURN
/// client installs permissions and channel bindings as it goes (RFC 8656
/// §9, §12) and refreshes the allocation in the background.
pub struct TurnAllocation {
    client: turn::client::Client,
    conn: Arc<dyn Conn + Send + Sync>,
    relayed: SocketAddr,
}

impl std::fmt::Debug for TurnAllocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TurnAllocation(..)")
    }
}

impl TurnAllocation {
    /// Allocates a UDP relay on `server`, from a fresh socket on `local_ip`.
    pub async fn allocate(server: &TurnServer, local_ip: IpAddr) -> Result<Self> {
        // The TURN client wants an address literal; a host name is resolved
        // here, to an address of the local socket's family.
        let resolved = tokio::net::lookup_host(server.address.as_str())
            .await?
            .find(|address| address.is_ipv4() == local_ip.is_ipv4())
            .ok_or(Error::Turn("the TURN server has no address of this family"))?;
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
        let config = turn::client::ClientConfig {
            stun_serv_addr: resolved.to_string(),
            turn_serv_addr: resolved.to_string(),
            username: server.credentials.username.clone(),
            password: server.credentials.password.to_string(),
            // The server names its realm in its first 401 response.
            realm: String::new(),
            software: String::new(),
            rto_in_ms: 0,
            conn: Arc::new(socket),
            vnet: None,
        };
        let client = turn::client::Client::new(config)
            .await
            .map_err(|_| Error::Turn("cannot start the TURN client"))?;
        client
            .listen()
            .await
            .map_err(|_| Error::Turn("cannot start the TURN client"))?;
        let conn = match client.allocate().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(error = %e, "TURN allocation refused");
                let _ = client.close().await;
                return Err(Error::Turn("the TURN server refused the allocation"));
            }
        };
        let relayed = conn
            .local_addr()
            .map_err(|_| Error::Turn("no relayed address"))?;
        Ok(Self {
            client,
            conn: Arc::new(conn),
            relayed,
        })
    }

    /// The address the TURN server relays for us.
    pub fn relayed_address(&self) -> SocketAddr {
        self.relayed
    }

    pub(crate) fn conn(&self) -> Arc<dyn Conn + Send + Sync> {
        self.conn.clone()
    }

    /// Releases the allocation (a Refresh with lifetime 0) and stops the
    /// client.
    pub async fn close(self) {
        let _ = self.conn.close().await;
        let _ = self.client.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn credentials_follow_the_rest_scheme() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let credentials = rest_credentials(
            b"secret",
            Duration::from_secs(600),
            now,
            &mut StdRng::seed_from_u64(1),
        );
        let (expiry, id) = credentials
            .username
            .split_once(':')
            .expect("username has a colon");
        assert_eq!(expiry, "1700000600");
        assert_eq!(id.len(), 24);
        assert_eq!(
            rest_username_expiry(&credentials.username),
            Some(now + Duration::from_secs(600))
        );
        assert_eq!(
            credentials.password,
            rest_password(b"secret", &credentials.username)
        );
        assert_ne!(
            credentials.password,
            rest_password(b"other", &credentials.username)
        );
        assert!(!format!("{credentials:?}").contains(credentials.password.as_str()));
    }

    #[test]
    fn the_password_is_base64_hmac_sha1() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for
        // nothing?") = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        let expected = base64::engine::general_purpose::STANDARD
            .encode(hex::decode("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79").expect("hex"));
        assert_eq!(
            rest_password(b"Jefe", "what do ya want for nothing?").as_str(),
            expected
        );
    }
}
