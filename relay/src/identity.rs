//! The relay's own keys, created on first start and kept in its data
//! directory:
//!
//! - a TLS key and self-signed certificate (rcgen);
//! - the sealed-sender trust root, the relay's one identity (the invite
//!   names it), and a server certificate signed by it for the key that
//!   signs sender certificates.
//!
//! The trust root also vouches for each TLS connection, through the server
//! key it certified: the server key signs every connection's TLS exporter
//! value ([`RelayIdentity::sign_channel`]), and the challenge carries that
//! signature with the server certificate. So operators may configure a PEM
//! certificate chain instead of the self-signed one (see `config.rs`), or
//! renew either, without changing the invite; and the trust root's private
//! key is needed only on first start (it may then be moved offline).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use libsignal_protocol::{
    IdentityKey, KeyPair, PrivateKey, SenderCertificate, ServerCertificate, Timestamp,
};
use rand::{CryptoRng, Rng};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::relay::wire::{account_uuid, sign_channel, verify_channel, CHANNEL_BINDING_LEN};

/// How long a sender certificate is valid.
pub const SENDER_CERTIFICATE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Failures loading or creating the relay's keys.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum IdentityError {
    /// file error: {0}
    Io(#[from] std::io::Error),
    /// a key file in the data directory is damaged
    Damaged,
    /// certificate generation failed
    Certificate,
    /// the data directory holds part of a relay's identity (keys, or a relay.db or invite.txt without trust-root.pub): restore the missing files from the backup, or empty the directory if this relay never served anyone
    Incomplete,
    /// the key files in the data directory do not belong together (the server certificate is not the trust root's, or not for the server key, or trust-root.key is not trust-root.pub's)
    Mismatched,
}

/// The relay's TLS and sealed-sender keys.
pub struct RelayIdentity {
    /// The TLS certificate chain, end entity first (DER).
    pub tls_chain: Vec<Vec<u8>>,
    /// The TLS private key (PKCS#8 DER).
    pub tls_key: Vec<u8>,
    trust_root_public: libsignal_protocol::PublicKey,
    server_certificate: ServerCertificate,
    server_key: PrivateKey,
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The key files, in the order they are moved into place: the marker,
/// `trust-root.pub`, last.
const KEY_FILES: [&str; 6] = [
    "tls-key.der",
    "tls-cert.der",
    "server-key.key",
    "server-cert.bin",
    "trust-root.key",
    "trust-root.pub",
];

/// Where a new set of keys is written before it is complete.
const PARTIAL: &str = "keys.partial";
/// The same set once complete and synced, while it is moved into place.
const READY: &str = "keys.ready";

/// Makes a new set of keys in `dir`, which holds none. They are written
/// and synced in [`PARTIAL`], which then becomes [`READY`] in one rename,
/// and are moved into place marker last ([`finish_keys`]). So a first
/// start cut short either left an incomplete [`PARTIAL`], which the next
/// start throws away, or a complete [`READY`], which it finishes moving:
/// never a half set, and never a second identity over the first.
fn create_keys<R: Rng + CryptoRng>(
    dir: &Path,
    hostnames: &[String],
    rng: &mut R,
) -> Result<(), IdentityError> {
    let partial = dir.join(PARTIAL);
    if partial.exists() {
        fs::remove_dir_all(&partial)?;
    }
    fs::create_dir(&partial)?;
    let tls = rcgen::generate_simple_self_signed(hostnames.to_vec())
        .map_err(|_| IdentityError::Certificate)?;
    let trust_root = KeyPair::generate(rng);
    let server_key = KeyPair::generate(rng);
    let certificate =
        ServerCertificate::new(1, server_key.public_key, &trust_root.private_key, rng)
            .map_err(|_| IdentityError::Certificate)?;
    let certificate = certificate
        .serialized()
        .map_err(|_| IdentityError::Certificate)?;
    write_private(
        &partial.join("tls-key.der"),
        &tls.signing_key.serialize_der(),
    )?;
    write_private(&partial.join("tls-cert.der"), tls.cert.der())?;
    write_private(
        &partial.join("server-key.key"),
        &server_key.private_key.serialize(),
    )?;
    write_private(&partial.join("server-cert.bin"), certificate)?;
    write_private(
        &partial.join("trust-root.key"),
        &trust_root.private_key.serialize(),
    )?;
    write_private(
        &partial.join("trust-root.pub"),
        &trust_root.public_key.serialize(),
    )?;
    fs::File::open(&partial)?.sync_all()?;
    fs::rename(&partial, dir.join(READY))?;
    fs::File::open(dir)?.sync_all()?;
    finish_keys(dir)
}

/// Moves a complete set of new keys from [`READY`] into place, marker last
/// (those already moved are skipped). A staged file whose place is taken
/// means the directory holds another identity: refused, nothing moved.
fn finish_keys(dir: &Path) -> Result<(), IdentityError> {
    let ready = dir.join(READY);
    for name in KEY_FILES {
        if ready.join(name).try_exists()? && dir.join(name).try_exists()? {
            return Err(IdentityError::Incomplete);
        }
    }
    for name in KEY_FILES {
        if ready.join(name).exists() {
            fs::rename(ready.join(name), dir.join(name))?;
        }
    }
    fs::remove_dir(&ready)?;
    // The renames are durable once the directory is.
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl RelayIdentity {
    /// Loads the keys from `dir`, creating them on first start. Returns
    /// whether they were created.
    pub fn load_or_create<R: Rng + CryptoRng>(
        dir: &Path,
        hostnames: &[String],
        rng: &mut R,
    ) -> Result<(Self, bool), IdentityError> {
        fs::create_dir_all(dir)?;
        if dir.join(READY).try_exists()? {
            finish_keys(dir)?;
        }
        // `trust-root.pub` comes last: its presence marks a complete set of
        // keys (the private trust root may have been moved offline).
        let created = !dir.join("trust-root.pub").try_exists()?;
        if created {
            // Key files without the marker, or a relay's database or invite
            // (written only after its keys), are an identity that lost a
            // file: never replaced by a new one.
            for name in KEY_FILES.iter().chain(&["relay.db", "invite.txt"]) {
                if dir.join(name).try_exists()? {
                    return Err(IdentityError::Incomplete);
                }
            }
            create_keys(dir, hostnames, rng)?;
        }
        let read = |name: &str| fs::read(dir.join(name));
        let identity = Self {
            tls_chain: vec![read("tls-cert.der")?],
            tls_key: read("tls-key.der")?,
            trust_root_public: libsignal_protocol::PublicKey::deserialize(&read("trust-root.pub")?)
                .map_err(|_| IdentityError::Damaged)?,
            server_certificate: ServerCertificate::deserialize(&read("server-cert.bin")?)
                .map_err(|_| IdentityError::Damaged)?,
            server_key: PrivateKey::deserialize(&read("server-key.key")?)
                .map_err(|_| IdentityError::Damaged)?,
        };
        identity.check_keys_belong_together(rng)?;
        // The private trust root, where it is still kept, must be the one
        // the invite names: it is what would certify a new server key. It
        // is read for this check only, not kept.
        let root_key = dir.join("trust-root.key");
        if root_key.try_exists()? {
            let private = PrivateKey::deserialize(&fs::read(root_key)?)
                .map_err(|_| IdentityError::Damaged)?;
            if private.public_key().ok() != Some(identity.trust_root_public) {
                return Err(IdentityError::Mismatched);
            }
        }
        Ok((identity, created))
    }

    /// Refuses a set of key files that do not belong together (say, restored
    /// from mixed backups): the server certificate must be the trust root's,
    /// for the server key, and that key must sign what it verifies. Nothing
    /// else would tell; every client would just refuse the relay.
    fn check_keys_belong_together<R: Rng + CryptoRng>(
        &self,
        rng: &mut R,
    ) -> Result<(), IdentityError> {
        let certified = self
            .server_certificate
            .validate(&self.trust_root_public)
            .unwrap_or(false);
        let certified_key = self
            .server_certificate
            .public_key()
            .map_err(|_| IdentityError::Damaged)?;
        let server_public = self
            .server_key
            .public_key()
            .map_err(|_| IdentityError::Damaged)?;
        let probe = [0u8; CHANNEL_BINDING_LEN];
        let signs = self.sign_channel(&probe, rng).is_some_and(|signature| {
            let certificate = self.server_certificate().unwrap_or_default();
            verify_channel(&self.trust_root_public, &certificate, &probe, &signature)
        });
        if certified && certified_key == server_public && signs {
            Ok(())
        } else {
            Err(IdentityError::Mismatched)
        }
    }

    /// Uses an operator's certificate chain and key instead of the
    /// self-signed pair.
    pub fn with_tls(mut self, chain: Vec<Vec<u8>>, key: Vec<u8>) -> Self {
        self.tls_chain = chain;
        self.tls_key = key;
        self
    }

    /// The invite clients need to reach this relay at `host:port`.
    pub fn invite(&self, host: &str, port: u16) -> RelayInvite {
        RelayInvite {
            host: host.to_owned(),
            port,
            trust_root: self.trust_root_public,
        }
    }

    /// The server certificate (signed by the trust root), which every
    /// challenge carries.
    pub fn server_certificate(&self) -> Result<Vec<u8>, IdentityError> {
        Ok(self
            .server_certificate
            .serialized()
            .map_err(|_| IdentityError::Damaged)?
            .to_vec())
    }

    /// The server key's signature over one connection's TLS exporter value
    /// (see `sotto_core::relay::wire::sign_channel`).
    pub fn sign_channel<R: Rng + CryptoRng>(
        &self,
        binding: &[u8; CHANNEL_BINDING_LEN],
        rng: &mut R,
    ) -> Option<Vec<u8>> {
        sign_channel(&self.server_key, binding, rng).ok()
    }

    /// Issues a sender certificate for an authenticated account.
    pub fn issue_sender_certificate<R: Rng + CryptoRng>(
        &self,
        identity: &IdentityKey,
        now: SystemTime,
        rng: &mut R,
    ) -> Option<SenderCertificate> {
        let expires = now + SENDER_CERTIFICATE_LIFETIME;
        let expires_ms = expires
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()?
            .as_millis() as u64;
        SenderCertificate::new(
            account_uuid(identity),
            None,
            *identity.public_key(),
            sotto_core::DEVICE_ID,
            Timestamp::from_epoch_millis(expires_ms),
            self.server_certificate.clone(),
            &self.server_key,
            rng,
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_that_do_not_belong_together_are_refused() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        let hosts = ["localhost".to_owned()];
        let mut rng = rand::rng();
        RelayIdentity::load_or_create(&one, &hosts, &mut rng)?;
        RelayIdentity::load_or_create(&two, &hosts, &mut rng)?;
        // Loads again as it was made, without the trust root's private key.
        fs::remove_file(one.join("trust-root.key"))?;
        let (_, created) = RelayIdentity::load_or_create(&one, &hosts, &mut rng)?;
        assert!(!created);
        // Another relay's server certificate, then its server key.
        fs::copy(two.join("trust-root.key"), one.join("trust-root.key"))?;
        let refused = RelayIdentity::load_or_create(&one, &hosts, &mut rng);
        assert!(
            matches!(refused, Err(IdentityError::Mismatched)),
            "trust-root.key"
        );
        fs::remove_file(one.join("trust-root.key"))?;
        for file in ["server-cert.bin", "server-key.key"] {
            let mine = fs::read(one.join(file))?;
            fs::write(one.join(file), fs::read(two.join(file))?)?;
            let refused = RelayIdentity::load_or_create(&one, &hosts, &mut rng);
            assert!(matches!(refused, Err(IdentityError::Mismatched)), "{file}");
            fs::write(one.join(file), mine)?;
        }
        RelayIdentity::load_or_create(&one, &hosts, &mut rng)?;
        Ok(())
    }

    #[test]
    fn a_first_start_that_was_cut_short_is_finished_and_an_identity_never_replaced(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let hosts = ["localhost".to_owned()];
        let mut rng = rand::rng();
        // Cut short while writing: the incomplete set is thrown away.
        fs::create_dir(dir.path().join(PARTIAL))?;
        fs::write(dir.path().join(PARTIAL).join("server-key.key"), b"half")?;
        let (first, created) = RelayIdentity::load_or_create(dir.path(), &hosts, &mut rng)?;
        assert!(created);
        assert!(!dir.path().join(PARTIAL).exists());

        // Cut short while moving a complete set into place: finished, with
        // the identity that was made.
        let staged = dir.path().join(READY);
        fs::create_dir(&staged)?;
        for name in ["server-cert.bin", "trust-root.key", "trust-root.pub"] {
            fs::rename(dir.path().join(name), staged.join(name))?;
        }
        let (again, created) = RelayIdentity::load_or_create(dir.path(), &hosts, &mut rng)?;
        assert!(!created);
        assert_eq!(again.invite("h", 1), first.invite("h", 1));
        assert!(!staged.exists());

        // Staged keys whose places are taken: another identity, refused.
        fs::create_dir(&staged)?;
        fs::write(staged.join("server-key.key"), b"stray")?;
        let refused = RelayIdentity::load_or_create(dir.path(), &hosts, &mut rng);
        assert!(matches!(refused, Err(IdentityError::Incomplete)));
        fs::remove_dir_all(&staged)?;

        // The marker lost, the rest there: refused, nothing replaced.
        let before = fs::read(dir.path().join("server-key.key"))?;
        fs::remove_file(dir.path().join("trust-root.pub"))?;
        let refused = RelayIdentity::load_or_create(dir.path(), &hosts, &mut rng);
        assert!(matches!(refused, Err(IdentityError::Incomplete)));
        assert_eq!(fs::read(dir.path().join("server-key.key"))?, before);

        // Every key lost, the relay's database still there: refused too.
        let lost = tempfile::tempdir()?;
        fs::write(lost.path().join("relay.db"), b"")?;
        let refused = RelayIdentity::load_or_create(lost.path(), &hosts, &mut rng);
        assert!(matches!(refused, Err(IdentityError::Incomplete)));
        Ok(())
    }
}
