//! `SmsCodec`: one payload (an SMS frame, see [`super::frame`]) as a
//! sequence of SMS, and one SMS back into a [`Segment`].
//!
//! Text SMS (the default):
//! ```text
//! %S <radix-82 digits, least significant first, of: chunk (1..=121 bytes) || header (4 bytes)>
//!    header = message id (18 bits) | part index (7 bits) | part count − 1 (7 bits)
//! ```
//! Every part is a standalone 160-character SMS: Sotto does its own
//! segmentation, so it never needs the carrier's concatenation header (and
//! its 7 septets per part) and never depends on the carrier reassembling.
//!
//! The digit order is chosen for carriers that cut texts short: they cut
//! the tail, which holds the most significant digits, and since
//! 2^c divides 82^c, the low `c` bits of the number survive whenever `c`
//! digits do. The header sits in the low 32 bits, so a cut part still names
//! its message and index. Every part but the last carries exactly
//! [`TEXT_CHUNK`] bytes, so a cut middle part is refused on arrival; a cut
//! last part is caught by the message id, which is the first 18 bits of the
//! payload's SHA-256, and the reassembler prefers the longest copy.
//!
//! Data SMS (optional, where the carrier delivers them): header then chunk
//! as raw octets, sent to [`DATA_PORT`], [`DATA_CHUNK`] bytes a part.

use sha2::{Digest, Sha256};

use super::alphabet;
use crate::error::{Error, Result};

/// What every Sotto text SMS starts with ("Sotto, version 1").
pub const PREFIX: &str = "%S";
/// Characters of one single-segment GSM-7 SMS.
pub const SMS_CHARS: usize = 160;
/// Bytes of Sotto's own part header.
pub const HEADER_BYTES: usize = 4;
/// The most parts one payload may take.
pub const MAX_PARTS: usize = 128;
/// Payload bytes carried by every text part but the last.
pub const TEXT_CHUNK: usize = 121;
/// The application port Sotto's data SMS go to.
pub const DATA_PORT: u16 = 6284;
/// User-data octets of a data SMS with a 16-bit port header (140 − 7).
pub const DATA_SMS_BYTES: usize = 133;
/// Payload bytes carried by every data part but the last.
pub const DATA_CHUNK: usize = DATA_SMS_BYTES - HEADER_BYTES;
/// The largest payload one message may carry as text SMS.
pub const MAX_TEXT_PAYLOAD: usize = MAX_PARTS * TEXT_CHUNK;

const ID_BITS: u32 = 18;
/// The fewest alphabet characters after the prefix that make a text "ours".
/// One is enough: a part cut down to a few characters must not be shown,
/// and people do not start texts with `%S` followed by no space at all.
const MIN_DIGITS: usize = 1;

// The chunk sizes follow from the alphabet; checked here so that a change
// there cannot silently break the wire format.
const _: () = assert!(SMS_CHARS - PREFIX.len() == 158);

/// A message's id on the wire: the first 18 bits of its payload's SHA-256.
/// The same payload sent twice has the same id, so a re-sent copy fills the
/// gaps of the first one; the receiver checks it after reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireId(pub u32);

impl WireId {
    /// The id of `payload`.
    pub fn of(payload: &[u8]) -> Self {
        let digest = Sha256::digest(payload);
        let top = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Self(top >> (32 - ID_BITS))
    }
}

/// One part of a message, as parsed from one SMS.
#[derive(Clone, PartialEq, Eq)]
pub struct Segment {
    /// The message it belongs to.
    pub id: WireId,
    /// Its position, from 0.
    pub index: u8,
    /// How many parts the message has (1..=128).
    pub count: u8,
    /// Its share of the payload.
    pub chunk: Vec<u8>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Segment({:?}, {}/{}, {} bytes)",
            self.id,
            self.index + 1,
            self.count,
            self.chunk.len()
        )
    }
}

/// What an incoming text SMS is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextSms {
    /// An ordinary text: show it.
    Plain,
    /// A Sotto part.
    Segment(Segment),
    /// Text in Sotto's form (prefix, then only alphabet characters) that does
    /// not parse: a part the carrier truncated or changed. It is never shown
    /// as text; the message it belonged to ends incomplete.
    Damaged,
}

/// Encodes payloads as SMS and parses SMS back into segments.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmsCodec;

impl SmsCodec {
    /// The text SMS that carry `payload`, in order.
    pub fn to_texts(payload: &[u8]) -> Result<Vec<String>> {
        Self::split(payload, TEXT_CHUNK)?
            .map(|(header, chunk)| {
                let mut bytes = Vec::with_capacity(HEADER_BYTES + chunk.len());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(&header);
                let mut digits = String::with_capacity(SMS_CHARS);
                alphabet::encode(&bytes, &mut digits);
                // Least significant digit first (see the module docs).
                Ok(PREFIX.chars().chain(digits.chars().rev()).collect())
            })
            .collect()
    }

    /// The data SMS (user data for [`DATA_PORT`]) that carry `payload`.
    pub fn to_data(payload: &[u8]) -> Result<Vec<Vec<u8>>> {
        Self::split(payload, DATA_CHUNK)?
            .map(|(header, chunk)| Ok([&header[..], chunk].concat()))
            .collect()
    }

    /// How many text SMS `payload_len` bytes take.
    pub fn text_parts(payload_len: usize) -> usize {
        payload_len.div_ceil(TEXT_CHUNK).max(1)
    }

    /// Classifies an incoming text SMS.
    pub fn parse_text(text: &str) -> TextSms {
        let Some(digits) = text.strip_prefix(PREFIX) else {
            return TextSms::Plain;
        };
        let digits = digits.as_bytes();
        if digits.len() < MIN_DIGITS || !digits.iter().all(|&c| alphabet::digit_of(c).is_some()) {
            return TextSms::Plain;
        }
        if digits.len() > SMS_CHARS - PREFIX.len() {
            return TextSms::Damaged;
        }
        let most_significant_first: Vec<u8> = digits.iter().rev().copied().collect();
        let parsed = alphabet::decode(&most_significant_first).and_then(|bytes| {
            let (chunk, header) = bytes.split_last_chunk::<HEADER_BYTES>()?;
            Self::parse(*header, chunk, TEXT_CHUNK).ok()
        });
        match parsed {
            Some(segment) => TextSms::Segment(segment),
            None => TextSms::Damaged,
        }
    }

    /// Parses the user data of a data SMS received on [`DATA_PORT`].
    pub fn parse_data(data: &[u8]) -> Result<Segment> {
        if data.len() > DATA_SMS_BYTES {
            return Err(Error::MalformedSms("data SMS too long"));
        }
        let (header, chunk) = data
            .split_first_chunk::<HEADER_BYTES>()
            .ok_or(Error::MalformedSms("part shorter than its header"))?;
        Self::parse(*header, chunk, DATA_CHUNK)
    }

    fn split(
        payload: &[u8],
        chunk_len: usize,
    ) -> Result<impl Iterator<Item = ([u8; HEADER_BYTES], &[u8])>> {
        if payload.is_empty() {
            return Err(Error::MalformedSms("empty payload"));
        }
        let count = payload.len().div_ceil(chunk_len);
        if count > MAX_PARTS {
            return Err(Error::MessageTooLong);
        }
        let id = WireId::of(payload);
        Ok(payload
            .chunks(chunk_len)
            .enumerate()
            .map(move |(index, chunk)| {
                let header = id.0 << (32 - ID_BITS) | (index as u32) << 7 | (count as u32 - 1);
                (header.to_be_bytes(), chunk)
            }))
    }

    fn parse(header: [u8; HEADER_BYTES], chunk: &[u8], chunk_len: usize) -> Result<Segment> {
        let header = u32::from_be_bytes(header);
        let id = WireId(header >> (32 - ID_BITS));
        let index = (header >> 7 & 0x7F) as u8;
        let count = (header & 0x7F) as u8 + 1;
        if index >= count {
            return Err(Error::MalformedSms("part index beyond the part count"));
        }
        let last = index + 1 == count;
        let length_ok = if last {
            !chunk.is_empty() && chunk.len() <= chunk_len
        } else {
            chunk.len() == chunk_len
        };
        if !length_ok {
            return Err(Error::MalformedSms("part has the wrong length"));
        }
        Ok(Segment {
            id,
            index,
            count,
            chunk: chunk.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn join(segments: &[Segment]) -> Vec<u8> {
        segments.iter().flat_map(|s| s.chunk.clone()).collect()
    }

    #[test]
    fn every_text_part_is_one_gsm7_sms() -> Result<()> {
        let payload: Vec<u8> = (0..1000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let texts = SmsCodec::to_texts(&payload)?;
        assert_eq!(texts.len(), SmsCodec::text_parts(payload.len()));
        for (i, text) in texts.iter().enumerate() {
            assert!(text.len() <= SMS_CHARS);
            if i + 1 < texts.len() {
                assert_eq!(text.len(), SMS_CHARS);
            }
            assert_eq!(crate::sms::gsm7::segment_count(text), 1);
            assert!(text.chars().all(crate::sms::gsm7::is_basic));
        }
        let segments: Vec<Segment> = texts
            .iter()
            .map(|t| match SmsCodec::parse_text(t) {
                TextSms::Segment(s) => s,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(join(&segments), payload);
        assert!(segments.iter().all(|s| s.id == WireId::of(&payload)));
        Ok(())
    }

    #[test]
    fn plain_texts_that_look_like_the_prefix_stay_plain() {
        for text in [
            "",
            "%S",
            "%Sorry, I'm late",
            "%S hello there",
            "%Sok, see you at 5",
            "% Sotto",
            "S%abcdefgh",
            "%S€€€€€€€€€€",
            "%Sabcdéfghijk",
        ] {
            assert_eq!(SmsCodec::parse_text(text), TextSms::Plain, "{text}");
        }
    }

    #[test]
    fn truncated_and_altered_parts_are_damaged_not_plain() -> Result<()> {
        let texts = SmsCodec::to_texts(&[42u8; 300])?;
        let first = &texts[0];
        assert_eq!(
            SmsCodec::parse_text(&first[..first.len() - 1]),
            TextSms::Damaged
        );
        assert_eq!(SmsCodec::parse_text(&first[..100]), TextSms::Damaged);
        assert_eq!(SmsCodec::parse_text(&first[..3]), TextSms::Damaged);
        let longer = format!("{first}z");
        assert_eq!(SmsCodec::parse_text(&longer), TextSms::Damaged);
        Ok(())
    }

    #[test]
    fn a_cut_last_part_still_names_its_message() -> Result<()> {
        let payload: Vec<u8> = (0..300u32).map(|i| (i * 13) as u8).collect();
        let texts = SmsCodec::to_texts(&payload)?;
        let last = texts.last().expect("parts");
        let mut named = 0;
        for keep in PREFIX.len() + 40..last.len() {
            if let TextSms::Segment(s) = SmsCodec::parse_text(&last[..keep]) {
                assert_eq!(s.id, WireId::of(&payload));
                assert_eq!((s.index, s.count), (2, 3));
                named += 1;
            }
        }
        assert!(named > 0);
        Ok(())
    }

    #[test]
    fn data_parts_round_trip() -> Result<()> {
        let payload = vec![9u8; 400];
        let parts = SmsCodec::to_data(&payload)?;
        assert_eq!(parts.len(), 4);
        assert!(parts.iter().all(|p| p.len() <= DATA_SMS_BYTES));
        let segments = parts
            .iter()
            .map(|p| SmsCodec::parse_data(p))
            .collect::<Result<Vec<_>>>()?;
        assert_eq!(join(&segments), payload);
        assert!(SmsCodec::parse_data(&parts[0][..100]).is_err());
        Ok(())
    }

    #[test]
    fn too_long_and_empty_payloads_are_refused() {
        assert!(SmsCodec::to_texts(&[]).is_err());
        assert!(matches!(
            SmsCodec::to_texts(&vec![0; MAX_TEXT_PAYLOAD + 1]),
            Err(Error::MessageTooLong)
        ));
        assert_eq!(
            SmsCodec::to_texts(&vec![0; MAX_TEXT_PAYLOAD])
                .map(|t| t.len())
                .ok(),
            Some(MAX_PARTS)
        );
    }

    #[test]
    fn chunk_constants_match_the_alphabet() {
        assert_eq!(
            alphabet::capacity(SMS_CHARS - PREFIX.len()),
            HEADER_BYTES + TEXT_CHUNK
        );
    }

    proptest! {
        #[test]
        fn texts_round_trip(payload in proptest::collection::vec(any::<u8>(), 1..2000)) {
            let texts = SmsCodec::to_texts(&payload).expect("fits");
            let mut segments = Vec::new();
            for text in &texts {
                match SmsCodec::parse_text(text) {
                    TextSms::Segment(s) => segments.push(s),
                    other => prop_assert!(false, "{:?}", other),
                }
            }
            prop_assert_eq!(join(&segments), payload);
        }

        #[test]
        fn parse_text_never_panics(text in "\\PC{0,200}") {
            let _ = SmsCodec::parse_text(&text);
        }

        #[test]
        fn parse_text_never_panics_on_our_alphabet(digits in "[!-z]{0,200}") {
            let text = format!("{PREFIX}{digits}");
            if let TextSms::Segment(s) = SmsCodec::parse_text(&text) {
                prop_assert!(s.index < s.count);
                prop_assert!(!s.chunk.is_empty() && s.chunk.len() <= TEXT_CHUNK);
            }
        }

        #[test]
        fn parse_data_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = SmsCodec::parse_data(&data);
        }
    }
}
