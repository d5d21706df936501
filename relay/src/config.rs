//! `relay.toml`: where the relay listens, where it keeps its data, its TLS
//! certificate, and its limits. Every field has a default; command-line
//! flags override the file.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::server::Limits;

/// The relay's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Host name or address clients use to reach the relay (goes into the
    /// invite).
    pub public_host: String,
    /// Port clients use (defaults to the listen port).
    pub public_port: Option<u16>,
    /// Directory for the database and the relay's keys.
    pub data_dir: PathBuf,
    /// PEM certificate chain to use instead of the self-signed certificate.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Limits.
    pub limits: LimitsConfig,
    /// TURN for calls.
    pub turn: TurnSection,
}

/// The `[turn]` table: the embedded TURN server and the credentials the
/// relay issues for it (or for external servers such as coturn).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TurnSection {
    /// Whether to run the embedded TURN server (off by default: it opens a
    /// UDP port and a range of relay ports that a firewall must allow).
    pub enabled: bool,
    /// UDP address the embedded server listens on.
    pub listen: SocketAddr,
    /// The address relayed ports are advertised on (needed when `listen`
    /// is a wildcard address).
    pub public_ip: Option<IpAddr>,
    /// The TURN realm.
    pub realm: String,
    /// Lowest relayed port.
    pub min_port: u16,
    /// Highest relayed port.
    pub max_port: u16,
    /// How long issued credentials stay valid for a new allocation, in
    /// seconds: clients ask for them as a call's media starts.
    pub credential_ttl_secs: u64,
    /// How long, in seconds, an allocation made with credentials may keep
    /// refreshing itself (and its permissions) with them after they
    /// expired: the longest call through the embedded server.
    pub max_call_secs: u64,
    /// Allocations one account may hold at once on the embedded server;
    /// past it, Allocate gets 486 (Allocation Quota Reached).
    pub allocations_per_account: usize,
    /// The shared secret (coturn's `static-auth-secret`); by default a
    /// random one kept in `turn-secret` in the data directory.
    pub secret: Option<String>,
    /// Whether relayed ports may talk to loopback peers (off: only for
    /// tests and single-machine setups, like coturn's
    /// `--allow-loopback-peers`).
    pub allow_loopback_peers: bool,
    /// Other TURN servers ("host:port", UDP) sharing the secret, such as a
    /// coturn, named to clients along with the embedded one. With these
    /// set, credentials are issued even when `enabled` is false.
    pub external_servers: Vec<String>,
}

impl Default for TurnSection {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([0, 0, 0, 0], 3478)),
            public_ip: None,
            realm: "sotto".into(),
            min_port: 49152,
            max_port: 65535,
            credential_ttl_secs: 300,
            max_call_secs: 12 * 3600,
            allocations_per_account: 4,
            secret: None,
            allow_loopback_peers: false,
            external_servers: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TurnSection {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnSection")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("realm", &self.realm)
            .field("min_port", &self.min_port)
            .field("max_port", &self.max_port)
            .field("credential_ttl_secs", &self.credential_ttl_secs)
            .field("max_call_secs", &self.max_call_secs)
            .field("allocations_per_account", &self.allocations_per_account)
            .field("allow_loopback_peers", &self.allow_loopback_peers)
            .field("external_servers", &self.external_servers)
            .finish_non_exhaustive()
    }
}

/// The `[limits]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections open at once from one source address (an IPv4 address
    /// or an IPv6 /64).
    pub max_connections_per_address: usize,
    /// Seconds of silence before a logged-in connection is closed.
    pub idle_timeout_secs: u64,
    /// Seconds an anonymous connection may go without a request other
    /// than a ping before it is closed.
    pub anonymous_idle_timeout_secs: u64,
    /// New accounts per source address per hour.
    pub accounts_per_address_per_hour: u32,
    /// Days an undelivered envelope is kept.
    pub mailbox_ttl_days: u64,
    /// Envelopes queued per account at most.
    pub mailbox_quota: u64,
    /// Payload bytes queued per account at most.
    pub mailbox_bytes_quota: u64,
    /// Bytes of prekeys stored per account at most.
    pub prekey_bytes_quota: u64,
    /// Sustained requests per second per connection.
    pub requests_per_second: u32,
    /// Burst of requests per connection.
    pub request_burst: u32,
    /// Sustained requests per second per account.
    pub account_requests_per_second: u32,
    /// Envelopes per second to one recipient, from all senders together.
    pub recipient_envelopes_per_second: u32,
    /// Burst of envelopes to one recipient.
    pub recipient_burst: u32,
    /// Bundle fetches per second for one account, by everyone together.
    pub bundle_fetches_per_second: u32,
    /// Burst of bundle fetches for one account.
    pub bundle_fetch_burst: u32,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            public_host: "127.0.0.1".into(),
            public_port: None,
            data_dir: PathBuf::from("relay-data"),
            tls_cert: None,
            tls_key: None,
            limits: LimitsConfig::default(),
            turn: TurnSection::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            max_connections: limits.max_connections,
            max_connections_per_address: limits.max_connections_per_address,
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            anonymous_idle_timeout_secs: limits.anonymous_idle_timeout.as_secs(),
            accounts_per_address_per_hour: limits.accounts_per_address_per_hour,
            mailbox_ttl_days: limits.mailbox_ttl.as_secs() / 86_400,
            mailbox_quota: limits.mailbox_quota,
            mailbox_bytes_quota: limits.mailbox_bytes_quota,
            prekey_bytes_quota: limits.prekey_bytes_quota,
            requests_per_second: limits.requests_per_second,
            request_burst: limits.request_burst,
            account_requests_per_second: limits.account_requests_per_second,
            recipient_envelopes_per_second: limits.recipient_envelopes_per_second,
            recipient_burst: limits.recipient_burst,
            bundle_fetches_per_second: limits.bundle_fetches_per_second,
            bundle_fetch_burst: limits.bundle_fetch_burst,
        }
    }
}

impl LimitsConfig {
    /// The server's limits.
    pub fn to_limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            anonymous_idle_timeout: Duration::from_secs(self.anonymous_idle_timeout_secs),
            accounts_per_address_per_hour: self.accounts_per_address_per_hour,
            mailbox_ttl: Duration::from_secs(self.mailbox_ttl_days * 86_400),
            mailbox_quota: self.mailbox_quota,
            mailbox_bytes_quota: self.mailbox_bytes_quota,
            prekey_bytes_quota: self.prekey_bytes_quota,
            requests_per_second: self.requests_per_second,
            request_burst: self.request_burst,
            account_requests_per_second: self.account_requests_per_second,
            recipient_envelopes_per_second: self.recipient_envelopes_per_second,
            recipient_burst: self.recipient_burst,
            bundle_fetches_per_second: self.bundle_fetches_per_second,
            bundle_fetch_burst: self.bundle_fetch_burst,
            ..Limits::default()
        }
    }
}

/// An operator's TLS certificate chain (end entity first) and PKCS#8 key, DER.
pub struct OperatorTls {
    /// The chain.
    pub chain: Vec<Vec<u8>>,
    /// The key.
    pub key: Vec<u8>,
}

/// Why a configuration could not be used.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum ConfigError {
    /// cannot read the configuration file: {0}
    Read(std::io::Error),
    /// the configuration file is invalid: {0}
    Parse(toml::de::Error),
    /// cannot read the TLS certificate or key
    Tls,
}

impl RelayConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(ConfigError::Read)?;
        toml::from_str(&text).map_err(ConfigError::Parse)
    }

    /// The operator's certificate chain and key (DER), if configured.
    pub fn operator_tls(&self) -> Result<Option<OperatorTls>, ConfigError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|_| ConfigError::Tls)?
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ConfigError::Tls)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|_| ConfigError::Tls)?;
        match key {
            PrivateKeyDer::Pkcs8(key) if !chain.is_empty() => Ok(Some(OperatorTls {
                chain,
                key: key.secret_pkcs8_der().to_vec(),
            })),
            _ => Err(ConfigError::Tls),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_keep_defaults_and_unknown_keys_are_refused() {
        let config: RelayConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\n[limits]\nmailbox_quota = 5\n")
                .expect("valid");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.limits.mailbox_quota, 5);
        assert_eq!(config.limits.idle_timeout_secs, 120);
        assert!(toml::from_str::<RelayConfig>("lisen = \"x\"").is_err());
    }

    #[test]
    fn turn_is_off_by_default_and_its_secret_is_never_shown() {
        let config: RelayConfig = toml::from_str(
            "[turn]\nenabled = true\nlisten = \"127.0.0.1:3479\"\nsecret = \"hunter2\"\n",
        )
        .expect("valid");
        assert!(config.turn.enabled);
        assert_eq!(config.turn.listen.port(), 3479);
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!RelayConfig::default().turn.enabled);
    }

    #[test]
    fn turn_defaults_are_safe() {
        let turn = RelayConfig::default().turn;
        // Credentials only long enough to allocate; private peers refused.
        assert!(turn.credential_ttl_secs <= 300);
        assert!(!turn.allow_loopback_peers);
        assert!(turn.allocations_per_account >= 2);
    }
}
