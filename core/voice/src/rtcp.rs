//! RTCP sender and receiver reports (RFC 3550 §6.4) and the reception
//! statistics behind them (RFC 3550 Appendix A.3 and A.8).
//!
//! What this module owns: the report wire format and the per-stream loss,
//! jitter and round-trip arithmetic. What it does not own: protection
//! (`srtp`) and what the sender does with the numbers (`adapt`).

use crate::error::{Error, Result};

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24-bit signed on the wire).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received (0: none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// The sender-info part of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp of the report.
    pub ntp: u64,
    /// The RTP timestamp matching `ntp`.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packets: u32,
    /// Payload octets sent so far.
    pub octets: u32,
}

/// One SR or RR.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// Present in an SR.
    pub sender_info: Option<SenderInfo>,
    /// Reception report blocks.
    pub blocks: Vec<ReportBlock>,
}

impl Report {
    /// Serialise as an RFC 3550 §6.1 compound packet: the SR or RR, then an
    /// SDES with the CNAME (a random per-call token, never a user name).
    pub fn write_compound(&self, cname: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let blocks = self.blocks.len().min(31);
        let words = 1 + if self.sender_info.is_some() { 5 } else { 0 } + 6 * blocks;
        out.push(0x80 | blocks as u8);
        out.push(if self.sender_info.is_some() {
            PT_SR
        } else {
            PT_RR
        });
        out.extend_from_slice(&(words as u16).to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        if let Some(info) = &self.sender_info {
            out.extend_from_slice(&info.ntp.to_be_bytes());
            out.extend_from_slice(&info.rtp_timestamp.to_be_bytes());
            out.extend_from_slice(&info.packets.to_be_bytes());
            out.extend_from_slice(&info.octets.to_be_bytes());
        }
        for b in &self.blocks[..blocks] {
            out.extend_from_slice(&b.ssrc.to_be_bytes());
            let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff;
            out.extend_from_slice(&((u32::from(b.fraction_lost) << 24) | lost).to_be_bytes());
            out.extend_from_slice(&b.highest_sequence.to_be_bytes());
            out.extend_from_slice(&b.jitter.to_be_bytes());
            out.extend_from_slice(&b.last_sr.to_be_bytes());
            out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
        }
        // SDES: one chunk, CNAME item, end item, padded to 32 bits.
        let cname = &cname[..cname.len().min(255)];
        let chunk = 4 + 2 + cname.len() + 1;
        let padded = chunk.div_ceil(4) * 4;
        out.push(0x81);
        out.push(PT_SDES);
        out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.push(1);
        out.push(cname.len() as u8);
        out.extend_from_slice(cname);
        out.resize(out.len() + padded - chunk + 1, 0);
        out
    }

    /// Parse the SRs and RRs of a compound packet; other packet types
    /// (SDES, BYE, feedback) are skipped.
    pub fn parse_compound(mut bytes: &[u8]) -> Result<Vec<Report>> {
        let mut reports = Vec::new();
        if bytes.is_empty() {
            return Err(Error::Malformed("empty RTCP packet"));
        }
        while !bytes.is_empty() {
            if bytes.len() < 4 || bytes[0] >> 6 != 2 {
                return Err(Error::Malformed("bad RTCP header"));
            }
            let len = 4 * (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])) + 1);
            let packet = bytes
                .get(..len)
                .ok_or(Error::Malformed("RTCP length runs past the packet"))?;
            bytes = &bytes[len..];
            let count = usize::from(packet[0] & 0x1f);
            let sender = match packet[1] {
                PT_SR => true,
                PT_RR => false,
                _ => continue,
            };
            let need = 8 + if sender { 20 } else { 0 } + 24 * count;
            if packet.len() < need {
                return Err(Error::Malformed("RTCP report shorter than its blocks"));
            }
            let word = |at: usize| {
                u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]])
            };
            let mut at = 8;
            let sender_info = if sender {
                at += 20;
                Some(SenderInfo {
                    ntp: (u64::from(word(8)) << 32) | u64::from(word(12)),
                    rtp_timestamp: word(16),
                    packets: word(20),
                    octets: word(24),
                })
            } else {
                None
            };
            let mut blocks = Vec::with_capacity(count);
            for _ in 0..count {
                let lost = word(at + 4);
                // Sign-extend the 24-bit cumulative loss.
                let cumulative_lost = ((lost << 8) as i32) >> 8;
                blocks.push(ReportBlock {
                    ssrc: word(at),
                    fraction_lost: (lost >> 24) as u8,
                    cumulative_lost,
                    highest_sequence: word(at + 8),
                    jitter: word(at + 12),
                    last_sr: word(at + 16),
                    delay_since_last_sr: word(at + 20),
                });
                at += 24;
            }
            reports.push(Report {
                ssrc: word(4),
                sender_info,
                blocks,
            });
        }
        Ok(reports)
    }
}

/// Convert seconds since the session epoch to a 64-bit NTP-format value.
pub fn ntp_from_secs(secs: f64) -> u64 {
    (secs.max(0.0) * 4_294_967_296.0) as u64
}

/// Middle 32 bits of an NTP timestamp, as echoed in LSR (RFC 3550 §6.4.1).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Round-trip time from a report block received at NTP time `now_ntp`
/// (RFC 3550 §6.4.1: A − LSR − DLSR), in seconds; `None` without an SR echo.
pub fn round_trip_secs(block: &ReportBlock, now_ntp: u64) -> Option<f64> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = ntp_middle(now_ntp)
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    // A negative difference (clock oddities) wraps to a huge value: reject.
    (rtt < 0x8000_0000).then(|| f64::from(rtt) / 65_536.0)
}

/// What a receiver keeps about the stream it receives (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceptionStats {
    started: bool,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    last_transit: Option<i64>,
    /// Jitter in timestamp units (RFC 3550 A.8, kept as a float).
    jitter: f64,
    /// Middle 32 bits and session time of the last SR received.
    last_sr: Option<(u32, f64)>,
}

impl ReceptionStats {
    /// Record an authenticated packet: its sequence number, RTP timestamp
    /// and arrival time in the same 48 kHz units.
    pub fn on_packet(&mut self, seq: u16, rtp_timestamp: u32, arrival: i64) {
        if !self.started {
            self.started = true;
            self.base_seq = u32::from(seq);
            self.max_seq = seq;
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if seq < self.max_seq {
                    self.cycles += 1 << 16;
                }
                self.max_seq = seq;
            }
        }
        self.received += 1;
        let transit = arrival - i64::from(rtp_timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Remember an SR from the peer, received at session time `now_secs`.
    pub fn on_sender_report(&mut self, info: &SenderInfo, now_secs: f64) {
        self.last_sr = Some((ntp_middle(info.ntp), now_secs));
    }

    /// Interarrival jitter in seconds.
    pub fn jitter_secs(&self) -> f64 {
        self.jitter / 48_000.0
    }

    /// Packets lost since the start (expected minus received).
    pub fn cumulative_lost(&self) -> i64 {
        if !self.started {
            return 0;
        }
        i64::from(self.extended_max()) - i64::from(self.base_seq) + 1 - i64::from(self.received)
    }

    fn extended_max(&self) -> u32 {
        self.cycles + u32::from(self.max_seq)
    }

    /// The report block for this stream, closing the current interval.
    pub fn report_block(&mut self, ssrc: u32, now_secs: f64) -> Option<ReportBlock> {
        if !self.started {
            return None;
        }
        let expected = self.extended_max() - self.base_seq + 1;
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((mid, at)) => (mid, ((now_secs - at).max(0.0) * 65_536.0) as u32),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_sequence: self.extended_max(),
            jitter: self.jitter as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_round_trip() {
        let report = Report {
            ssrc: 7,
            sender_info: Some(SenderInfo {
                ntp: 0x0102_0304_0506_0708,
                rtp_timestamp: 9,
                packets: 10,
                octets: 11,
            }),
            blocks: vec![ReportBlock {
                ssrc: 8,
                fraction_lost: 25,
                cumulative_lost: -3,
                highest_sequence: 70_000,
                jitter: 480,
                last_sr: 0x0304_0506,
                delay_since_last_sr: 65_536,
            }],
        };
        let bytes = report.write_compound(b"abcdef");
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(Report::parse_compound(&bytes).unwrap(), vec![report]);
    }

    #[test]
    fn loss_fraction_and_wrap() {
        let mut s = ReceptionStats::default();
        let mut ts = 0u32;
        for seq in 65_530u16..=65_535 {
            s.on_packet(seq, ts, i64::from(ts));
            ts += 960;
        }
        // Every fourth packet after the wrap is lost.
        for seq in 0u16..40 {
            if seq % 4 != 0 {
                s.on_packet(seq, ts, i64::from(ts));
            }
            ts += 960;
        }
        let block = s.report_block(1, 1.0).unwrap();
        assert_eq!(block.highest_sequence, 65_536 + 39);
        assert_eq!(block.cumulative_lost, 10);
        assert_eq!(block.fraction_lost, (10 * 256 / 46) as u8);
        assert_eq!(block.jitter, 0);
    }

    #[test]
    fn nothing_received_nothing_lost() {
        let mut s = ReceptionStats::default();
        assert_eq!(s.cumulative_lost(), 0);
        assert_eq!(s.report_block(1, 1.0), None);
    }

    #[test]
    fn round_trip_time_from_lsr_and_dlsr() {
        let block = ReportBlock {
            last_sr: ntp_middle(ntp_from_secs(10.0)),
            delay_since_last_sr: 65_536 / 2,
            ..ReportBlock::default()
        };
        let rtt = round_trip_secs(&block, ntp_from_secs(10.6)).unwrap();
        assert!((rtt - 0.1).abs() < 0.001, "{rtt}");
    }
}
