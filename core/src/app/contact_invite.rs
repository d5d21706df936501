//! The contact invite: one line that lets someone add you as a contact.
//!
//! `sotto-contact:2/<identity key>/<host>/<port>/<trust root>/<check>`
//!
//! - `2` is the format version (version 1, which also carried the relay's
//!   certificate SHA-256 before the trust root, is still read; the hash is
//!   ignored, as in `relay::invite`);
//! - the identity key is the account's Signal identity public key (33 bytes,
//!   hex); it is trusted on first use when the invite is added;
//! - host, port and trust root are the fields of the account's
//!   [`RelayInvite`] (see `relay::invite`), the relay it receives on;
//! - the check is the first 4 bytes of SHA-256 over everything before it
//!   (hex), so that a mistyped or truncated invite is refused instead of
//!   trusting a wrong key.
//!
//! All of it is public: an invite holds no secret. `docs/contact-invite.md`
//! documents the format.

use libsignal_protocol::IdentityKey;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::relay::invite::RelayInvite;

const SCHEME: &str = "sotto-contact:";
const VERSION: &str = "2";
/// Version 1 had one more relay field: the certificate pin.
const VERSION_1: &str = "1";
const CHECK_LEN: usize = 4;

/// What a contact invite carries: who (the identity key) and where (the relay).
#[derive(Clone, PartialEq, Eq)]
pub struct ContactInvite {
    /// The account's identity key.
    pub identity: IdentityKey,
    /// The relay the account receives on.
    pub relay: RelayInvite,
}

impl std::fmt::Debug for ContactInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactInvite").finish_non_exhaustive()
    }
}

fn check_of(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..CHECK_LEN])
}

impl ContactInvite {
    /// Parses an invite. Whitespace anywhere is ignored (terminals and mail
    /// clients wrap long lines); anything else that is wrong is refused with
    /// [`Error::InvalidContactInvite`] saying what.
    pub fn parse(text: &str) -> Result<Self> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            return Err(Error::InvalidContactInvite("it is empty"));
        }
        if compact.starts_with("sotto-relay:") {
            return Err(Error::InvalidContactInvite(
                "this is a relay invite, not a contact invite",
            ));
        }
        let rest = compact
            .strip_prefix(SCHEME)
            .ok_or(Error::InvalidContactInvite(
                "it does not start with sotto-contact:",
            ))?;
        let (version, rest) = rest
            .split_once('/')
            .ok_or(Error::InvalidContactInvite("it is incomplete"))?;
        // Which relay invite the relay fields form, and how many there are.
        let (relay_prefix, relay_fields) = match version {
            VERSION => ("sotto-relay:2/", 3),
            VERSION_1 => ("sotto-relay:1/", 4),
            _ => {
                return Err(if version.parse::<u32>().is_ok() {
                    Error::InvalidContactInvite("it was made by a newer version of Sotto")
                } else {
                    Error::InvalidContactInvite("its version is malformed")
                })
            }
        };
        let (body, check) = compact
            .rsplit_once('/')
            .ok_or(Error::InvalidContactInvite("it is incomplete"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        // The identity key, the relay's fields, the check.
        if parts.len() != relay_fields + 2 {
            return Err(Error::InvalidContactInvite(
                "it is incomplete or has extra parts",
            ));
        }
        if !check.eq_ignore_ascii_case(&check_of(body)) {
            return Err(Error::InvalidContactInvite(
                "its check digits do not match (mistyped or cut off)",
            ));
        }
        let identity = hex::decode(parts[0])
            .ok()
            .and_then(|bytes| IdentityKey::decode(&bytes).ok())
            .ok_or(Error::InvalidContactInvite("its identity key is malformed"))?;
        let relay = RelayInvite::parse(&format!(
            "{relay_prefix}{}",
            parts[1..=relay_fields].join("/")
        ))
        .map_err(|_| Error::InvalidContactInvite("its relay address is malformed"))?;
        Ok(Self { identity, relay })
    }
}

impl std::fmt::Display for ContactInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let relay = self.relay.to_string();
        let relay_fields = relay.split_once('/').map_or("", |(_, fields)| fields);
        let body = format!(
            "{SCHEME}{VERSION}/{}/{relay_fields}",
            hex::encode(self.identity.serialize())
        );
        let check = check_of(&body);
        write!(f, "{body}/{check}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn invite() -> ContactInvite {
        let mut rng = rand::rng();
        ContactInvite {
            identity: *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key(),
            relay: RelayInvite {
                host: "relay.example".into(),
                port: 7443,
                trust_root: libsignal_protocol::KeyPair::generate(&mut rng).public_key,
            },
        }
    }

    fn reason(text: &str) -> &'static str {
        match ContactInvite::parse(text) {
            Err(Error::InvalidContactInvite(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn round_trips_and_survives_wrapping() -> Result<()> {
        let invite = invite();
        let text = invite.to_string();
        assert!(text.starts_with("sotto-contact:2/"));
        assert_eq!(ContactInvite::parse(&text)?, invite);
        let wrapped: String = text
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                if i % 40 == 39 {
                    vec![c, '\n', ' ']
                } else {
                    vec![c]
                }
            })
            .collect();
        assert_eq!(ContactInvite::parse(&format!("  {wrapped}\n"))?, invite);
        Ok(())
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let text = invite().to_string();
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason("hello"), "it does not start with sotto-contact:");
        assert_eq!(
            reason("sotto-relay:1/h/1/00/00"),
            "this is a relay invite, not a contact invite"
        );
        assert_eq!(
            reason(&text.replacen(":2/", ":3/", 1)),
            "it was made by a newer version of Sotto"
        );
        assert_eq!(
            reason(&text[..text.len() - 20]),
            "it is incomplete or has extra parts"
        );
        // One changed hex digit in the identity key.
        let mut typo: Vec<char> = text.chars().collect();
        let i = "sotto-contact:2/".len() + 10;
        typo[i] = if typo[i] == 'a' { 'b' } else { 'a' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(
            reason(&typo),
            "its check digits do not match (mistyped or cut off)"
        );
    }

    #[test]
    fn a_consistent_invite_with_a_bad_key_is_refused() {
        let body = format!(
            "sotto-contact:2/{}/h/1/{}",
            "00".repeat(33),
            "22".repeat(33)
        );
        let text = format!("{body}/{}", check_of(&body));
        assert_eq!(reason(&text), "its identity key is malformed");
    }

    /// Invites made by earlier builds carry the relay's certificate pin;
    /// they still add the same contact on the same relay.
    #[test]
    fn version_1_invites_are_read_without_the_pin() -> Result<()> {
        let invite = invite();
        let body = format!(
            "sotto-contact:1/{}/{}/{}/{}/{}",
            hex::encode(invite.identity.serialize()),
            invite.relay.host,
            invite.relay.port,
            "ab".repeat(32),
            hex::encode(invite.relay.trust_root.serialize())
        );
        let text = format!("{body}/{}", check_of(&body));
        assert_eq!(ContactInvite::parse(&text)?, invite);
        // A version 1 invite without its pin is incomplete, as is a
        // version 2 invite with one.
        let short = body.replacen(&format!("/{}", "ab".repeat(32)), "", 1);
        assert_eq!(
            reason(&format!("{short}/{}", check_of(&short))),
            "it is incomplete or has extra parts"
        );
        let long = body.replacen(":1/", ":2/", 1);
        assert_eq!(
            reason(&format!("{long}/{}", check_of(&long))),
            "it is incomplete or has extra parts"
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = ContactInvite::parse(&text);
        }

        #[test]
        fn mutated_invites_never_parse_to_another_identity(index in 0usize..250, replacement in "[0-9a-f/]") {
            let original = invite();
            let text = original.to_string();
            let mut chars: Vec<char> = text.chars().collect();
            let index = index % chars.len();
            chars[index] = replacement.chars().next().unwrap_or('0');
            let mutated: String = chars.into_iter().collect();
            if let Ok(parsed) = ContactInvite::parse(&mutated) {
                prop_assert_eq!(parsed, original);
            }
        }
    }
}
