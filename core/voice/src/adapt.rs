//! The sender's reaction to the receiver's reports: Opus bitrate, RED depth
//! and the loss the encoder's in-band FEC is sized for.
//!
//! Why RED at all: libopus FEC plus PLC scores about 2.4 PESQ at 10 %
//! random loss (DESIGN.md); copies of the previous frames in each packet
//! (RFC 2198) leave ~1 % of frames missing at 10 % loss with one copy and
//! ~0.1 % with two. PESQ is sensitive to even 1 % of damaged frames, so
//! the second copy comes in early.
//!
//! Policy (one step per receiver report, ~1 s):
//! - loss is smoothed with a fast attack and a slow decay, so one lossy
//!   second switches protection on and it stays on a while;
//! - RED depth 0 below 1 % loss, 1 up to 6 %, 2 above, with hysteresis;
//! - the Opus bitrate is 32 kbit/s without redundancy and 28 (depth 1) or
//!   24 kbit/s (depth 2) with it, so the total grows less than the copies
//!   would make it;
//! - libopus's own FEC is sized for the loss RED leaves (l^(depth+1)), not
//!   the raw loss, which would spend much of the bitrate on a coarse copy;
//! - above 30 % smoothed loss, which looks like congestion rather than a
//!   bad radio link, the bitrate backs off towards 12 kbit/s, and it climbs
//!   back 2 kbit/s per report once loss is gone.
//!
//! There is no bandwidth estimation (no REMB or transport-wide feedback):
//! loss is the only congestion signal, RTT and jitter are reported but do
//! not steer the rate.
//!
//! Without loss protection the bitrate still follows loss (the congestion
//! part), and no RED is sent.

use crate::codec::{MAX_BITRATE, MIN_BITRATE};

/// What the sender should currently do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// Opus target bitrate in bit/s.
    pub bitrate: u32,
    /// How many earlier frames each packet repeats (0 = plain Opus).
    pub red_depth: usize,
    /// Loss percentage the encoder's FEC is sized for.
    pub expected_loss_percent: u8,
}

/// Turns receiver reports into a [`SendPolicy`].
#[derive(Debug, Clone)]
pub struct RateController {
    loss_protection: bool,
    min_bitrate: u32,
    max_bitrate: u32,
    smoothed_loss: f64,
    congestion_cap: u32,
    policy: SendPolicy,
}

impl RateController {
    /// Start at the top bitrate with no redundancy, as a call starts
    /// before any report arrived.
    pub fn new(loss_protection: bool, min_bitrate: u32, max_bitrate: u32) -> Self {
        let min_bitrate = min_bitrate.clamp(MIN_BITRATE.min(6_000), MAX_BITRATE * 4);
        let max_bitrate = max_bitrate.max(min_bitrate);
        RateController {
            loss_protection,
            min_bitrate,
            max_bitrate,
            smoothed_loss: 0.0,
            congestion_cap: max_bitrate,
            policy: SendPolicy {
                bitrate: max_bitrate,
                red_depth: 0,
                expected_loss_percent: 0,
            },
        }
    }

    /// The current policy.
    pub fn policy(&self) -> SendPolicy {
        self.policy
    }

    /// The smoothed loss fraction the policy is based on.
    pub fn smoothed_loss(&self) -> f64 {
        self.smoothed_loss
    }

    /// Take one report: `loss` is the fraction lost in the last interval.
    pub fn on_report(&mut self, loss: f64) -> SendPolicy {
        let loss = loss.clamp(0.0, 1.0);
        self.smoothed_loss = if loss > self.smoothed_loss {
            0.5 * self.smoothed_loss + 0.5 * loss
        } else {
            0.85 * self.smoothed_loss + 0.15 * loss
        };
        let l = self.smoothed_loss;

        // Congestion: very heavy loss cuts the cap; no loss lets it recover.
        // Random radio loss of 20 % must not trigger this (it is what RED
        // is for), so the test is on the smoothed loss.
        if l > 0.30 {
            self.congestion_cap = (self.congestion_cap * 3 / 4).max(self.min_bitrate);
        } else if loss < 0.02 {
            self.congestion_cap = (self.congestion_cap + 2_000).min(self.max_bitrate);
        }

        let depth = if !self.loss_protection {
            0
        } else {
            let d = self.policy.red_depth;
            match d {
                0 if l >= 0.01 => 1,
                0 => 0,
                1 if l >= 0.06 => 2,
                1 if l < 0.005 => 0,
                1 => 1,
                _ if l < 0.04 => 1,
                _ => 2,
            }
        };
        let protected_rate = match depth {
            0 => self.max_bitrate,
            1 => 28_000,
            _ => 24_000,
        };
        let bitrate = protected_rate
            .min(self.max_bitrate)
            .min(self.congestion_cap)
            .max(self.min_bitrate);
        self.policy = SendPolicy {
            bitrate,
            red_depth: depth,
            // Tell libopus the loss its own FEC must cover: what is left
            // after the RED copies (about l^(depth+1) for random loss).
            // Sizing LBRR for the raw loss would spend much of the bitrate
            // on a second, coarser copy that RED already provides.
            expected_loss_percent: (l.powi(depth as i32 + 1) * 100.0).round().min(50.0) as u8,
        };
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redundancy_follows_loss_with_hysteresis() {
        let mut c = RateController::new(true, 12_000, 32_000);
        assert_eq!(c.on_report(0.0).red_depth, 0);
        let p = c.on_report(0.04);
        assert_eq!((p.red_depth, p.bitrate), (1, 28_000));
        // RED covers most loss: Opus FEC is sized for the residue.
        assert_eq!(p.expected_loss_percent, 0);
        for _ in 0..5 {
            c.on_report(0.2);
        }
        assert_eq!(c.policy().red_depth, 2);
        assert_eq!(c.policy().bitrate, 24_000);
        // Loss gone: depth steps down only after the smoothed loss decays.
        assert_eq!(c.on_report(0.0).red_depth, 2);
        for _ in 0..40 {
            c.on_report(0.0);
        }
        assert_eq!(c.policy().red_depth, 0);
        assert_eq!(c.policy().bitrate, 32_000);
    }

    #[test]
    fn heavy_loss_backs_off_to_the_floor_and_recovers() {
        let mut c = RateController::new(false, 12_000, 32_000);
        for _ in 0..10 {
            c.on_report(0.4);
        }
        assert_eq!(c.policy().bitrate, 12_000);
        assert_eq!(c.policy().red_depth, 0);
        for _ in 0..20 {
            c.on_report(0.0);
        }
        assert_eq!(c.policy().bitrate, 32_000);
    }
}
