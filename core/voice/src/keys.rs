//! SRTP master keys, as the call set-up hands them to the media pipeline.
//!
//! One [`SrtpKeys`] per direction: the call layer (`sotto-core::call`)
//! derives them from the Signal session; this crate only uses them.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Master key length of AEAD_AES_256_GCM (RFC 7714 §12).
pub const MASTER_KEY_LEN: usize = 32;
/// Master salt length of the AEAD profiles (RFC 7714 §12).
pub const MASTER_SALT_LEN: usize = 12;

/// The SRTP master key and salt of one direction of a call
/// (AEAD_AES_256_GCM, RFC 7714).
///
/// Wiped on drop; `Debug` never prints the bytes. There is deliberately no
/// `PartialEq`: comparing secrets with `==` is not constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SrtpKeys {
    /// The 256-bit master key.
    pub master_key: [u8; MASTER_KEY_LEN],
    /// The 96-bit master salt.
    pub master_salt: [u8; MASTER_SALT_LEN],
}

impl std::fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpKeys { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_bytes() {
        let keys = SrtpKeys {
            master_key: [0xab; 32],
            master_salt: [0xcd; 12],
        };
        let shown = format!("{keys:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }
}
