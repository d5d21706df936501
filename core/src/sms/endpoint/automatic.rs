//! What [`SmsEndpoint`] may send on its own: SMS the user did not directly
//! cause (resend answers and requests, handshake answers, third legs,
//! retries, promised relays). Anyone can forge an SMS sender, so each of
//! them is something a stranger can make this phone pay for, to numbers the
//! stranger chooses. Three limits hold that cost down:
//!
//! - each part of a sent payload is sent again at most
//!   [`MAX_PART_RESENDS`] times, whoever asks (`outgoing::resend`);
//! - at most [`SmsConfig::automatic_sms_per_hour`] automatic SMS per hour
//!   ([`HourlyCap`]); what does not fit is not sent, and the step says so
//!   with [`SmsEvent::AutomaticSmsHeldBack`]. Nothing is queued for later:
//!   every automatic SMS is asked for again by the other side (resend
//!   requests, a hello or answer sent again) or retried on our timer, so
//!   what is still needed goes out in a later hour;
//! - no retries towards numbers that are no accepted contact
//!   ([`is_accepted_contact`]): whatever a timer would send again to them
//!   (a hello, an answer) is dropped, and their resend requests are not
//!   answered. Asking them for missing parts of their own message (one SMS
//!   a round) still goes, within the cap and after accepted contacts' SMS:
//!   a new contact's hello over a lossy network needs it.

use super::*;

/// The default of [`SmsConfig::automatic_sms_per_hour`]: one handshake
/// answer (about 16 SMS) and a dozen parts sent again.
pub const DEFAULT_AUTOMATIC_SMS_PER_HOUR: u32 = 30;

/// About what answering a hello costs (`docs/sms-transport.md`, "Costs").
const HANDSHAKE_ANSWER_SMS: usize = 16;

/// How many times one part of a sent payload may be sent again in all.
pub(super) const MAX_PART_RESENDS: u8 = 2;

/// The automatic SMS sent in the current hour.
#[derive(Debug)]
pub(super) struct HourlyCap {
    per_hour: u32,
    /// When the current hour began (ms since the epoch).
    since_ms: u64,
    used: u32,
    /// SMS held back since [`SmsEndpoint::take_automatic_held_back`] last
    /// asked.
    held_back: usize,
}

const HOUR_MS: u64 = 3600 * 1000;

impl HourlyCap {
    pub(super) fn new(per_hour: u32) -> Self {
        Self {
            per_hour,
            since_ms: 0,
            used: 0,
            held_back: 0,
        }
    }

    pub(super) fn set_per_hour(&mut self, per_hour: u32) {
        self.per_hour = per_hour;
    }

    fn roll(&mut self, now_ms: u64) {
        // (A time before the hour began is the clock gone back: a new hour.)
        if now_ms < self.since_ms || now_ms >= self.since_ms + HOUR_MS {
            self.since_ms = now_ms;
            self.used = 0;
        }
    }

    /// Whether `sms` more fit in this hour, without taking them.
    pub(super) fn fits(&mut self, sms: usize, now_ms: u64) -> bool {
        self.roll(now_ms);
        u64::from(self.used) + sms as u64 <= u64::from(self.per_hour)
    }

    /// Takes `sms` from this hour's allowance if they all fit.
    fn take(&mut self, sms: usize, now_ms: u64) -> bool {
        if !self.fits(sms, now_ms) {
            return false;
        }
        self.used += sms as u32;
        true
    }
}

/// Whether `phone` belongs to a contact the user accepted: a contact
/// record exists for the number. Every link of a number to a contact is
/// the user's doing (starting a handshake with it, accepting its request,
/// linking it to a contact added by invite; a stranger's hello or first
/// message only waits, see `SmsEndpoint::accept_stranger`), so the record
/// is the consent. Every automatic retry and every resend answer asks this,
/// and nothing else.
pub(super) fn is_accepted_contact<S: SottoStore>(store: &S, phone: &PhoneNumber) -> Result<bool> {
    Ok(store.contact_by_phone(phone)?.is_some())
}

impl SmsEndpoint {
    /// Changes [`SmsConfig::automatic_sms_per_hour`] of a running endpoint
    /// (what the current hour already used stays used).
    pub fn set_automatic_sms_per_hour(&mut self, per_hour: u32) {
        self.config.automatic_sms_per_hour = per_hour;
        self.automatic.set_per_hour(per_hour);
    }

    /// How many automatic SMS were held back by the hourly cap since the
    /// last call (each time also told by [`SmsEvent::AutomaticSmsHeldBack`]).
    pub fn take_automatic_held_back(&mut self) -> usize {
        std::mem::take(&mut self.automatic.held_back)
    }

    /// Whether this hour's cap has room to answer a hello from a number
    /// that is no contact. Checked before anything is done for it: a hello
    /// left unanswered leaves no contact, session or leg to retry behind,
    /// and its sender sends it again.
    pub(super) fn room_for_an_answer(&mut self, now: SystemTime, step: &mut Step) -> bool {
        self.room_for(HANDSHAKE_ANSWER_SMS, now, step)
    }

    /// Whether `sms` automatic SMS fit this hour; if not, says they were
    /// held back. For work that cannot be undone once done (a text
    /// encrypted afresh, a hello answered), asked before doing it.
    pub(super) fn room_for(&mut self, sms: usize, now: SystemTime, step: &mut Step) -> bool {
        if self.automatic.fits(sms, millis(now)) {
            return true;
        }
        self.report_held_back(sms, step);
        false
    }

    fn report_held_back(&mut self, sms: usize, step: &mut Step) {
        tracing::info!(sms, "automatic SMS over the hourly cap held back");
        self.automatic.held_back = self.automatic.held_back.saturating_add(sms);
        step.events.push(SmsEvent::AutomaticSmsHeldBack {
            sms,
            per_hour: self.config.automatic_sms_per_hour,
        });
    }

    /// Holds back what `step` would send on its own beyond this hour's cap,
    /// and the SMS from `retries_from` on (what we send again) that go to
    /// numbers that are no accepted contact. The SMS to one number in a row
    /// are one unit (an answer of 16 parts goes whole or not at all), and
    /// accepted contacts' units take the hour's allowance first, so a flood
    /// of forged numbers cannot starve them.
    pub(super) fn cap_automatic<S: SottoStore>(
        &mut self,
        store: &S,
        step: &mut Step,
        retries_from: usize,
        now: SystemTime,
    ) -> Result<()> {
        let now_ms = millis(now);
        // (first SMS, SMS count, to an accepted contact)
        let mut units: Vec<(usize, usize, bool)> = Vec::new();
        for (index, sms) in step.outgoing.iter().enumerate() {
            match units.last_mut() {
                Some((first, count, _)) if step.outgoing[*first].to == sms.to => *count += 1,
                _ => units.push((index, 1, is_accepted_contact(store, &sms.to)?)),
            }
        }
        let mut keep = vec![false; units.len()];
        let (mut held_back, mut to_strangers) = (0, 0);
        for accepted_pass in [true, false] {
            for (unit, &(first, count, accepted)) in units.iter().enumerate() {
                if accepted != accepted_pass {
                    continue;
                }
                if !accepted && first >= retries_from {
                    to_strangers += count;
                } else if self.automatic.take(count, now_ms) {
                    keep[unit] = true;
                } else {
                    held_back += count;
                }
            }
        }
        let mut outgoing = std::mem::take(&mut step.outgoing).into_iter();
        for (&(_, count, _), keep) in units.iter().zip(keep) {
            let unit = outgoing.by_ref().take(count);
            if keep {
                step.outgoing.extend(unit);
            } else {
                unit.for_each(drop);
            }
        }
        if to_strangers > 0 {
            tracing::info!(sms = to_strangers, "no automatic retries to strangers");
        }
        if held_back > 0 {
            self.report_held_back(held_back, step);
        }
        Ok(())
    }
}
