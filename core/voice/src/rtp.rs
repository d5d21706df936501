//! RTP packets (RFC 3550 §5.1) carrying Opus (RFC 7587), optionally inside
//! RED (RFC 2198) with copies of earlier frames.
//!
//! What this module owns: building and parsing the plain (unprotected) RTP
//! packets and the RED payload format. What it does not own: encryption
//! (`srtp`) and which frames to repeat (`adapt`).

use crate::error::{Error, Result};
use crate::srtp::rtp_header_len;

/// RTP clock rate of Opus, whatever the audio bandwidth (RFC 7587 §4.1).
pub const OPUS_CLOCK_RATE: u32 = 48_000;

/// The fields of an RTP header this pipeline uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit: set on the first packet of a talkspurt (RFC 7587 §4.2).
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp in 48 kHz units.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Write the 12-octet header (no CSRCs, no extension) and the payload.
    pub fn write(&self, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(((self.marker as u8) << 7) | (self.payload_type & 0x7f));
        p.extend_from_slice(&self.sequence.to_be_bytes());
        p.extend_from_slice(&self.timestamp.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    /// Parse a plain RTP packet; returns the header and the payload with
    /// any RTP padding (RFC 3550 §5.1, P bit) removed.
    pub fn parse(packet: &[u8]) -> Result<(RtpHeader, &[u8])> {
        let header_len = rtp_header_len(packet)?;
        let mut end = packet.len();
        if packet[0] & 0x20 != 0 {
            let pad = usize::from(packet[end - 1]);
            if pad == 0 || header_len + pad > end {
                return Err(Error::Malformed("RTP padding longer than the payload"));
            }
            end -= pad;
        }
        let header = RtpHeader {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7f,
            sequence: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
        };
        Ok((header, &packet[header_len..end]))
    }
}

/// One block of a RED payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedBlock<'a> {
    /// Payload type of the block (the Opus payload type here).
    pub payload_type: u8,
    /// How far the block's timestamp lies behind the packet's (0 for the
    /// primary block).
    pub timestamp_offset: u16,
    /// The encoded frame.
    pub data: &'a [u8],
}

/// Largest timestamp offset a RED header can carry (14 bits).
pub const RED_MAX_OFFSET: u16 = (1 << 14) - 1;
/// Largest redundant block a RED header can describe (10 bits).
pub const RED_MAX_BLOCK_LEN: usize = (1 << 10) - 1;

/// Build a RED payload (RFC 2198 §3): the redundant blocks, oldest first,
/// then the primary block. Redundant blocks that do not fit the header
/// fields are left out rather than sent wrong.
pub fn write_red(primary_pt: u8, primary: &[u8], redundant: &[RedBlock<'_>]) -> Vec<u8> {
    let fitting: Vec<&RedBlock<'_>> = redundant
        .iter()
        .filter(|b| b.timestamp_offset <= RED_MAX_OFFSET && b.data.len() <= RED_MAX_BLOCK_LEN)
        .collect();
    let body: usize = fitting.iter().map(|b| b.data.len()).sum();
    let mut out = Vec::with_capacity(4 * fitting.len() + 1 + body + primary.len());
    for block in &fitting {
        // F=1 | block PT (7) | timestamp offset (14) | block length (10)
        let word = (1u32 << 31)
            | (u32::from(block.payload_type & 0x7f) << 24)
            | (u32::from(block.timestamp_offset) << 10)
            | block.data.len() as u32;
        out.extend_from_slice(&word.to_be_bytes());
    }
    // F=0 | primary PT: the last header is one octet.
    out.push(primary_pt & 0x7f);
    for block in &fitting {
        out.extend_from_slice(block.data);
    }
    out.extend_from_slice(primary);
    out
}

/// Parse a RED payload into its blocks, redundant ones first, primary last.
pub fn parse_red(payload: &[u8]) -> Result<Vec<RedBlock<'_>>> {
    let mut headers = Vec::new();
    let mut at = 0;
    loop {
        let first = *payload
            .get(at)
            .ok_or(Error::Malformed("RED header runs past the payload"))?;
        if first & 0x80 == 0 {
            headers.push((first & 0x7f, 0u16, None));
            at += 1;
            break;
        }
        let word = payload
            .get(at..at + 4)
            .ok_or(Error::Malformed("RED header runs past the payload"))?;
        let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        headers.push((
            ((word >> 24) & 0x7f) as u8,
            ((word >> 10) & 0x3fff) as u16,
            Some((word & 0x3ff) as usize),
        ));
        at += 4;
    }
    let mut blocks = Vec::with_capacity(headers.len());
    for (payload_type, timestamp_offset, len) in headers {
        let len = len.unwrap_or(payload.len().saturating_sub(at));
        let data = payload
            .get(at..at + len)
            .ok_or(Error::Malformed("RED block runs past the payload"))?;
        at += len;
        blocks.push(RedBlock {
            payload_type,
            timestamp_offset,
            data,
        });
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = RtpHeader {
            marker: true,
            payload_type: 111,
            sequence: 0xfffe,
            timestamp: 0xdead_beef,
            ssrc: 42,
        };
        let p = h.write(b"abc");
        assert_eq!(RtpHeader::parse(&p).unwrap(), (h, &b"abc"[..]));
    }

    #[test]
    fn red_round_trip_and_rfc2198_layout() {
        let red = write_red(
            111,
            b"primary",
            &[
                RedBlock {
                    payload_type: 111,
                    timestamp_offset: 1920,
                    data: b"older",
                },
                RedBlock {
                    payload_type: 111,
                    timestamp_offset: 960,
                    data: b"old",
                },
            ],
        );
        // First header: F=1, PT 111, offset 1920, length 5.
        assert_eq!(&red[..4], &[0xef, 0x1e, 0x00, 0x05]);
        assert_eq!(red[8], 111);
        let blocks = parse_red(&red).unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].data, b"older");
        assert_eq!(blocks[1].timestamp_offset, 960);
        assert_eq!(blocks[2].data, b"primary");
        assert_eq!(blocks[2].timestamp_offset, 0);
    }

    #[test]
    fn truncated_red_is_an_error() {
        let red = write_red(
            111,
            b"p",
            &[RedBlock {
                payload_type: 111,
                timestamp_offset: 960,
                data: b"redundant",
            }],
        );
        assert!(parse_red(&red[..7]).is_err());
        assert!(parse_red(&[0x80, 0]).is_err());
        assert!(parse_red(&[]).is_err());
    }
}
