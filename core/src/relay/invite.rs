//! The relay invite: everything a client needs to reach a relay and trust
//! it, in one line the relay prints on first start.
//!
//! `sotto-relay:1/<host>/<port>/<certificate SHA-256, hex>/<trust root, hex>`
//!
//! The certificate hash pins the relay's TLS certificate (it is self-signed
//! by default); the trust root is the public key that signs the relay's
//! sealed-sender server certificate, against which recipients check who a
//! sealed message is from.

use libsignal_protocol::PublicKey;

use crate::error::{Error, Result};

const PREFIX: &str = "sotto-relay:1/";

/// A parsed relay invite.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayInvite {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// SHA-256 of the relay's TLS certificate (DER).
    pub cert_sha256: [u8; 32],
    /// The sealed-sender trust root.
    pub trust_root: PublicKey,
}

impl std::fmt::Debug for RelayInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayInvite")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl RelayInvite {
    /// Parses an invite string.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(Error::InvalidInvite)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [host, port, cert, root] = parts[..] else {
            return Err(Error::InvalidInvite);
        };
        if host.is_empty() {
            return Err(Error::InvalidInvite);
        }
        let cert_sha256 = hex::decode(cert)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(Error::InvalidInvite)?;
        let root = hex::decode(root).map_err(|_| Error::InvalidInvite)?;
        Ok(Self {
            host: host.to_owned(),
            port: port.parse().map_err(|_| Error::InvalidInvite)?,
            cert_sha256,
            trust_root: PublicKey::deserialize(&root).map_err(|_| Error::InvalidInvite)?,
        })
    }
}

impl std::fmt::Display for RelayInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}{}/{}/{}/{}",
            self.host,
            self.port,
            hex::encode(self.cert_sha256),
            hex::encode(self.trust_root.serialize())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invites_round_trip_and_junk_is_refused() {
        let key = libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key;
        let invite = RelayInvite {
            host: "127.0.0.1".into(),
            port: 7443,
            cert_sha256: [9; 32],
            trust_root: key,
        };
        assert_eq!(
            RelayInvite::parse(&invite.to_string()).expect("parses"),
            invite
        );
        for junk in [
            "",
            "sotto-relay:1/",
            "sotto-relay:1/h/99999/00/00",
            "http://x",
            "sotto-relay:1/h/1/zz/00",
        ] {
            assert!(RelayInvite::parse(junk).is_err(), "{junk}");
        }
    }
}
