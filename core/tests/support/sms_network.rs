//! A simulated SMS carrier for tests: it loses, duplicates, delays (and so
//! reorders) and truncates texts, and rewrites every character outside
//! GSM-7 to '?', as carriers that transcode do. Time is simulated; nothing
//! sleeps. Every fault is drawn from a seeded RNG, so a run repeats exactly.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sotto_core::sms::gsm7;
use sotto_core::sms::{PhoneNumber, SmsBody};

/// How often each fault strikes one SMS.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Probability that an SMS is lost.
    pub loss: f64,
    /// Probability that an SMS is delivered twice.
    pub duplicate: f64,
    /// Probability that an SMS is cut short.
    pub truncate: f64,
    /// Delays are uniform in `0..=max_delay_ms` (so SMS overtake each other).
    pub max_delay_ms: u64,
}

/// One delivered SMS.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    pub body: SmsBody,
    /// Whether it arrived exactly as sent.
    pub intact: bool,
}

/// The carrier.
pub struct SimCarrier {
    rng: StdRng,
    faults: Faults,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    in_flight: HashMap<u64, Delivery>,
    next_seq: u64,
    /// SMS submitted, lost, duplicated, truncated, rewritten.
    pub submitted: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub truncated: usize,
    pub rewritten: usize,
}

impl SimCarrier {
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            faults,
            queue: BinaryHeap::new(),
            in_flight: HashMap::new(),
            next_seq: 0,
            submitted: 0,
            lost: 0,
            duplicated: 0,
            truncated: 0,
            rewritten: 0,
        }
    }

    /// Hands an SMS to the carrier at `now_ms`.
    pub fn submit(&mut self, from: &PhoneNumber, to: &PhoneNumber, body: SmsBody, now_ms: u64) {
        self.submitted += 1;
        if self.rng.random_bool(self.faults.loss) {
            self.lost += 1;
            return;
        }
        let copies = if self.rng.random_bool(self.faults.duplicate) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let (body, intact) = self.mangle(body.clone());
            let at = now_ms + self.rng.random_range(0..=self.faults.max_delay_ms);
            let seq = self.next_seq;
            self.next_seq += 1;
            self.queue.push(Reverse((at, seq)));
            self.in_flight.insert(
                seq,
                Delivery {
                    from: from.clone(),
                    to: to.clone(),
                    body,
                    intact,
                },
            );
        }
    }

    fn mangle(&mut self, body: SmsBody) -> (SmsBody, bool) {
        let SmsBody::Text(text) = body else {
            return (body, true);
        };
        let mut intact = true;
        // Characters outside GSM-7 become '?'.
        let rewritten: String = text
            .chars()
            .map(|c| if gsm7::septets(c).is_some() { c } else { '?' })
            .collect();
        if rewritten != text {
            self.rewritten += 1;
            intact = false;
        }
        let mut text = rewritten;
        if text.chars().count() > 1 && self.rng.random_bool(self.faults.truncate) {
            let keep = self.rng.random_range(1..text.chars().count());
            text = text.chars().take(keep).collect();
            self.truncated += 1;
            intact = false;
        }
        (SmsBody::Text(text), intact)
    }

    /// Everything due by `now_ms`, in delivery order.
    pub fn deliver_due(&mut self, now_ms: u64) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
            if at > now_ms {
                break;
            }
            self.queue.pop();
            if let Some(delivery) = self.in_flight.remove(&seq) {
                out.push(delivery);
            }
        }
        out
    }

    /// Whether anything is still in flight.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
    }
}
