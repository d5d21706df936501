//! A seeded, deterministic network impairment simulator for tests and
//! benchmarks: random loss, burst loss (Gilbert–Elliott), jitter,
//! reordering and duplication.
//!
//! Time is virtual: datagrams go in with a send time and come out once the
//! caller's clock passes their delivery time. The same seed and the same
//! sends give the same deliveries.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How packets are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossModel {
    /// No loss.
    None,
    /// Each packet is lost independently with this probability.
    Random(f64),
    /// Gilbert–Elliott: a good and a bad state with their own loss
    /// probabilities and the chances of switching per packet.
    GilbertElliott {
        /// Probability of going from good to bad, per packet.
        p_good_to_bad: f64,
        /// Probability of going from bad to good, per packet.
        p_bad_to_good: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
}

/// What the simulated network does to datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Loss model.
    pub loss: LossModel,
    /// Fixed one-way delay.
    pub base_delay: Duration,
    /// Each packet gets an extra delay drawn uniformly from
    /// `[0, 3 × jitter]`; the RFC 3550 interarrival jitter a receiver then
    /// measures is about `jitter`. Packets may overtake each other.
    pub jitter: Duration,
    /// Probability that a packet is additionally held back by
    /// `reorder_delay`, so later packets overtake it.
    pub reorder: f64,
    /// How long a reordered packet is held back.
    pub reorder_delay: Duration,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            loss: LossModel::None,
            base_delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(40),
            duplicate: 0.0,
        }
    }
}

impl Impairment {
    /// Random loss with the given jitter, nothing else.
    pub fn random_loss(loss: f64, jitter: Duration) -> Self {
        Impairment {
            loss: LossModel::Random(loss),
            jitter,
            ..Impairment::default()
        }
    }
}

/// Counters of the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImpairStats {
    /// Datagrams handed in.
    pub sent: u64,
    /// Datagrams dropped.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams held back for reordering.
    pub reordered: u64,
}

/// A one-way simulated link.
pub struct NetworkSimulator {
    config: Impairment,
    rng: StdRng,
    bad_state: bool,
    /// Delivery time (µs since the start) and an insertion counter → datagram.
    queue: BTreeMap<(u64, u64), Vec<u8>>,
    counter: u64,
    stats: ImpairStats,
}

impl NetworkSimulator {
    /// A link with these impairments, seeded.
    pub fn new(config: Impairment, seed: u64) -> Self {
        NetworkSimulator {
            config,
            rng: StdRng::seed_from_u64(seed),
            bad_state: false,
            queue: BTreeMap::new(),
            counter: 0,
            stats: ImpairStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ImpairStats {
        self.stats
    }

    fn lost(&mut self) -> bool {
        match self.config.loss {
            LossModel::None => false,
            LossModel::Random(p) => self.rng.random_bool(p.clamp(0.0, 1.0)),
            LossModel::GilbertElliott {
                p_good_to_bad,
                p_bad_to_good,
                loss_good,
                loss_bad,
            } => {
                let switch = if self.bad_state {
                    p_bad_to_good
                } else {
                    p_good_to_bad
                };
                if self.rng.random_bool(switch.clamp(0.0, 1.0)) {
                    self.bad_state = !self.bad_state;
                }
                let p = if self.bad_state { loss_bad } else { loss_good };
                self.rng.random_bool(p.clamp(0.0, 1.0))
            }
        }
    }

    fn delay(&mut self) -> Duration {
        let jitter = self.config.jitter.as_secs_f64() * 3.0;
        let extra = if jitter > 0.0 {
            self.rng.random_range(0.0..jitter)
        } else {
            0.0
        };
        let mut delay = self.config.base_delay + Duration::from_secs_f64(extra);
        if self.config.reorder > 0.0 && self.rng.random_bool(self.config.reorder.clamp(0.0, 1.0)) {
            self.stats.reordered += 1;
            delay += self.config.reorder_delay;
        }
        delay
    }

    fn enqueue(&mut self, at: Duration, datagram: Vec<u8>) {
        self.counter += 1;
        self.queue
            .insert((at.as_micros() as u64, self.counter), datagram);
    }

    /// Send a datagram at virtual time `now` (since the simulation start).
    pub fn send(&mut self, datagram: &[u8], now: Duration) {
        self.stats.sent += 1;
        if self.lost() {
            self.stats.lost += 1;
            return;
        }
        let at = now + self.delay();
        if self.config.duplicate > 0.0
            && self.rng.random_bool(self.config.duplicate.clamp(0.0, 1.0))
        {
            self.stats.duplicated += 1;
            let again = at + self.delay();
            self.enqueue(again, datagram.to_vec());
        }
        self.enqueue(at, datagram.to_vec());
    }

    /// Datagrams whose delivery time is at or before `now`, in delivery order.
    pub fn deliver(&mut self, now: Duration) -> Vec<Vec<u8>> {
        let limit = (now.as_micros() as u64, u64::MAX);
        let later = self.queue.split_off(&limit);
        let due = std::mem::replace(&mut self.queue, later);
        due.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: Impairment, seed: u64) -> Vec<Vec<u8>> {
        let mut sim = NetworkSimulator::new(config, seed);
        let mut out = Vec::new();
        for i in 0..1000u32 {
            let now = Duration::from_millis(20 * u64::from(i));
            sim.send(&i.to_be_bytes(), now);
            out.extend(sim.deliver(now));
        }
        out.extend(sim.deliver(Duration::from_secs(3600)));
        out
    }

    #[test]
    fn same_seed_same_result_and_rates_roughly_right() {
        let config = Impairment {
            loss: LossModel::Random(0.1),
            jitter: Duration::from_millis(20),
            duplicate: 0.05,
            ..Impairment::default()
        };
        let a = run(config, 7);
        assert_eq!(a, run(config, 7));
        assert_ne!(a, run(config, 8));
        // ~900 survive, ~45 of them twice.
        assert!((880..=1010).contains(&a.len()), "{}", a.len());
        let reordered = a.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(reordered > 50, "{reordered}");
    }

    #[test]
    fn gilbert_elliott_losses_come_in_bursts() {
        let config = Impairment {
            loss: LossModel::GilbertElliott {
                p_good_to_bad: 0.02,
                p_bad_to_good: 0.25,
                loss_good: 0.0,
                loss_bad: 0.8,
            },
            ..Impairment::default()
        };
        let got: Vec<u32> = run(config, 1)
            .iter()
            .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
            .collect();
        let gaps: Vec<u32> = got.windows(2).map(|w| w[1] - w[0] - 1).collect();
        let lost: u32 = gaps.iter().sum();
        let max_gap = gaps.iter().copied().max().unwrap_or(0);
        assert!(lost > 20, "{lost}");
        assert!(max_gap >= 3, "{max_gap}");
    }
}
