//! The GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1) and how plain
//! texts split into SMS segments.
//!
//! A text whose every character is in the basic table or its extension
//! table goes as GSM-7: 160 septets in one SMS, or 153 per segment once the
//! concatenation header (TS 23.040 §9.2.3.24.1, 6 octets) is needed; an
//! extension character costs two septets and is never split from its escape.
//! Any other character turns the whole text into UCS-2: 70 UTF-16 units in
//! one SMS, 67 per segment, surrogate pairs kept together.

/// The basic table, in septet order (0x1B, the escape to the extension
/// table, is shown as a space and excluded by [`is_basic`]).
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table characters (each sent as escape + septet).
const EXTENSION: [char; 10] = ['\u{000C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// Septets of a single-segment GSM-7 SMS.
pub const SINGLE_SEPTETS: usize = 160;
/// Septets per segment of a concatenated GSM-7 SMS.
pub const MULTI_SEPTETS: usize = 153;
/// UTF-16 units of a single-segment UCS-2 SMS.
pub const SINGLE_UCS2: usize = 70;
/// UTF-16 units per segment of a concatenated UCS-2 SMS.
pub const MULTI_UCS2: usize = 67;

/// Whether `c` is one septet of the basic table.
pub fn is_basic(c: char) -> bool {
    // The escape slot holds a space placeholder; space itself is 0x20.
    BASIC.contains(&c)
}

/// Septets `c` costs in GSM-7: 1 (basic), 2 (extension) or `None` (needs UCS-2).
pub fn septets(c: char) -> Option<usize> {
    if is_basic(c) {
        Some(1)
    } else if EXTENSION.contains(&c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding a phone picks for a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 7-bit default alphabet.
    Gsm7,
    /// UCS-2 (UTF-16), for texts with any character outside GSM-7.
    Ucs2,
}

/// The encoding of `text`.
pub fn encoding_of(text: &str) -> Encoding {
    if text.chars().all(|c| septets(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// Splits `text` into the segments a phone sends it as (one if it fits in a
/// single SMS). The empty text is one empty segment.
pub fn split(text: &str) -> (Encoding, Vec<String>) {
    let encoding = encoding_of(text);
    let (single, multi) = match encoding {
        Encoding::Gsm7 => (SINGLE_SEPTETS, MULTI_SEPTETS),
        Encoding::Ucs2 => (SINGLE_UCS2, MULTI_UCS2),
    };
    let cost = |c: char| match encoding {
        Encoding::Gsm7 => septets(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    };
    let total: usize = text.chars().map(cost).sum();
    if total <= single {
        return (encoding, vec![text.to_owned()]);
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for c in text.chars() {
        let c_cost = cost(c);
        if used + c_cost > multi {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(c);
        used += c_cost;
    }
    parts.push(current);
    (encoding, parts)
}

/// How many SMS segments `text` takes as a plain SMS.
pub fn segment_count(text: &str) -> usize {
    split(text).1.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_segment_counts_follow_ts_23_040() {
        assert_eq!(segment_count(""), 1);
        assert_eq!(segment_count(&"a".repeat(160)), 1);
        assert_eq!(segment_count(&"a".repeat(161)), 2);
        assert_eq!(segment_count(&"a".repeat(306)), 2);
        assert_eq!(segment_count(&"a".repeat(307)), 3);
        // Extension characters cost two septets.
        assert_eq!(segment_count(&"€".repeat(80)), 1);
        assert_eq!(segment_count(&"€".repeat(81)), 2);
        // One emoji makes the whole text UCS-2.
        let mixed = format!("{}😀", "a".repeat(68));
        assert_eq!(encoding_of(&mixed), Encoding::Ucs2);
        assert_eq!(segment_count(&mixed), 1);
        assert_eq!(segment_count(&"a".repeat(71)), 1);
        assert_eq!(segment_count(&format!("{}é", "a".repeat(70))), 1);
        assert_eq!(segment_count(&format!("{}ł", "a".repeat(70))), 2);
    }

    #[test]
    fn splitting_keeps_the_text_and_never_splits_a_character() {
        let text = format!("{}€{}", "x".repeat(152), "y".repeat(200));
        let (_, parts) = split(&text);
        assert_eq!(parts.concat(), text);
        assert_eq!(parts[0].chars().count(), 152);
        let emoji = "😀".repeat(40);
        let (encoding, parts) = split(&emoji);
        assert_eq!(encoding, Encoding::Ucs2);
        assert_eq!(parts.concat(), emoji);
        assert!(parts.iter().all(|p| p.encode_utf16().count() <= MULTI_UCS2));
    }
}
