//! Where the store's key comes from, never from the command line:
//!
//! 1. `--key-file FILE`: a raw 256-bit key, 64 hex digits (or 32 raw
//!    bytes). `sotto init` creates the file with a new random key when it
//!    does not exist;
//! 2. the `SOTTO_PASSPHRASE` environment variable;
//! 3. a prompt on the terminal (twice on `init`).

use std::io::Write;
use std::path::Path;

use sotto_core::app::StoreKey;
use sotto_core::store::DatabaseKey;
use zeroize::Zeroizing;

use crate::failure::{code, Failure};

/// The environment variable a passphrase may come from.
pub const PASSPHRASE_ENV: &str = "SOTTO_PASSPHRASE";

/// Whether the key is being chosen (`init`) or used.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new account: a missing key file is created, a prompt asks twice.
    Create,
    /// An existing account.
    Open,
}

/// The store key from the first source that has one.
pub fn store_key(key_file: Option<&Path>, purpose: Purpose) -> Result<StoreKey, Failure> {
    if let Some(path) = key_file {
        return key_from_file(path, purpose).map(StoreKey::Raw);
    }
    if let Some(passphrase) = std::env::var_os(PASSPHRASE_ENV) {
        let passphrase = Zeroizing::new(passphrase.into_encoded_bytes());
        return checked(passphrase).map(StoreKey::Passphrase);
    }
    prompt(purpose).map(StoreKey::Passphrase)
}

fn checked(passphrase: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if passphrase.is_empty() {
        return Err(Failure::new(
            code::KEY,
            "no_key",
            "the passphrase is empty",
            "choose a passphrase (a few words is best)",
        ));
    }
    Ok(passphrase)
}

fn no_terminal() -> Failure {
    Failure::new(
        code::KEY,
        "no_key",
        "no passphrase: there is no terminal to ask on",
        "set SOTTO_PASSPHRASE in the environment, or pass --key-file",
    )
}

fn prompt(purpose: Purpose) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let ask = |question: &str| {
        rpassword::prompt_password(question)
            .map(|text| Zeroizing::new(text.into_bytes()))
            .map_err(|_| no_terminal())
    };
    let first = checked(ask("Passphrase: ")?)?;
    if purpose == Purpose::Create {
        let again = ask("Passphrase again: ")?;
        if *again != *first {
            return Err(Failure::new(
                code::KEY,
                "no_key",
                "the two passphrases differ",
                "run the command again",
            ));
        }
    }
    Ok(first)
}

/// Reads a raw key: 64 hex digits (surrounding whitespace ignored) or 32
/// raw bytes.
fn key_from_file(path: &Path, purpose: Purpose) -> Result<DatabaseKey, Failure> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && purpose == Purpose::Create => {
            return create_key_file(path);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::new(
                code::KEY,
                "no_key",
                "the key file does not exist",
                "pass the --key-file the account was created with",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    warn_if_readable_by_others(path);
    let bad = || {
        Failure::new(
            code::KEY,
            "bad_key_file",
            "the key file must hold 64 hex digits or 32 bytes",
            "pass the --key-file the account was created with",
        )
    };
    let text = std::str::from_utf8(&bytes).map(str::trim).unwrap_or("");
    let mut key = Zeroizing::new([0u8; 32]);
    if text.len() == 64 && hex::decode_to_slice(text, &mut *key).is_ok() {
        return Ok(DatabaseKey::from_bytes(*key));
    }
    if bytes.len() == 32 {
        key.copy_from_slice(&bytes);
        return Ok(DatabaseKey::from_bytes(*key));
    }
    Err(bad())
}

/// Creates a key file with a fresh random key, readable by the owner only.
fn create_key_file(path: &Path) -> Result<DatabaseKey, Failure> {
    let key = DatabaseKey::generate(&mut rand::rng());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let text = Zeroizing::new(hex::encode(key.as_bytes()));
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(key)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!("warning: the key file is readable by other users; `chmod 600` it");
            }
        }
    }
}
