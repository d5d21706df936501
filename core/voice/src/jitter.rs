//! The adaptive jitter buffer: reorders received frames, chooses the
//! playout delay from measured jitter, and fills gaps.
//!
//! What it owns: when each frame plays and how a missing one is made up.
//! The target delay is a quantile (default 95 %) of the packets' relative
//! delays over the last few seconds, as WebRTC NetEq's delay manager does,
//! plus one frame. A missing frame is taken, in order of preference, from a
//! RED copy (RFC 2198), from the next packet's Opus in-band FEC, or from
//! Opus PLC. The buffer grows by repeating concealment ("expand") and
//! shrinks by dropping a frame with a short cross-fade ("accelerate"),
//! preferring quiet frames so that the change is not heard; both happen one
//! frame at a time. When the buffer runs dry (late packets or DTX silence)
//! the timeline waits instead of advancing, as NetEq's expand does, and the
//! frames concealed while waiting are skipped once audio resumes.
//!
//! It does not own decryption or RTP parsing (the session hands it frames)
//! nor the clock (every call takes the arrival time).

use std::collections::{BTreeMap, VecDeque};

use crate::codec::{packet_samples, OpusDecoder, FRAME_SAMPLES, SAMPLE_RATE};
use crate::error::{Error, Result};

const FRAME: i64 = FRAME_SAMPLES as i64;
/// Cross-fade length when a frame is dropped (2.5 ms).
const FADE: usize = 120;

/// Tuning of the jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Lowest target delay in ms (one frame is the least that works).
    pub min_delay_ms: u32,
    /// Highest target delay in ms.
    pub max_delay_ms: u32,
    /// Quantile of the relative delay that must arrive in time (0.5–0.999).
    pub quantile: f64,
    /// How many recent packets the delay statistics cover.
    pub history_packets: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_delay_ms: 20,
            max_delay_ms: 400,
            quantile: 0.95,
            history_packets: 250,
        }
    }
}

/// How a played frame was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSource {
    /// Playout has not started (waiting for the first packets).
    Silence,
    /// Decoded from its own packet.
    Decoded,
    /// Decoded from a RED copy carried by a later packet.
    RecoveredRed,
    /// Rebuilt from the next packet's Opus in-band FEC.
    RecoveredFec,
    /// Concealed by Opus PLC (loss, underrun, or DTX silence).
    Concealed,
}

/// Counters and levels of the jitter buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Frames decoded from their own packet.
    pub decoded: u64,
    /// Frames recovered from a RED copy.
    pub recovered_red: u64,
    /// Frames recovered from Opus in-band FEC.
    pub recovered_fec: u64,
    /// Frames concealed by PLC (losses, underruns and DTX pauses).
    pub concealed: u64,
    /// Packets that arrived after their frame had been played or concealed.
    pub late_packets: u64,
    /// Packets whose frame was already buffered.
    pub duplicate_packets: u64,
    /// Frames dropped to shrink the delay.
    pub accelerated: u64,
    /// Frames inserted to grow the delay.
    pub expanded: u64,
    /// Times the playout point jumped to a stream that leapt ahead.
    pub resyncs: u64,
    /// Audio buffered ahead of playout, in ms.
    pub current_delay_ms: f64,
    /// The delay the buffer steers towards, in ms.
    pub target_delay_ms: f64,
}

#[derive(Debug, Default)]
struct Slot {
    primary: Option<Vec<u8>>,
    redundant: Option<Vec<u8>>,
}

/// Reorders, times and decodes the received Opus frames.
pub struct JitterBuffer {
    config: JitterConfig,
    decoder: OpusDecoder,
    slots: BTreeMap<i64, Slot>,
    /// Last RTP timestamp seen and its unwrapped value.
    last_rtp: Option<(u32, i64)>,
    /// Unwrapped timestamp of the next frame to play (`None`: not started).
    next: Option<i64>,
    /// Highest unwrapped frame timestamp received.
    highest: Option<i64>,
    /// Relative delays (arrival − media time) of recent packets, seconds.
    delays: VecDeque<f64>,
    target: i64,
    filtered_level: f64,
    /// Frames concealed in a row because the buffer was empty.
    waited: i64,
    /// Pulls in a row with the level above target.
    excess_run: u32,
    last_energy: f64,
    /// Smoothed fraction of frames whose own packet was missing when due.
    loss_rate: f64,
    /// Most RED copies per packet seen lately (decays by one per 5 s).
    red_depth: i64,
    red_depth_age: u32,
    scratch: Vec<i16>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Result<Self> {
        if !(0.5..1.0).contains(&config.quantile) || config.history_packets == 0 {
            return Err(Error::Config("jitter quantile or history out of range"));
        }
        let target = ms_to_samples(config.min_delay_ms).max(FRAME);
        Ok(JitterBuffer {
            config,
            decoder: OpusDecoder::new()?,
            slots: BTreeMap::new(),
            last_rtp: None,
            next: None,
            highest: None,
            delays: VecDeque::with_capacity(config.history_packets),
            target,
            filtered_level: 0.0,
            waited: 0,
            excess_run: 0,
            last_energy: 0.0,
            loss_rate: 0.0,
            red_depth: 0,
            red_depth_age: 0,
            scratch: vec![0; FRAME_SAMPLES],
            stats: JitterStats::default(),
        })
    }

    /// Counters and the current and target delay.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        s.current_delay_ms = self.level() as f64 * 1000.0 / f64::from(SAMPLE_RATE);
        s.target_delay_ms = self.target as f64 * 1000.0 / f64::from(SAMPLE_RATE);
        s
    }

    /// Samples buffered from the next frame to play to the end of the newest.
    fn level(&self) -> i64 {
        match (self.next, self.highest) {
            (Some(next), Some(high)) => (high + FRAME - next).max(0),
            _ => 0,
        }
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        let ext = match self.last_rtp {
            None => i64::from(ts),
            Some((last, last_ext)) => last_ext + i64::from(ts.wrapping_sub(last) as i32),
        };
        if self.last_rtp.is_none_or(|(_, e)| ext > e) {
            self.last_rtp = Some((ts, ext));
        }
        ext
    }

    /// Hand in one received packet: its RTP timestamp, the Opus frame, RED
    /// copies of earlier frames as (timestamp offset, frame), and the
    /// arrival time in seconds on any monotonic clock.
    pub fn insert(
        &mut self,
        rtp_timestamp: u32,
        primary: &[u8],
        redundant: &[(u16, &[u8])],
        arrival_secs: f64,
    ) -> Result<()> {
        if packet_samples(primary)? != FRAME_SAMPLES {
            return Err(Error::Malformed("not a 20 ms Opus frame"));
        }
        let ts = self.unwrap_ts(rtp_timestamp);
        let depth = redundant.len() as i64;
        self.red_depth_age += 1;
        if depth >= self.red_depth {
            self.red_depth = depth;
            self.red_depth_age = 0;
        } else if self.red_depth_age > 250 {
            self.red_depth -= 1;
            self.red_depth_age = 0;
        }
        self.record_delay(ts, arrival_secs);
        if self.next.is_some_and(|next| ts < next) {
            self.stats.late_packets += 1;
        } else {
            let slot = self.slots.entry(ts).or_default();
            if slot.primary.is_some() {
                self.stats.duplicate_packets += 1;
            } else {
                slot.primary = Some(primary.to_vec());
            }
            self.highest = Some(self.highest.map_or(ts, |h| h.max(ts)));
            // Bound memory whatever the peer's timestamps do (it is
            // authenticated, but a bug there must not grow us without end).
            while self.slots.len() > MAX_SLOTS {
                self.slots.pop_first();
            }
        }
        for &(offset, frame) in redundant {
            let red_ts = ts - i64::from(offset);
            if self.next.is_some_and(|next| red_ts < next)
                || packet_samples(frame).ok() != Some(FRAME_SAMPLES)
            {
                continue;
            }
            let slot = self.slots.entry(red_ts).or_default();
            if slot.primary.is_none() && slot.redundant.is_none() {
                slot.redundant = Some(frame.to_vec());
            }
        }
        Ok(())
    }

    fn record_delay(&mut self, ts: i64, arrival_secs: f64) {
        if self.delays.len() == self.config.history_packets {
            self.delays.pop_front();
        }
        self.delays
            .push_back(arrival_secs - ts as f64 / f64::from(SAMPLE_RATE));
        let min = self.delays.iter().copied().fold(f64::INFINITY, f64::min);
        let mut relative: Vec<f64> = self.delays.iter().map(|d| d - min).collect();
        relative.sort_by(f64::total_cmp);
        let at = ((relative.len() - 1) as f64 * self.config.quantile).round() as usize;
        let jitter = (relative[at] * f64::from(SAMPLE_RATE)) as i64;
        // While packets go missing, hold one more frame so that the next
        // packet (with its RED copy and Opus FEC of this one) is already
        // here when a frame turns out to be lost, however late its own
        // jitter makes it. With RED of depth d, the copy of a lost frame can
        // be d packets away, hence the floor. This costs 20 ms of delay
        // under loss and is worth ~0.2–0.4 PESQ at 10 % loss with jitter.
        let floor = if self.loss_rate > LOSSY {
            (2 + (self.red_depth - 1).max(0)) * FRAME
        } else {
            FRAME
        };
        let repair = if self.loss_rate > LOSSY { FRAME } else { 0 };
        self.target = (jitter + FRAME + repair).max(floor).clamp(
            ms_to_samples(self.config.min_delay_ms).max(FRAME),
            ms_to_samples(self.config.max_delay_ms).max(FRAME),
        );
    }

    /// Produce the next 20 ms of audio for playout.
    pub fn pull(&mut self, out: &mut [i16]) -> Result<FrameSource> {
        crate::codec::check_frame(out.len())?;
        let Some(mut next) = self.next else {
            // Start once the first packets cover the target delay.
            let Some((&first, _)) = self.slots.iter().next() else {
                out.fill(0);
                return Ok(FrameSource::Silence);
            };
            let high = self.highest.unwrap_or(first);
            if high + FRAME - first < self.target {
                out.fill(0);
                return Ok(FrameSource::Silence);
            }
            self.next = Some(first);
            self.filtered_level = (high + FRAME - first) as f64;
            return self.pull(out);
        };

        // Drop whatever is older than the playout point.
        while let Some((&ts, _)) = self.slots.iter().next() {
            if ts >= next {
                break;
            }
            self.slots.remove(&ts);
        }

        let Some((&earliest, _)) = self.slots.iter().next() else {
            // Empty: wait (conceal without advancing the timeline).
            self.waited += 1;
            self.stats.concealed += 1;
            self.decoder.conceal(out)?;
            self.last_energy = energy(out);
            return Ok(FrameSource::Concealed);
        };
        if self.waited > 0 {
            // Frames concealed while waiting stood in for these timestamps.
            // Keep the last missing frame, if any, so that the next
            // packet's FEC can rebuild it rather than PLC guessing again.
            let gap = (earliest - next) / FRAME;
            let skip = (gap - 1).max(0).min(self.waited);
            next += skip * FRAME;
            self.waited = 0;
        }
        if earliest - next > ms_to_samples(self.config.max_delay_ms) {
            // The stream jumped ahead (a sender that restarted its clock, or
            // a long gap): conceal no further, play from what is here.
            next = earliest;
            self.stats.resyncs += 1;
        }

        let level = self.highest.map_or(0, |h| h + FRAME - next);
        self.filtered_level = 0.9 * self.filtered_level + 0.1 * level as f64;

        // Grow: the buffer holds less than the target.
        let quiet = self.last_energy < QUIET_ENERGY;
        let short = self.target as f64 - self.filtered_level;
        if short >= FRAME as f64 && (quiet || short >= 2.0 * FRAME as f64) {
            self.filtered_level += FRAME as f64;
            self.stats.expanded += 1;
            self.next = Some(next);
            self.decoder.conceal(out)?;
            self.last_energy = energy(out);
            return Ok(FrameSource::Concealed);
        }

        let source = self.decode_at(next, out)?;
        next += FRAME;

        // Shrink: well above target for a while, and the next frame is here.
        let excess = self.filtered_level - self.target as f64;
        self.excess_run = if excess >= FRAME as f64 {
            self.excess_run + 1
        } else {
            0
        };
        let e = energy(out);
        if self.excess_run > 0
            && (e < QUIET_ENERGY || self.excess_run > 50)
            && self.slots.get(&next).is_some_and(|s| s.primary.is_some())
        {
            let mut following = std::mem::take(&mut self.scratch);
            let dropped = self.decode_at(next, &mut following);
            if dropped.is_ok() {
                // Keep the start of the frame we were going to play and
                // fade into the frame after it.
                for (i, (o, f)) in out.iter_mut().zip(&following).enumerate().take(FADE) {
                    let w = (i as f64 + 0.5) / FADE as f64;
                    *o = (f64::from(*o) * (1.0 - w) + f64::from(*f) * w) as i16;
                }
                out[FADE..].copy_from_slice(&following[FADE..]);
                next += FRAME;
                self.filtered_level -= FRAME as f64;
                self.stats.accelerated += 1;
                self.excess_run = 0;
            }
            self.scratch = following;
            dropped?;
        }
        self.last_energy = energy(out);
        self.next = Some(next);
        Ok(source)
    }

    /// Produce the frame at `ts`: decoded, from RED, from FEC, or concealed.
    fn decode_at(&mut self, ts: i64, out: &mut [i16]) -> Result<FrameSource> {
        let slot = self.slots.remove(&ts);
        let missing = slot.as_ref().is_none_or(|s| s.primary.is_none());
        self.loss_rate = 0.99 * self.loss_rate + if missing { 0.01 } else { 0.0 };
        // A frame libopus refuses (it passed the TOC check on insert) is
        // concealed like a lost one rather than failing the playout.
        let decoded = match slot {
            Some(Slot {
                primary: Some(p), ..
            }) => self.decoder.decode(&p, out).map(|()| FrameSource::Decoded),
            Some(Slot {
                redundant: Some(r), ..
            }) => self
                .decoder
                .decode(&r, out)
                .map(|()| FrameSource::RecoveredRed),
            _ => match self
                .slots
                .get(&(ts + FRAME))
                .and_then(|s| s.primary.as_deref())
            {
                Some(following) => self
                    .decoder
                    .decode_fec(following, out)
                    .map(|()| FrameSource::RecoveredFec),
                None => Err(Error::Malformed("no data for this frame")),
            },
        };
        let source = match decoded {
            Ok(source) => source,
            Err(_) => {
                self.decoder.conceal(out)?;
                FrameSource::Concealed
            }
        };
        match source {
            FrameSource::Decoded => self.stats.decoded += 1,
            FrameSource::RecoveredRed => self.stats.recovered_red += 1,
            FrameSource::RecoveredFec => self.stats.recovered_fec += 1,
            FrameSource::Concealed | FrameSource::Silence => self.stats.concealed += 1,
        }
        Ok(source)
    }
}

/// Most frames held (10 s).
const MAX_SLOTS: usize = 500;

/// Loss rate above which the buffer keeps a frame in hand for repairs.
const LOSSY: f64 = 0.005;

/// Mean square below which a frame counts as quiet (about −50 dBFS).
const QUIET_ENERGY: f64 = 10_000.0;

fn energy(frame: &[i16]) -> f64 {
    frame
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / frame.len() as f64
}

fn ms_to_samples(ms: u32) -> i64 {
    i64::from(ms) * i64::from(SAMPLE_RATE) / 1000
}
