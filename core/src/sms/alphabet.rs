//! Bytes as text that every carrier passes unchanged: a radix-82 encoding
//! over the GSM-7-safe alphabet.
//!
//! The alphabet is the characters that are in the GSM 03.38 *basic* table
//! (one septet each, so a text never falls into UCS-2 and never costs an
//! escape septet) **and** sit at the same code point in ASCII and GSM-7.
//! That leaves out, on purpose:
//! - the extension table (`[ ] { } \ ^ ~ |` and `€`): two septets each;
//! - `@` (GSM 0x00, which C-string gateways truncate at), `$` (GSM 0x02,
//!   turned into `¤` by gateways that map bytes one to one) and `_` (GSM
//!   0x11, turned into `§` the same way);
//! - space and line breaks, which gateways trim, fold or rewrite;
//! - the accented and Greek letters of the basic table, which CDMA and
//!   ASCII-only gateways strip or replace.
//!
//! 82 characters remain: `log2 82 = 6.36` bits per character, 6 % denser
//! than base64 and within 1 % of base85 (which needs `[`, `\` or `^`).
//!
//! The encoding treats a byte string of length `L` as one big-endian number
//! and writes it in base 82 with exactly `chars_for(L)` digits, the fewest
//! that can hold any `L`-byte value. Because one byte needs more than one
//! digit, `chars_for` is strictly increasing, so the digit count alone tells
//! the decoder `L`; counts that no `L` maps to, and digit strings whose value
//! does not fit in `L` bytes, are refused. Every byte string therefore has
//! exactly one text form and every text has at most one byte form.

/// The 82 characters, in digit order.
pub const ALPHABET: &[u8; 82] =
    b"!\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const RADIX: u32 = ALPHABET.len() as u32;

/// The longest byte string encoded in one call; segments are far shorter.
/// It bounds the quadratic conversion cost on hostile input.
pub const MAX_BYTES: usize = 256;

/// The digit value of a character, or `None` if it is not in the alphabet.
pub fn digit_of(c: u8) -> Option<u8> {
    DIGITS[usize::from(c)]
}

const DIGITS: [Option<u8>; 256] = {
    let mut table = [None; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = Some(i as u8);
        i += 1;
    }
    table
};

/// How many characters `len` bytes take: the smallest `c` with
/// `82^c >= 256^len`.
pub fn chars_for(len: usize) -> usize {
    // 82^c is never a power of two, so 8·len / log2(82) is never an integer
    // and f64 rounding cannot land on the wrong side for the lengths we use;
    // the exact conversion is checked against this in the tests.
    (len as f64 * 8.0 / f64::from(RADIX).log2()).ceil() as usize
}

/// How many bytes a text of `chars` characters holds, if any length maps to
/// exactly that many characters.
pub fn bytes_for(chars: usize) -> Option<usize> {
    let guess = (chars as f64 * f64::from(RADIX).log2() / 8.0) as usize;
    (guess.saturating_sub(1)..=guess + 1).find(|&len| chars_for(len) == chars)
}

/// The largest byte count that fits in `chars` characters.
pub fn capacity(chars: usize) -> usize {
    let mut len = (chars as f64 * f64::from(RADIX).log2() / 8.0) as usize + 1;
    while chars_for(len) > chars {
        len -= 1;
    }
    len
}

/// Encodes `bytes` (at most [`MAX_BYTES`]) as `chars_for(bytes.len())`
/// alphabet characters.
pub fn encode(bytes: &[u8], out: &mut String) {
    debug_assert!(bytes.len() <= MAX_BYTES);
    let width = chars_for(bytes.len());
    let mut number = bytes.to_vec();
    let mut digits = vec![0u8; width];
    // Schoolbook division of the base-256 number by 82, least significant
    // digit first.
    for slot in digits.iter_mut().rev() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = remainder << 8 | u32::from(*byte);
            *byte = (acc / RADIX) as u8;
            remainder = acc % RADIX;
        }
        *slot = remainder as u8;
    }
    out.extend(digits.iter().map(|&d| char::from(ALPHABET[usize::from(d)])));
}

/// Decodes text made by [`encode`]. `None` if a character is outside the
/// alphabet, the length is not one `encode` makes, or the value does not
/// fit (a non-canonical form).
pub fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let len = bytes_for(text.len())?;
    if len > MAX_BYTES {
        return None;
    }
    let mut number = vec![0u8; len];
    for &c in text {
        let mut carry = u32::from(digit_of(c)?);
        for byte in number.iter_mut().rev() {
            let acc = u32::from(*byte) * RADIX + carry;
            *byte = acc as u8;
            carry = acc >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn alphabet_is_distinct_gsm7_basic_and_ascii_identical() {
        let mut seen = std::collections::HashSet::new();
        for &c in ALPHABET {
            assert!(seen.insert(c));
            assert!(crate::sms::gsm7::is_basic(char::from(c)));
            assert!(c.is_ascii_graphic());
            assert!(!b"@$_".contains(&c));
        }
    }

    #[test]
    fn chars_for_matches_exact_conversion() {
        // The digits of the largest L-byte value, without leading zeros,
        // count exactly chars_for(L).
        for len in 1..=MAX_BYTES {
            let mut text = String::new();
            encode(&vec![0xFF; len], &mut text);
            assert_ne!(text.as_bytes()[0], ALPHABET[0], "len {len}");
            assert_eq!(bytes_for(text.len()), Some(len));
            assert_eq!(decode(text.as_bytes()), Some(vec![0xFF; len]));
        }
    }

    #[test]
    fn known_densities() {
        assert_eq!(chars_for(4), 6);
        assert_eq!(capacity(158), 125);
        assert_eq!(chars_for(125), 158);
        assert_eq!(capacity(160), 127);
    }

    #[test]
    fn non_canonical_and_foreign_text_is_refused() {
        // 'z' is the highest digit; six of them exceed 2^32.
        assert_eq!(decode(b"zzzzzz"), None);
        assert_eq!(decode(b"!!!! !"), None);
        assert_eq!(decode(b"!!!!@!"), None);
        // Five characters is no byte length's width.
        assert_eq!(bytes_for(5), None);
        assert_eq!(decode(b"!!!!!"), None);
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut text = String::new();
            encode(&bytes, &mut text);
            prop_assert_eq!(text.len(), chars_for(bytes.len()));
            prop_assert_eq!(decode(text.as_bytes()), Some(bytes));
        }

        #[test]
        fn decode_never_panics(text in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&text);
        }
    }
}
