//! Length hiding for plaintexts: Padmé padding with an ISO/IEC 7816-4 marker.
//!
//! Before encryption a Content is extended with one `0x80` byte and then
//! zero bytes so that its *ciphertext* has the Padmé length of `len + 2`
//! (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
//! Communication with PURBs", PETS 2019, §4) rounded up to the cipher's
//! 16-byte block. Padmé leaks at most O(log log L) bits of the length and
//! costs at most 12 % (much less for long messages), which matters when the
//! ciphertext has to fit in SMS segments. The receiver strips the trailing
//! zeros and the marker.
//!
//! libsignal encrypts with AES-256-CBC and PKCS#7, which always adds at
//! least one byte. Padding the plaintext to one byte short of a block
//! boundary lets PKCS#7 add exactly that byte; padding it to the boundary
//! (as this module did before) made PKCS#7 add a whole block of 16 bytes
//! that hid nothing. The ciphertext length is still a function of the
//! Padmé length alone, so nothing more leaks. Receivers need no change:
//! they strip whatever zeros follow the marker.

use crate::error::{Error, Result};

/// The smallest padded length: every short message looks the same.
const MIN_PADDED_LEN: usize = 32;

/// The Padmé length for `len` bytes (never below [`MIN_PADDED_LEN`]).
pub fn padded_len(len: usize) -> usize {
    let len = len.max(MIN_PADDED_LEN);
    // E = floor(log2 L), S = floor(log2 E) + 1; keep only the top S bits of L
    // significant by rounding up the low E - S bits.
    let e = usize::BITS - 1 - len.leading_zeros();
    let s = u32::BITS - e.leading_zeros();
    let last_bits = e.saturating_sub(s);
    let mask = (1usize << last_bits) - 1;
    (len + mask) & !mask
}

/// The block of the cipher that follows (AES-256-CBC with PKCS#7).
const CIPHER_BLOCK: usize = 16;

/// The length [`pad`] gives `len` bytes: one short of a block boundary, so
/// that PKCS#7 adds one byte and the ciphertext is the Padmé length of
/// `len + 2` (the content, the marker, the PKCS#7 byte) rounded up to a
/// whole block.
pub fn padded_plaintext_len(len: usize) -> usize {
    padded_len(len + 2).next_multiple_of(CIPHER_BLOCK) - 1
}

/// Pads `plaintext` for encryption.
pub fn pad(plaintext: &[u8]) -> Vec<u8> {
    let target = padded_plaintext_len(plaintext.len());
    let mut out = Vec::with_capacity(target);
    out.extend_from_slice(plaintext);
    out.push(0x80);
    out.resize(target, 0);
    out
}

/// Removes the padding added by [`pad`].
pub fn unpad(padded: &[u8]) -> Result<&[u8]> {
    let marker = padded
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(Error::MalformedContent("padding has no marker"))?;
    if padded[marker] != 0x80 {
        return Err(Error::MalformedContent("padding marker is wrong"));
    }
    Ok(&padded[..marker])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_padme_lengths() {
        // Small values round to the minimum; larger ones keep few significant bits.
        assert_eq!(padded_len(1), 32);
        assert_eq!(padded_len(33), 36);
        assert_eq!(padded_len(95), 96);
        assert_eq!(padded_len(100), 104);
        assert_eq!(padded_len(1000), 1024);
        assert_eq!(padded_len(1025), 1088);
    }

    #[test]
    fn ciphertexts_fill_whole_blocks() {
        // A 60-character text's Content (91 bytes) was padded to 96, which
        // AES-CBC with PKCS#7 made 112; now the ciphertext is 96.
        assert_eq!(padded_plaintext_len(91), 95);
        assert_eq!(padded_plaintext_len(0), 31);
        assert_eq!(padded_plaintext_len(30), 31);
        assert_eq!(padded_plaintext_len(31), 47);
        assert_eq!(padded_plaintext_len(124), 127);
    }

    #[test]
    fn padding_from_before_still_reads() {
        // Senders of the earlier padding (to the Padmé length itself).
        let mut old = b"hello".to_vec();
        old.push(0x80);
        old.resize(padded_len(6), 0);
        assert_eq!(unpad(&old).expect("valid padding"), b"hello");
    }

    #[test]
    fn unpad_rejects_garbage() {
        assert!(unpad(&[]).is_err());
        assert!(unpad(&[0, 0, 0]).is_err());
        assert!(unpad(&[1, 2, 3]).is_err());
    }

    proptest! {
        #[test]
        fn pad_round_trips(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let padded = pad(&data);
            prop_assert_eq!(padded.len(), padded_plaintext_len(data.len()));
            // PKCS#7 then adds one byte, never a whole block.
            prop_assert_eq!((padded.len() + 1) % CIPHER_BLOCK, 0);
            prop_assert!(padded.len() + 1 >= padded_len(data.len() + 2));
            // Padmé's bound: at most 12 % over the content, marker and
            // PKCS#7 byte, plus the rounding to a block.
            let ciphertext = padded.len() + 1;
            prop_assert!(ciphertext <= ((data.len() + 2) * 112 / 100 + CIPHER_BLOCK).max(32));
            prop_assert_eq!(unpad(&padded).expect("valid padding"), &data[..]);
        }

        #[test]
        fn padme_overhead_is_bounded(len in 32usize..1_000_000) {
            let padded = padded_len(len);
            prop_assert!(padded >= len);
            // Padmé's bound: at most 12 % above the input length (paper, §4.3).
            prop_assert!((padded - len) as f64 <= 0.12 * len as f64 + 1.0);
        }

        #[test]
        fn unpad_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = unpad(&data);
        }
    }
}
