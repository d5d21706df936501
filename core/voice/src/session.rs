//! One call's media in both directions: capture frames in, protected
//! datagrams out; datagrams in, playout frames out.
//!
//! `MediaSession` is what the call layer drives. It is transport-agnostic
//! (bytes in, bytes out) and clock-agnostic (every call takes `now`), and
//! knows nothing of the Signal session: the call layer hands it one
//! [`SrtpKeys`] per direction.
//!
//! Sent datagrams are SRTP packets carrying Opus (payload type
//! `opus_payload_type`) or, while the peer reports loss, RED
//! (`red_payload_type`) with the primary frame and copies of earlier ones;
//! and SRTCP compound packets (SR + RR + SDES) every `feedback_interval`.
//! RTP and RTCP share one port (RFC 5761) and are told apart by RFC 5761
//! §4 and RFC 7983 rules.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::adapt::{RateController, SendPolicy};
use crate::codec::{check_frame, OpusEncoder, FRAME_SAMPLES, MAX_BITRATE, MIN_BITRATE};
use crate::error::{Error, Result};
use crate::jitter::{FrameSource, JitterBuffer, JitterConfig, JitterStats};
use crate::keys::SrtpKeys;
use crate::rtcp::{ntp_from_secs, round_trip_secs, ReceptionStats, Report, SenderInfo};
use crate::rtp::{parse_red, write_red, RedBlock, RtpHeader};
use crate::srtp::{SrtpReceiver, SrtpSender};

/// Settings of one media session.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    /// Our SSRC (random per call; the call layer may choose it).
    pub ssrc: u32,
    /// Lowest Opus bitrate the adaptation may choose (bit/s).
    pub min_bitrate: u32,
    /// Highest Opus bitrate, also the starting one (bit/s).
    pub max_bitrate: u32,
    /// Opus discontinuous transmission: send almost nothing in silence.
    pub dtx: bool,
    /// Opus encoder complexity, 0–10 (9 by default; 5–7 saves a quarter
    /// to a third of the encoder's CPU on a slow phone).
    pub complexity: u8,
    /// Send RED copies when the peer reports loss.
    pub loss_protection: bool,
    /// Dynamic payload type of Opus (RFC 7587 §7).
    pub opus_payload_type: u8,
    /// Dynamic payload type of RED (RFC 2198 §5).
    pub red_payload_type: u8,
    /// How often an RTCP report is sent.
    pub feedback_interval: Duration,
    /// Jitter buffer tuning.
    pub jitter: JitterConfig,
}

impl MediaConfig {
    /// Defaults with a random SSRC.
    pub fn with_random_ssrc() -> Self {
        MediaConfig {
            ssrc: rand::rng().random(),
            ..MediaConfig::default()
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            ssrc: 0x5077_0001,
            min_bitrate: MIN_BITRATE,
            max_bitrate: MAX_BITRATE,
            dtx: false,
            complexity: 9,
            loss_protection: true,
            opus_payload_type: 111,
            red_payload_type: 63,
            feedback_interval: Duration::from_secs(1),
            jitter: JitterConfig::default(),
        }
    }
}

/// What a received datagram was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An audio packet, now in the jitter buffer.
    Media,
    /// A report from the peer, applied to the send policy.
    Feedback,
}

/// How a datagram is classified before decryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramKind {
    /// SRTP.
    Rtp,
    /// SRTCP.
    Rtcp,
}

/// Classify a datagram by RFC 7983 (first octet 128–191 is RTP/RTCP) and
/// RFC 5761 §4 (second octet 192–223 is an RTCP packet type).
pub fn classify(datagram: &[u8]) -> Result<DatagramKind> {
    match datagram {
        [first, second, ..] if (128..=191).contains(first) => {
            if (192..=223).contains(second) {
                Ok(DatagramKind::Rtcp)
            } else {
                Ok(DatagramKind::Rtp)
            }
        }
        _ => Err(Error::NotMedia),
    }
}

/// Counters of a session, both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Bytes of SRTP sent (UDP payload; add 28 per packet for IPv4+UDP).
    pub bytes_sent: u64,
    /// Frames not sent because DTX found them silent.
    pub dtx_frames: u64,
    /// RTCP reports sent.
    pub reports_sent: u64,
    /// Authentic audio packets received.
    pub packets_received: u64,
    /// Datagrams rejected (bad authentication, replay, malformed, …).
    pub packets_rejected: u64,
    /// Of which replays.
    pub replays_rejected: u64,
    /// Loss fraction the peer reported last.
    pub remote_loss: f64,
    /// Interarrival jitter the peer reported last, seconds.
    pub remote_jitter_secs: f64,
    /// Round-trip time from the last report, seconds.
    pub rtt_secs: Option<f64>,
    /// Packets lost in the stream we receive (RFC 3550 cumulative).
    pub local_cumulative_lost: i64,
    /// Interarrival jitter of the stream we receive, seconds.
    pub local_jitter_secs: f64,
    /// The send policy in force.
    pub bitrate: u32,
    /// RED depth in force.
    pub red_depth: usize,
    /// Jitter buffer counters.
    pub jitter: JitterStats,
}

/// A call's media pipeline. See the module documentation.
pub struct MediaSession {
    config: MediaConfig,
    epoch: Instant,
    srtp_out: SrtpSender,
    srtp_in: SrtpReceiver,
    encoder: OpusEncoder,
    jitter: JitterBuffer,
    controller: RateController,
    policy: SendPolicy,
    reception: ReceptionStats,
    cname: Vec<u8>,
    sequence: u16,
    timestamp: u32,
    /// Recently sent frames (timestamp, Opus bytes) for RED copies.
    history: VecDeque<(u32, Vec<u8>)>,
    /// The previous frame was not sent (DTX): the next one starts a talkspurt.
    in_silence: bool,
    muted: bool,
    playout_gain: f32,
    next_report: Instant,
    rtp_payload_octets: u32,
    silence: Vec<i16>,
    stats: MediaStats,
}

impl MediaSession {
    /// A session sending under `send` and receiving under `receive`,
    /// starting at `now`, drawing its random initial values from the OS.
    pub fn new(
        config: MediaConfig,
        send: SrtpKeys,
        receive: SrtpKeys,
        now: Instant,
    ) -> Result<Self> {
        Self::with_rng(config, send, receive, now, &mut rand::rng())
    }

    /// As [`MediaSession::new`], with the random initial sequence number,
    /// timestamp and CNAME drawn from `rng` (seeded in tests).
    pub fn with_rng<R: Rng + ?Sized>(
        config: MediaConfig,
        send: SrtpKeys,
        receive: SrtpKeys,
        now: Instant,
        rng: &mut R,
    ) -> Result<Self> {
        if config.opus_payload_type > 127
            || config.red_payload_type > 127
            || config.opus_payload_type == config.red_payload_type
            || (64..=95).contains(&config.opus_payload_type)
            || (64..=95).contains(&config.red_payload_type)
        {
            // RFC 5761 §4: payload types 64–95 collide with RTCP when muxed.
            return Err(Error::Config("payload types must differ and avoid 64–95"));
        }
        if config.min_bitrate > config.max_bitrate || config.feedback_interval.is_zero() {
            return Err(Error::Config("bitrate bounds or feedback interval"));
        }
        let controller = RateController::new(
            config.loss_protection,
            config.min_bitrate,
            config.max_bitrate,
        );
        let policy = controller.policy();
        let cname: [u8; 12] = rng.random();
        let mut encoder = OpusEncoder::new(policy.bitrate, config.dtx)?;
        encoder.set_complexity(config.complexity)?;
        let session = MediaSession {
            encoder,
            jitter: JitterBuffer::new(config.jitter)?,
            srtp_out: SrtpSender::new(&send)?,
            srtp_in: SrtpReceiver::new(&receive)?,
            controller,
            policy,
            reception: ReceptionStats::default(),
            // A random token: RFC 7022 style, so CNAME reveals no identity.
            cname: cname
                .iter()
                .map(|b| b"0123456789abcdef"[usize::from(b & 15)])
                .collect(),
            // RFC 3550 §5.1: random initial sequence number and timestamp.
            // The sequence starts in the lower half so the first packets
            // never look like a rollover to a receiver.
            sequence: rng.random_range(0..0x8000),
            timestamp: rng.random(),
            history: VecDeque::new(),
            in_silence: true,
            muted: false,
            playout_gain: 1.0,
            next_report: now + config.feedback_interval,
            rtp_payload_octets: 0,
            silence: vec![0; FRAME_SAMPLES],
            epoch: now,
            config,
            stats: MediaStats::default(),
        };
        Ok(session)
    }

    /// Mute or unmute the microphone: muted frames are encoded as silence
    /// (so timing and DTX carry on) and never carry captured audio.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Whether the microphone is muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Playout gain, 0.0 (speaker off) to 4.0.
    pub fn set_playout_gain(&mut self, gain: f32) {
        self.playout_gain = gain.clamp(0.0, 4.0);
    }

    fn secs(&self, now: Instant) -> f64 {
        now.saturating_duration_since(self.epoch).as_secs_f64()
    }

    /// Encode one captured 20 ms frame (960 samples, 48 kHz mono) and
    /// return the SRTP datagram to send, or `None` when DTX sends nothing.
    pub fn send_frame(&mut self, pcm: &[i16], _now: Instant) -> Result<Option<Vec<u8>>> {
        check_frame(pcm.len())?;
        let input = if self.muted { &self.silence[..] } else { pcm };
        let frame_ts = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        let opus = self.encoder.encode(input)?;
        if self.config.dtx && opus.len() <= 2 {
            self.stats.dtx_frames += 1;
            self.in_silence = true;
            self.history.clear();
            return Ok(None);
        }
        let opus = opus.to_vec();
        let depth = self.policy.red_depth;
        let (payload_type, payload) = if depth == 0 {
            (self.config.opus_payload_type, opus.clone())
        } else {
            let copies: Vec<RedBlock<'_>> = self
                .history
                .iter()
                .rev()
                .take(depth)
                .rev()
                .filter_map(|(ts, data)| {
                    let offset = frame_ts.wrapping_sub(*ts);
                    (offset <= u32::from(crate::rtp::RED_MAX_OFFSET)).then_some(RedBlock {
                        payload_type: self.config.opus_payload_type,
                        timestamp_offset: offset as u16,
                        data,
                    })
                })
                .collect();
            (
                self.config.red_payload_type,
                write_red(self.config.opus_payload_type, &opus, &copies),
            )
        };
        let header = RtpHeader {
            // RFC 7587 §4.2 / RFC 3551 §4.1: marker on a talkspurt's first packet.
            marker: self.in_silence,
            payload_type,
            sequence: self.sequence,
            timestamp: frame_ts,
            ssrc: self.config.ssrc,
        };
        self.in_silence = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.history.push_back((frame_ts, opus));
        while self.history.len() > 2 {
            self.history.pop_front();
        }
        let packet = self.srtp_out.protect_rtp(&header.write(&payload))?;
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += packet.len() as u64;
        self.rtp_payload_octets = self.rtp_payload_octets.wrapping_add(payload.len() as u32);
        Ok(Some(packet))
    }

    /// Take one received datagram (SRTP or SRTCP). Errors leave the session
    /// as it was: a bad packet is dropped and counted, nothing else.
    pub fn receive_datagram(&mut self, datagram: &[u8], now: Instant) -> Result<Received> {
        let result = match classify(datagram) {
            Ok(DatagramKind::Rtp) => self.receive_rtp(datagram, now).map(|()| Received::Media),
            Ok(DatagramKind::Rtcp) => self
                .receive_rtcp(datagram, now)
                .map(|()| Received::Feedback),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            // The error names the failed check only; no packet bytes.
            tracing::debug!(error = %e, "media datagram dropped");
            self.stats.packets_rejected += 1;
            if *e == Error::Replayed {
                self.stats.replays_rejected += 1;
            }
        }
        result
    }

    fn receive_rtp(&mut self, datagram: &[u8], now: Instant) -> Result<()> {
        let plain = self.srtp_in.unprotect_rtp(datagram)?;
        let (header, payload) = RtpHeader::parse(&plain)?;
        let arrival = self.secs(now);
        let (primary, redundant) = if header.payload_type == self.config.opus_payload_type {
            (payload, Vec::new())
        } else if header.payload_type == self.config.red_payload_type {
            let mut blocks = parse_red(payload)?;
            let primary = blocks.pop().ok_or(Error::Malformed("RED without blocks"))?;
            if primary.payload_type != self.config.opus_payload_type {
                return Err(Error::UnknownPayloadType);
            }
            let redundant: Vec<(u16, &[u8])> = blocks
                .iter()
                .filter(|b| {
                    b.payload_type == self.config.opus_payload_type && b.timestamp_offset > 0
                })
                .map(|b| (b.timestamp_offset, b.data))
                .collect();
            (primary.data, redundant)
        } else {
            return Err(Error::UnknownPayloadType);
        };
        self.jitter
            .insert(header.timestamp, primary, &redundant, arrival)?;
        self.reception.on_packet(
            header.sequence,
            header.timestamp,
            (arrival * 48_000.0) as i64,
        );
        self.stats.packets_received += 1;
        Ok(())
    }

    fn receive_rtcp(&mut self, datagram: &[u8], now: Instant) -> Result<()> {
        let plain = self.srtp_in.unprotect_rtcp(datagram)?;
        let reports = Report::parse_compound(&plain)?;
        let now_secs = self.secs(now);
        for report in reports {
            if let Some(info) = &report.sender_info {
                self.reception.on_sender_report(info, now_secs);
            }
            let ours = self.config.ssrc;
            for block in report.blocks.iter().filter(|b| b.ssrc == ours) {
                let loss = f64::from(block.fraction_lost) / 256.0;
                self.stats.remote_loss = loss;
                self.stats.remote_jitter_secs = f64::from(block.jitter) / 48_000.0;
                if let Some(rtt) = round_trip_secs(block, ntp_from_secs(now_secs)) {
                    self.stats.rtt_secs = Some(rtt);
                }
                let policy = self.controller.on_report(loss);
                self.apply(policy)?;
            }
        }
        Ok(())
    }

    fn apply(&mut self, policy: SendPolicy) -> Result<()> {
        if policy != self.policy {
            tracing::debug!(
                bitrate = policy.bitrate,
                red_depth = policy.red_depth,
                opus_fec_loss = policy.expected_loss_percent,
                "send policy changed"
            );
        }
        self.encoder.set_bitrate(policy.bitrate)?;
        self.encoder
            .set_expected_loss(policy.expected_loss_percent)?;
        self.policy = policy;
        Ok(())
    }

    /// Fill `out` (960 samples) with the next 20 ms of received audio.
    pub fn next_playout_frame(&mut self, out: &mut [i16]) -> Result<FrameSource> {
        let source = self.jitter.pull(out)?;
        if self.playout_gain != 1.0 {
            for s in out.iter_mut() {
                *s = (f32::from(*s) * self.playout_gain).clamp(-32768.0, 32767.0) as i16;
            }
        }
        Ok(source)
    }

    /// The SRTCP report to send now, if one is due.
    pub fn poll_feedback(&mut self, now: Instant) -> Result<Option<Vec<u8>>> {
        if now < self.next_report {
            return Ok(None);
        }
        self.next_report = now + self.config.feedback_interval;
        let now_secs = self.secs(now);
        let sender_info = (self.stats.packets_sent > 0).then(|| SenderInfo {
            ntp: ntp_from_secs(now_secs),
            rtp_timestamp: self.timestamp,
            packets: self.stats.packets_sent as u32,
            octets: self.rtp_payload_octets,
        });
        let blocks = match self.srtp_in.remote_ssrc() {
            Some(remote) => self
                .reception
                .report_block(remote, now_secs)
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        let report = Report {
            ssrc: self.config.ssrc,
            sender_info,
            blocks,
        };
        let packet = self
            .srtp_out
            .protect_rtcp(&report.write_compound(&self.cname))?;
        self.stats.reports_sent += 1;
        Ok(Some(packet))
    }

    /// Counters of both directions.
    pub fn stats(&self) -> MediaStats {
        let mut s = self.stats;
        s.local_cumulative_lost = self.reception.cumulative_lost();
        s.local_jitter_secs = self.reception.jitter_secs();
        s.bitrate = self.policy.bitrate;
        s.red_depth = self.policy.red_depth;
        s.jitter = self.jitter.stats();
        s
    }

    /// Samples of encoder look-ahead (for latency accounting).
    pub fn encoder_lookahead(&mut self) -> Result<usize> {
        self.encoder.lookahead()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The call layer runs a session on its own task or thread.
    #[test]
    fn session_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<MediaSession>();
    }

    #[test]
    fn rtp_and_rtcp_demultiplex_by_rfc_5761_and_7983() {
        assert_eq!(classify(&[0x80, 111]), Ok(DatagramKind::Rtp));
        assert_eq!(classify(&[0x80, 0x80 | 111]), Ok(DatagramKind::Rtp));
        assert_eq!(classify(&[0x81, 200]), Ok(DatagramKind::Rtcp));
        assert_eq!(classify(&[0x80, 201]), Ok(DatagramKind::Rtcp));
        // STUN (0–3), DTLS (20–63), TURN channel data (64–79).
        for first in [0u8, 1, 22, 64, 79, 192] {
            assert_eq!(classify(&[first, 0]), Err(Error::NotMedia));
        }
    }

    #[test]
    fn config_checks() {
        let now = Instant::now();
        let keys = SrtpKeys {
            master_key: [1; 32],
            master_salt: [1; 12],
        };
        for bad in [
            MediaConfig {
                red_payload_type: 111,
                ..MediaConfig::default()
            },
            MediaConfig {
                opus_payload_type: 72, // collides with RTCP SR/RR when muxed
                ..MediaConfig::default()
            },
            MediaConfig {
                min_bitrate: 40_000,
                ..MediaConfig::default()
            },
        ] {
            assert!(matches!(
                MediaSession::new(bad, keys.clone(), keys.clone(), now),
                Err(Error::Config(_))
            ));
        }
    }
}
