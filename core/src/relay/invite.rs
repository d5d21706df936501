//! The relay invite: everything a client needs to reach a relay and trust
//! it, in one line the relay prints on first start.
//!
//! `sotto-relay:2/<host>/<port>/<trust root, hex>`
//!
//! The trust root is the relay's one identity: the public key that signs
//! the relay's sealed-sender server certificate (against which recipients
//! check who a sealed message is from), whose key signs every connection's
//! TLS channel binding in the challenge (see `client`). So the relay may
//! renew or replace its TLS certificate without changing its invite.
//!
//! Version 1 invites (`sotto-relay:1/<host>/<port>/<certificate
//! SHA-256>/<trust root>`, printed by earlier relays and kept in earlier
//! stores) are still read; their certificate hash is checked for form and
//! then ignored, since the trust root now authenticates the relay. Invites
//! are always written as version 2.

use libsignal_protocol::PublicKey;

use crate::error::{Error, Result};

const PREFIX: &str = "sotto-relay:2/";
/// Version 1 carried a SHA-256 pin of the TLS certificate before the trust
/// root.
const PREFIX_V1: &str = "sotto-relay:1/";

/// A parsed relay invite.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayInvite {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The relay's trust root: it signs the sealed-sender server
    /// certificate, whose key vouches for each TLS connection.
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
    /// Parses an invite string (version 2, or version 1 without its pin).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (host, port, root) = if let Some(rest) = text.strip_prefix(PREFIX) {
            let parts: Vec<&str> = rest.split('/').collect();
            let [host, port, root] = parts[..] else {
                return Err(Error::InvalidInvite);
            };
            (host, port, root)
        } else if let Some(rest) = text.strip_prefix(PREFIX_V1) {
            let parts: Vec<&str> = rest.split('/').collect();
            let [host, port, pin, root] = parts[..] else {
                return Err(Error::InvalidInvite);
            };
            // A damaged pin still marks a damaged invite.
            if hex::decode(pin).map(|pin| pin.len()) != Ok(32) {
                return Err(Error::InvalidInvite);
            }
            (host, port, root)
        } else {
            return Err(Error::InvalidInvite);
        };
        if host.is_empty() {
            return Err(Error::InvalidInvite);
        }
        let root = hex::decode(root).map_err(|_| Error::InvalidInvite)?;
        // Exactly the type byte and the key: libsignal would accept (and
        // ignore) bytes after it, so one key could be written many ways.
        if root.len() != 33 {
            return Err(Error::InvalidInvite);
        }
        Ok(Self {
            host: host.to_owned(),
            port: port.parse().map_err(|_| Error::InvalidInvite)?,
            trust_root: PublicKey::deserialize(&root).map_err(|_| Error::InvalidInvite)?,
        })
    }
}

impl std::fmt::Display for RelayInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}{}/{}/{}",
            self.host,
            self.port,
            hex::encode(self.trust_root.serialize())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> RelayInvite {
        RelayInvite {
            host: "127.0.0.1".into(),
            port: 7443,
            trust_root: libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key,
        }
    }

    #[test]
    fn invites_round_trip_and_junk_is_refused() {
        let invite = invite();
        let text = invite.to_string();
        assert!(
            text.starts_with("sotto-relay:2/127.0.0.1/7443/05"),
            "{text}"
        );
        assert_eq!(RelayInvite::parse(&text).expect("parses"), invite);
        let root = hex::encode(invite.trust_root.serialize());
        for junk in [
            "".to_owned(),
            "http://x".to_owned(),
            "sotto-relay:2/".to_owned(),
            format!("sotto-relay:2//7443/{root}"),
            format!("sotto-relay:2/h/99999/{root}"),
            format!("sotto-relay:2/h/1/{}", &root[2..]),
            "sotto-relay:2/h/1/zz".to_owned(),
            format!("sotto-relay:2/h/1/{root}/extra"),
            format!("sotto-relay:2/h/1/{root}00"),
            format!("sotto-relay:3/h/1/{root}"),
            // A version 2 invite with a pin is not one.
            format!("sotto-relay:2/h/1/{}/{root}", "00".repeat(32)),
        ] {
            assert!(RelayInvite::parse(&junk).is_err(), "{junk}");
        }
    }

    /// Invites printed by earlier relays, and kept in earlier stores, still
    /// name the same relay: the pin is dropped, and they are written anew
    /// as version 2.
    #[test]
    fn version_1_invites_are_read_without_their_pin() {
        let invite = invite();
        let root = hex::encode(invite.trust_root.serialize());
        let v1 = format!("sotto-relay:1/127.0.0.1/7443/{}/{root}", "ab".repeat(32));
        let parsed = RelayInvite::parse(&v1).expect("parses");
        assert_eq!(parsed, invite);
        assert!(parsed.to_string().starts_with("sotto-relay:2/"));
        for junk in [
            format!("sotto-relay:1/127.0.0.1/7443/{root}"),
            format!("sotto-relay:1/127.0.0.1/7443/zz/{root}"),
            format!("sotto-relay:1/127.0.0.1/7443/{}/{root}", "ab".repeat(31)),
            "sotto-relay:1/h/99999/00/00".to_owned(),
        ] {
            assert!(RelayInvite::parse(&junk).is_err(), "{junk}");
        }
    }
}
