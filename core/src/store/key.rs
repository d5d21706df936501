//! The 256-bit database key, and how a passphrase becomes one.
//!
//! On Android the raw key is generated once and wrapped by the Keystore; on
//! desktop it is derived from the user's passphrase with Argon2id and a
//! random salt kept in a file beside the database. The key never leaves this
//! type except as the SQLCipher `PRAGMA key` literal, which is itself wiped.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Length of the passphrase salt in bytes.
pub const SALT_LEN: usize = 16;

/// Argon2id cost: 64 MiB, 3 passes, one lane. This follows RFC 9106's second
/// recommended option (§4) and costs a few hundred milliseconds per unlock.
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;
const ARGON2_LANES: u32 = 1;

/// A raw 256-bit SQLCipher key. Wiped on drop; never printed.
#[derive(Clone, Zeroize, zeroize::ZeroizeOnDrop)]
pub struct DatabaseKey([u8; 32]);

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(..)")
    }
}

impl DatabaseKey {
    /// Wraps raw key bytes, e.g. unwrapped from the Android Keystore.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Derives the key from a passphrase with Argon2id.
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8; SALT_LEN]) -> Result<Self> {
        let params = argon2::Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, Some(32))
            .map_err(|_| Error::KeyDerivation)?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        argon
            .hash_password_into(passphrase, salt, &mut out)
            .map_err(|_| Error::KeyDerivation)?;
        Ok(Self(out))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The value for `PRAGMA key`: a blob literal, so SQLCipher uses the key
    /// as is and skips its own PBKDF2 (SQLCipher API, "Raw Key Data").
    pub(crate) fn pragma_literal(&self) -> Zeroizing<String> {
        let mut literal = Zeroizing::new(String::with_capacity(67));
        literal.push_str("x'");
        literal.push_str(&Zeroizing::new(hex::encode(self.0)));
        literal.push('\'');
        literal
    }
}

/// Where the passphrase salt for a database lives: `<database>.salt`.
pub fn salt_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".salt");
    PathBuf::from(name)
}

/// Reads the salt beside `database`.
pub(crate) fn read_salt(database: &Path) -> Result<[u8; SALT_LEN]> {
    let bytes = fs::read(salt_path(database)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::MissingSalt,
        _ => Error::Io(e),
    })?;
    bytes.try_into().map_err(|_| Error::MissingSalt)
}

/// Creates a new random salt beside `database`, durably, refusing to replace
/// one that exists (that would lock the user out of their database).
pub(crate) fn create_salt<R: RngCore + CryptoRng>(
    database: &Path,
    rng: &mut R,
) -> Result<[u8; SALT_LEN]> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(salt_path(database))?;
    file.write_all(&salt)?;
    file.sync_all()?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let key = DatabaseKey::from_bytes([0xAB; 32]);
        assert_eq!(format!("{key:?}"), "DatabaseKey(..)");
    }

    #[test]
    fn passphrase_derivation_depends_on_passphrase_and_salt() -> Result<()> {
        let a = DatabaseKey::from_passphrase(b"correct horse", &[1; SALT_LEN])?;
        let b = DatabaseKey::from_passphrase(b"correct horse", &[1; SALT_LEN])?;
        let c = DatabaseKey::from_passphrase(b"correct horse", &[2; SALT_LEN])?;
        let d = DatabaseKey::from_passphrase(b"wrong horse", &[1; SALT_LEN])?;
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), c.as_bytes());
        assert_ne!(a.as_bytes(), d.as_bytes());
        Ok(())
    }

    #[test]
    fn pragma_literal_is_a_blob_literal() {
        let key = DatabaseKey::from_bytes([0x0F; 32]);
        let literal = key.pragma_literal();
        assert_eq!(literal.len(), 67);
        assert!(literal.starts_with("x'0f0f"));
        assert!(literal.ends_with('\''));
    }
}
