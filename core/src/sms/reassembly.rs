//! Putting parts back together: out of order, duplicated, missing, late.
//!
//! A message is keyed by (sender, wire id, part count). Parts may come in
//! any order and any number of times; the first good copy of each part is
//! kept. When all are there, the payload's SHA-256 must match the wire id;
//! if it does not, the last part (the only one whose truncation cannot be
//! seen from its length) is dropped and the message waits for a resend.
//!
//! A message that stops receiving parts for [`ReassemblyLimits::timeout`]
//! is reported by [`Reassembler::expire`]: first as
//! [`Expiry::ResendRequested`] (the caller asks the sender for the missing
//! parts), and after [`ReassemblyLimits::resend_attempts`] such rounds as
//! [`Expiry::GaveUp`], which the app shows as an incomplete message.
//!
//! State is kept in ordered maps, so that the same input always gives the
//! same output in the same order (reports, resend requests).
//!
//! Memory is bounded: per sender (messages and bytes) and overall (bytes).
//! A message is charged for its full size (its part count times the largest
//! part) from its first part on, so a message once taken always has room
//! for the rest of its parts. When a new message does not fit, it is
//! refused ([`Offer::Refused`]) and nothing held is evicted: SMS senders can
//! be forged, and a forger flooding parts, from a contact's number or from
//! many numbers, must not push out a contact's half-received message. Old
//! messages leave only by completing or by their own timeout. Completed messages are remembered for a while (a
//! fingerprint of each part), so a re-sent copy of a message already
//! received is recognised as a duplicate rather than opening a new,
//! never-ending reassembly, while a new message whose 18-bit id happens to
//! equal an old one's (a birthday collision, bound to happen over
//! thousands of texts) is still taken as new.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use sha2::Digest;

use super::segment::{Segment, WireId, DATA_CHUNK, TEXT_CHUNK};
use crate::millis;

/// Bounds on the reassembler's time and memory.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Messages in reassembly per sender.
    pub messages_per_sender: usize,
    /// Bytes of parts held per sender.
    pub bytes_per_sender: usize,
    /// Bytes of parts held overall.
    pub total_bytes: usize,
    /// How long a message may wait for its next part.
    pub timeout: Duration,
    /// Resend requests before giving up.
    pub resend_attempts: u8,
    /// How long and how many completed ids are remembered.
    pub remember_completed: Duration,
    /// The most completed ids remembered.
    pub completed_ids: usize,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        Self {
            messages_per_sender: 16,
            bytes_per_sender: 32 * 1024,
            total_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10 * 60),
            resend_attempts: 3,
            remember_completed: Duration::from_secs(3 * 24 * 3600),
            completed_ids: 4096,
        }
    }
}

/// What one part did.
#[derive(Clone, PartialEq, Eq)]
pub enum Offer {
    /// The message is complete and checked: its payload.
    Complete(Vec<u8>),
    /// Kept; the message still misses parts.
    Pending {
        /// Parts held.
        have: u8,
        /// Parts in all.
        count: u8,
    },
    /// This part (or its whole message) was here already.
    Duplicate,
    /// A one-part message whose payload does not match its wire id: damaged
    /// on the way.
    Corrupt,
    /// The first part of a message that does not fit its sender's budget or
    /// the overall one: dropped, nothing held was evicted for it.
    Refused,
}

impl std::fmt::Debug for Offer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Offer::Complete(p) => write!(f, "Complete({} bytes)", p.len()),
            Offer::Pending { have, count } => write!(f, "Pending({have}/{count})"),
            Offer::Duplicate => f.write_str("Duplicate"),
            Offer::Corrupt => f.write_str("Corrupt"),
            Offer::Refused => f.write_str("Refused"),
        }
    }
}

/// Why a message left reassembly unfinished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// It timed out; ask the sender for the missing parts. It stays.
    ResendRequested,
    /// It timed out after every resend round; it is gone.
    GaveUp,
}

/// A message that did not (yet) complete.
#[derive(Clone, PartialEq, Eq)]
pub struct Incomplete<K> {
    /// Who sent it.
    pub sender: K,
    /// Its wire id.
    pub id: WireId,
    /// Its part count.
    pub count: u8,
    /// The parts still missing, ascending.
    pub missing: Vec<u8>,
    /// What happened.
    pub expiry: Expiry,
}

impl<K> std::fmt::Debug for Incomplete<K> {
    // The sender (a phone number) is user data: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Incomplete({:?}, missing {} of {}, {:?})",
            self.id,
            self.missing.len(),
            self.count,
            self.expiry
        )
    }
}

/// Bytes charged for a message beyond its parts, so that floods of tiny
/// parts are bounded too.
const ENTRY_OVERHEAD: usize = 64;

/// The largest part's chunk, text or data SMS.
const MAX_CHUNK: usize = if TEXT_CHUNK > DATA_CHUNK {
    TEXT_CHUNK
} else {
    DATA_CHUNK
};

/// What a message of `count` parts is charged from its first part on.
fn reservation(count: u8) -> usize {
    ENTRY_OVERHEAD + usize::from(count) * MAX_CHUNK
}

struct Partial {
    parts: Vec<Option<Vec<u8>>>,
    have: u8,
    deadline_ms: u64,
    resends: u8,
}

impl Partial {
    fn missing(&self) -> Vec<u8> {
        (0..self.parts.len() as u8)
            .filter(|&i| self.parts[usize::from(i)].is_none())
            .collect()
    }
}

type Key<K> = (K, WireId, u8);

/// What is remembered of a completed message.
struct Completed {
    at_ms: u64,
    /// A fingerprint of each part's chunk.
    parts: Vec<u64>,
    /// The length of the last chunk: a shorter copy of it is a cut copy.
    last_len: usize,
}

fn fingerprint(chunk: &[u8]) -> u64 {
    let digest = sha2::Sha256::digest(chunk);
    u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ])
}

/// Reassembles parts from many senders within [`ReassemblyLimits`].
pub struct Reassembler<K> {
    limits: ReassemblyLimits,
    partial: BTreeMap<Key<K>, Partial>,
    total_bytes: usize,
    completed: BTreeMap<Key<K>, Completed>,
    completed_order: VecDeque<(Key<K>, u64)>,
}

impl<K> std::fmt::Debug for Reassembler<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembler")
            .field("messages", &self.partial.len())
            .field("bytes", &self.total_bytes)
            .finish_non_exhaustive()
    }
}

impl<K: Clone + Ord> Reassembler<K> {
    /// An empty reassembler.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Self {
            limits,
            partial: BTreeMap::new(),
            total_bytes: 0,
            completed: BTreeMap::new(),
            completed_order: VecDeque::new(),
        }
    }

    /// Bytes reserved for unfinished messages: each is charged its full
    /// size (part count times the largest part, plus an overhead) at once.
    pub fn bytes_held(&self) -> usize {
        self.total_bytes
    }

    /// Messages in reassembly.
    pub fn messages_held(&self) -> usize {
        self.partial.len()
    }

    /// Takes one part from `sender`.
    pub fn offer(&mut self, sender: &K, segment: Segment, now: SystemTime) -> Offer {
        let now_ms = millis(now);
        let key = (sender.clone(), segment.id, segment.count);
        if let Some(done) = self.completed.get(&key) {
            let index = usize::from(segment.index);
            let last = index + 1 == usize::from(segment.count);
            if done.parts[index] == fingerprint(&segment.chunk)
                || last && segment.chunk.len() < done.last_len
            {
                return Offer::Duplicate;
            }
        }
        if segment.count == 1 {
            return match self.finish(key, vec![Some(segment.chunk)], now_ms) {
                Some(payload) => Offer::Complete(payload),
                None => Offer::Corrupt,
            };
        }
        if !self.partial.contains_key(&key) {
            if !self.fits(sender, segment.count) {
                return Offer::Refused;
            }
            self.total_bytes += reservation(segment.count);
            self.partial.insert(
                key.clone(),
                Partial {
                    parts: vec![None; usize::from(segment.count)],
                    have: 0,
                    deadline_ms: 0,
                    resends: 0,
                },
            );
        }
        let Some(partial) = self.partial.get_mut(&key) else {
            return Offer::Refused;
        };
        let last = segment.index + 1 == segment.count;
        let slot = &mut partial.parts[usize::from(segment.index)];
        match slot {
            // Carriers cut texts short, never longer: of two different
            // copies of the last part, the longer one is the better.
            Some(held) if last && held.len() < segment.chunk.len() => {
                *held = segment.chunk;
                partial.have -= 1;
            }
            Some(_) => return Offer::Duplicate,
            None => *slot = Some(segment.chunk),
        }
        partial.have += 1;
        partial.deadline_ms = now_ms + self.limits.timeout.as_millis() as u64;
        if partial.have < segment.count {
            return Offer::Pending {
                have: partial.have,
                count: segment.count,
            };
        }
        let Some(partial) = self.partial.remove(&key) else {
            return Offer::Duplicate;
        };
        match self.finish(key.clone(), partial.parts.clone(), now_ms) {
            Some(payload) => {
                self.total_bytes -= reservation(segment.count);
                Offer::Complete(payload)
            }
            None => {
                // The id does not match: drop the last part and wait.
                let mut partial = partial;
                let last = partial.parts.len() - 1;
                partial.parts[last] = None;
                partial.have -= 1;
                let pending = Offer::Pending {
                    have: partial.have,
                    count: segment.count,
                };
                self.partial.insert(key, partial);
                pending
            }
        }
    }

    /// Joins a full set of parts, if the payload matches its wire id.
    fn finish(&mut self, key: Key<K>, parts: Vec<Option<Vec<u8>>>, now_ms: u64) -> Option<Vec<u8>> {
        let chunks: Vec<Vec<u8>> = parts.into_iter().flatten().collect();
        let payload: Vec<u8> = chunks.concat();
        if WireId::of(&payload) != key.1 {
            return None;
        }
        let done = Completed {
            at_ms: now_ms,
            parts: chunks.iter().map(|c| fingerprint(c)).collect(),
            last_len: chunks.last().map_or(0, Vec::len),
        };
        self.completed.insert(key.clone(), done);
        self.completed_order.push_back((key, now_ms));
        self.forget_completed(now_ms);
        Some(payload)
    }

    fn forget_completed(&mut self, now_ms: u64) {
        let keep_ms = self.limits.remember_completed.as_millis() as u64;
        while let Some((key, at)) = self.completed_order.front() {
            let too_many = self.completed_order.len() > self.limits.completed_ids;
            if !too_many && at + keep_ms > now_ms {
                break;
            }
            if self
                .completed
                .get(key)
                .is_some_and(|done| done.at_ms == *at)
            {
                self.completed.remove(key);
            }
            self.completed_order.pop_front();
        }
    }

    /// Whether a new message of `count` parts from `sender` fits both its
    /// sender's budget and the overall one.
    fn fits(&self, sender: &K, count: u8) -> bool {
        let (messages, bytes) = self
            .partial
            .iter()
            .filter(|((s, _, _), _)| s == sender)
            .fold((0, 0), |(n, b), ((_, _, c), _)| {
                (n + 1, b + reservation(*c))
            });
        let extra = reservation(count);
        messages < self.limits.messages_per_sender
            && bytes + extra <= self.limits.bytes_per_sender
            && self.total_bytes + extra <= self.limits.total_bytes
    }

    /// Reports messages whose time ran out at `now`.
    pub fn expire(&mut self, now: SystemTime) -> Vec<Incomplete<K>> {
        let now_ms = millis(now);
        let timeout_ms = self.limits.timeout.as_millis() as u64;
        let mut out = Vec::new();
        let due: Vec<Key<K>> = self
            .partial
            .iter()
            .filter(|(_, p)| p.deadline_ms <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            let Some(partial) = self.partial.get_mut(&key) else {
                continue;
            };
            let missing = partial.missing();
            let expiry = if partial.resends < self.limits.resend_attempts {
                partial.resends += 1;
                partial.deadline_ms = now_ms + timeout_ms;
                Expiry::ResendRequested
            } else {
                if self.partial.remove(&key).is_some() {
                    self.total_bytes -= reservation(key.2);
                }
                Expiry::GaveUp
            };
            out.push(Incomplete {
                sender: key.0,
                id: key.1,
                count: key.2,
                missing,
                expiry,
            });
        }
        self.forget_completed(now_ms);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::segment::{SmsCodec, TextSms};
    use proptest::prelude::*;

    fn segments(payload: &[u8]) -> Vec<Segment> {
        SmsCodec::to_texts(payload)
            .expect("fits")
            .iter()
            .map(|t| match SmsCodec::parse_text(t) {
                TextSms::Segment(s) => s,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn missing_parts_are_requested_then_given_up_visibly() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let parts = segments(&[7; 500]);
        assert_eq!(parts.len(), 5);
        for s in parts.iter().filter(|s| s.index != 2) {
            assert!(matches!(
                r.offer(&"alice", s.clone(), at(0)),
                Offer::Pending { .. }
            ));
        }
        assert!(r.expire(at(599)).is_empty());
        let first = r.expire(at(600));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].missing, vec![2]);
        assert_eq!(first[0].expiry, Expiry::ResendRequested);
        assert_eq!(r.expire(at(1200))[0].expiry, Expiry::ResendRequested);
        assert_eq!(r.expire(at(1800))[0].expiry, Expiry::ResendRequested);
        let last = r.expire(at(2400));
        assert_eq!(last[0].expiry, Expiry::GaveUp);
        assert_eq!(r.messages_held(), 0);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn a_resent_part_completes_and_later_copies_are_duplicates() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let payload = vec![3u8; 300];
        let parts = segments(&payload);
        r.offer(&1, parts[0].clone(), at(0));
        r.offer(&1, parts[2].clone(), at(1));
        assert_eq!(r.expire(at(700)).len(), 1);
        assert_eq!(
            r.offer(&1, parts[1].clone(), at(701)),
            Offer::Complete(payload)
        );
        for p in &parts {
            assert_eq!(r.offer(&1, p.clone(), at(702)), Offer::Duplicate);
        }
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn a_truncated_last_part_is_dropped_and_the_good_copy_wins() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let payload: Vec<u8> = (0..260u32).map(|i| i as u8).collect();
        let parts = segments(&payload);
        let mut short = parts[2].clone();
        short.chunk.pop();
        r.offer(&0, parts[0].clone(), at(0));
        r.offer(&0, parts[1].clone(), at(0));
        assert_eq!(
            r.offer(&0, short.clone(), at(0)),
            Offer::Pending { have: 2, count: 3 }
        );
        assert_eq!(
            r.offer(&0, parts[2].clone(), at(0)),
            Offer::Complete(payload.clone())
        );
        // The short copy first, then the good one before the rest.
        let mut r = Reassembler::new(ReassemblyLimits::default());
        r.offer(&0, short, at(0));
        r.offer(&0, parts[2].clone(), at(0));
        r.offer(&0, parts[0].clone(), at(0));
        assert_eq!(
            r.offer(&0, parts[1].clone(), at(0)),
            Offer::Complete(payload)
        );
    }

    #[test]
    fn memory_is_bounded_per_sender_and_overall() {
        let limits = ReassemblyLimits {
            messages_per_sender: 3,
            bytes_per_sender: 2000,
            total_bytes: 5000,
            ..ReassemblyLimits::default()
        };
        let mut r = Reassembler::new(limits);
        // One hostile sender opens many messages with one part each.
        for n in 0..50u32 {
            let parts = segments(&n.to_be_bytes().repeat(80));
            r.offer(&u32::MAX, parts[0].clone(), at(u64::from(n)));
            assert!(r.bytes_held() <= 2000);
            assert!(r.messages_held() <= 3);
        }
        // Many senders together stay under the total.
        for sender in 0..100u32 {
            let parts = segments(&sender.to_be_bytes().repeat(100));
            r.offer(&sender, parts[0].clone(), at(100));
            assert!(r.bytes_held() <= 5000);
        }
        // Nothing was evicted to make room: nothing ends before its time.
        assert!(r.expire(at(100)).is_empty());
    }

    /// A forger (anyone can forge an SMS sender) floods parts from a
    /// contact's number and from many numbers while a message from the
    /// contact is half received: the message still completes.
    #[test]
    fn a_forged_flood_does_not_push_out_a_half_received_message() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let contact = u32::MAX;
        let payload: Vec<u8> = (0..1200u32).map(|i| (i * 7 % 256) as u8).collect();
        let parts = segments(&payload);
        assert_eq!(parts.len(), 10);
        for part in &parts[..5] {
            assert!(matches!(
                r.offer(&contact, part.clone(), at(0)),
                Offer::Pending { .. }
            ));
        }
        // Forged parts under the contact's number, each opening a message
        // of the most parts there can be.
        let forged = segments(&[0xAB; 127 * TEXT_CHUNK])[0].clone();
        assert_eq!(forged.count, 127);
        let mut refused = 0;
        for n in 0..200u32 {
            let forged = Segment {
                id: WireId(n),
                ..forged.clone()
            };
            if r.offer(&contact, forged, at(1)) == Offer::Refused {
                refused += 1;
            }
        }
        assert!(refused > 0);
        // And from many numbers, until the whole table is full.
        for sender in 0..2000u32 {
            if r.offer(&sender, forged.clone(), at(2)) == Offer::Refused {
                refused += 1;
            }
        }
        assert!(refused > 2000 - 100);
        assert!(r.bytes_held() <= ReassemblyLimits::default().total_bytes);
        assert!(r.expire(at(3)).is_empty());
        // The contact's remaining parts arrive: the message completes.
        for part in &parts[5..9] {
            assert!(matches!(
                r.offer(&contact, part.clone(), at(4)),
                Offer::Pending { .. }
            ));
        }
        assert_eq!(
            r.offer(&contact, parts[9].clone(), at(5)),
            Offer::Complete(payload)
        );
        // The forged messages still leave by their own timeout.
        let ended = r.expire(at(10 * 60 + 2));
        assert!(!ended.is_empty());
        assert!(ended.iter().all(|i| i.expiry == Expiry::ResendRequested));
    }

    #[test]
    fn a_new_message_with_a_colliding_id_is_not_a_duplicate() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let old = segments(&[1; 200]);
        for p in &old {
            r.offer(&0, p.clone(), at(0));
        }
        // Forge a different message under the same id and part count.
        let mut new: Vec<Segment> = segments(&[2; 200]);
        for (n, o) in new.iter_mut().zip(&old) {
            n.id = o.id;
        }
        assert_eq!(
            r.offer(&0, new[0].clone(), at(1)),
            Offer::Pending { have: 1, count: 2 }
        );
        assert_eq!(r.offer(&0, old[1].clone(), at(1)), Offer::Duplicate);
    }

    proptest! {
        #[test]
        fn any_order_with_duplicates_completes_exactly_once(
            len in 1usize..1500,
            order in proptest::collection::vec(0usize..64, 0..80),
        ) {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            let parts = segments(&payload);
            let mut r = Reassembler::new(ReassemblyLimits::default());
            let mut completions = 0;
            // Deliver in a shuffled order with repeats, then everything once more.
            let sequence = order.iter().map(|i| i % parts.len()).chain(0..parts.len());
            for i in sequence {
                if let Offer::Complete(p) = r.offer(&"bob", parts[i].clone(), at(0)) {
                    prop_assert_eq!(&p, &payload);
                    completions += 1;
                }
            }
            prop_assert_eq!(completions, 1);
            prop_assert_eq!(r.bytes_held(), 0);
        }
    }
}
