//! `SmsEndpoint`: everything between the phone's SMS radio and the
//! messaging layer, as a state machine without I/O.
//!
//! The Android layer hands every incoming SMS to [`SmsEndpoint::receive_text`]
//! (or [`SmsEndpoint::receive_data`]), sends every [`OutgoingSms`] a call
//! returns, calls [`crate::messaging::mark_sent`] for each
//! [`Step::outbox_ids`] once the radio took the texts, and calls
//! [`SmsEndpoint::tick`] now and then (a minute is plenty) to drive
//! timeouts, resend requests and handshake retries.
//!
//! Parts of unfinished messages are also kept in the store, so that after a
//! restart [`SmsEndpoint::restore`] picks up where the reassembly was: an
//! SMS the platform handed over is never lost to a crash.
//!
//! It owns, in memory: the reassembler, a bounded cache of recently sent
//! payloads (to answer resend requests; also kept in the store, so that
//! [`SmsEndpoint::restore`] brings it back after a restart), the handshake
//! legs waiting for the other side (our hello for its answer, our answer
//! for their side; both are sent again until answered; and our relay,
//! promised in a third leg, until it went out and they wrote), and the replies
//! given to handshake legs (so a leg that comes again, because our reply
//! was lost, gets the same reply again). Losing the replies in a restart
//! costs at most a resend round; the legs are kept by the app
//! ([`SmsEndpoint::waiting_legs`]), since losing them would lose a retry
//! or the promised relay.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use libsignal_protocol::PreKeyBundle;
use rand::{CryptoRng, Rng};

mod automatic;
mod legs;
mod outgoing;

pub use automatic::DEFAULT_AUTOMATIC_SMS_PER_HOUR;
pub use legs::{LegKind, WaitingLeg};

use super::frame::SmsFrame;
use super::handshake;
use super::phone::PhoneNumber;
use super::reassembly::{Expiry, Offer, Reassembler, ReassemblyLimits};
use super::segment::{Segment, SmsCodec, TextSms, WireId, DATA_PORT};
use crate::error::{Error, Result};
use crate::message::{Envelope, EnvelopeKind, MessageId};
use crate::messaging::{self, Outgoing, Received};
use crate::millis;
use crate::relay::invite::RelayInvite;
use crate::store::{in_transaction, Contact, ContactId, HeldSmsPart, SentSms, SottoStore};

/// How the endpoint behaves.
#[derive(Clone, Debug)]
pub struct SmsConfig {
    /// Our relay, told to contacts in handshakes.
    pub own_relay: Option<RelayInvite>,
    /// Reassembly bounds and timeouts.
    pub limits: ReassemblyLimits,
    /// Send payloads as data SMS to [`DATA_PORT`] instead of text SMS.
    pub data_sms: bool,
    /// How long a hello waits for its answer before it is sent again.
    pub hello_retry: Duration,
    /// How many times a hello is sent before the handshake is given up.
    pub hello_attempts: u8,
    /// How many sent payloads are kept for resend requests.
    pub sent_cache: usize,
    /// How long a sent payload is kept for resend requests.
    pub sent_cache_age: Duration,
    /// Ask the user before answering a hello from a number that is no
    /// contact (answering costs about 16 SMS and one prekey, and ties the
    /// number to a key whose sender may have forged the number); otherwise
    /// every valid hello is answered. On by default.
    pub ask_before_answering_strangers: bool,
    /// The most SMS per hour sent without the user asking (resends,
    /// handshake answers, third legs, retries); see `automatic`.
    pub automatic_sms_per_hour: u32,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            own_relay: None,
            limits: ReassemblyLimits::default(),
            data_sms: false,
            hello_retry: Duration::from_secs(30 * 60),
            hello_attempts: 3,
            sent_cache: 256,
            sent_cache_age: Duration::from_secs(24 * 3600),
            ask_before_answering_strangers: true,
            automatic_sms_per_hour: DEFAULT_AUTOMATIC_SMS_PER_HOUR,
        }
    }
}

/// What to put on the air.
#[derive(Clone, PartialEq, Eq)]
pub enum SmsBody {
    /// A text SMS (always a single 160-character GSM-7 SMS for Sotto parts).
    Text(String),
    /// A data SMS: user data for an application port.
    Data {
        /// The destination port.
        port: u16,
        /// The user data.
        bytes: Vec<u8>,
    },
}

impl std::fmt::Debug for SmsBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsBody::Text(t) => write!(f, "Text({} chars)", t.chars().count()),
            SmsBody::Data { port, bytes } => write!(f, "Data(port {port}, {} bytes)", bytes.len()),
        }
    }
}

/// One SMS to send.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// The recipient.
    pub to: PhoneNumber,
    /// What to send.
    pub body: SmsBody,
}

impl std::fmt::Debug for OutgoingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutgoingSms({:?})", self.body)
    }
}

/// Something the app should know or show.
#[derive(Debug)]
pub enum SmsEvent {
    /// An ordinary SMS, stored in its plain thread.
    Plain {
        /// The sender.
        from: PhoneNumber,
        /// Its row in the plain-SMS model.
        id: i64,
    },
    /// An encrypted message, decrypted and committed.
    Received {
        /// The contact it is from.
        contact: ContactId,
        /// What it was.
        received: Received,
    },
    /// A number whose key we do not know says hello, or sends a first
    /// encrypted message: nothing is answered, stored or trusted until the
    /// user agrees ([`SmsEndpoint::accept_stranger`]). Anyone can forge
    /// the number an SMS comes from, so the user is the one who decides.
    StrangerWaiting {
        /// The number.
        from: PhoneNumber,
    },
    /// We answered a hello; the contact was created if `new_contact`.
    HandshakeAnswered {
        /// The contact.
        contact: ContactId,
        /// Whether the contact is new.
        new_contact: bool,
    },
    /// The handshake with the contact is complete on our side: sessions
    /// both ways, relay addresses exchanged.
    SessionReady {
        /// The contact.
        contact: ContactId,
    },
    /// Our hello was sent [`SmsConfig::hello_attempts`] times and never
    /// answered.
    HandshakeUnanswered {
        /// The number we tried.
        to: PhoneNumber,
    },
    /// An encrypted message is missing parts: shown as "incomplete", never
    /// as ciphertext. With [`Expiry::ResendRequested`] a resend request went
    /// to the sender and the message may still complete.
    Incomplete {
        /// The sender.
        from: PhoneNumber,
        /// The message.
        id: WireId,
        /// Parts it has in all.
        count: u8,
        /// Parts missing.
        missing: usize,
        /// Whether it is still waiting or gone.
        expiry: Expiry,
    },
    /// The first part of a new encrypted message was dropped: too many
    /// unfinished messages from this number, or from all numbers together
    /// (SMS senders can be forged; messages already begun are never pushed
    /// out for new ones). If it was real, the sender's part will be asked
    /// for again once its later parts open the message.
    PartRefused {
        /// The sender.
        from: PhoneNumber,
    },
    /// Automatic SMS (resends, handshake answers, retries) were not sent:
    /// [`SmsConfig::automatic_sms_per_hour`] was reached. They are not
    /// queued; the other side asks again, or our timer retries, and what is
    /// still needed goes out in a later hour.
    AutomaticSmsHeldBack {
        /// How many SMS were held back.
        sms: usize,
        /// The cap in force.
        per_hour: u32,
    },
    /// A text in Sotto's form that was damaged on the way (never shown).
    Damaged {
        /// The sender.
        from: PhoneNumber,
    },
    /// A complete Sotto message that could not be used: undecryptable, a
    /// bad hello, or a changed identity (see `session::trust_new_identity`).
    Failed {
        /// The sender.
        from: PhoneNumber,
        /// The message.
        id: WireId,
        /// Why (never carries user data).
        error: Error,
    },
}

/// What one call produced.
#[derive(Debug, Default)]
pub struct Step {
    /// What happened.
    pub events: Vec<SmsEvent>,
    /// SMS to send, in order.
    pub outgoing: Vec<OutgoingSms>,
    /// Outbox entries these SMS carry: pass each to
    /// [`crate::messaging::mark_sent`] once the radio took them.
    pub outbox_ids: Vec<i64>,
}

struct SentPayload {
    to: PhoneNumber,
    id: WireId,
    payload: Vec<u8>,
    data: bool,
    at_ms: u64,
    /// The stored text it carries, which can be encrypted afresh.
    text: Option<(ContactId, MessageId)>,
    /// How many more times it may be encrypted afresh; a fresh copy gets
    /// one fewer than the copy it replaces, so a text is re-encrypted at
    /// most [`MAX_REFRESHES`] times in all.
    refreshes_left: u8,
    /// Its row in the store (`sms_sent`), which keeps it across restarts.
    row: i64,
    /// It carried our relay (`Content.sender_relay`), so a fresh copy must
    /// too. Not kept across restarts (a fresh copy then carries the relay
    /// if it is still owed).
    carries_relay: bool,
    /// How many times each part was sent again (at most
    /// `automatic::MAX_PART_RESENDS`; not kept across restarts).
    part_resends: Vec<u8>,
}

/// How many times one text may be encrypted afresh for a receiver that
/// could not decrypt it (see [`SmsEndpoint`]'s resend handling).
const MAX_REFRESHES: u8 = 3;

struct PendingHello {
    contact: ContactId,
    payload: Vec<u8>,
    sent_at_ms: u64,
    attempts: u8,
}

/// Our relay, promised to a contact in the third handshake leg
/// (`relay_follows`) and not yet acknowledged by anything from them.
struct OwedRelay {
    contact: ContactId,
    /// When it was promised, or last sent (ms since the epoch).
    since_ms: u64,
    /// How many times it went out (with a text, or on its own); at most
    /// [`MAX_RELAY_RIDES`].
    rides: u8,
}

/// How many of our texts carry a promised relay at most. A contact who
/// never writes back by SMS must not cost ~65 bytes on every text for
/// ever; two copies cover one text lost whole.
const MAX_RELAY_RIDES: u8 = 2;

struct GivenAnswer {
    payload: Vec<u8>,
    resent_at_ms: u64,
}

/// The SMS side of one Sotto device.
pub struct SmsEndpoint {
    config: SmsConfig,
    reassembler: Reassembler<PhoneNumber>,
    sent: VecDeque<SentPayload>,
    /// Our hellos, waiting for an answer.
    hellos: BTreeMap<PhoneNumber, PendingHello>,
    /// Our answers to hellos, waiting for the other side's handshake.
    unconfirmed: BTreeMap<PhoneNumber, PendingHello>,
    /// Our relay, promised in a third leg, until it went out and they wrote.
    relay_owed: BTreeMap<PhoneNumber, OwedRelay>,
    /// When we last gave a third leg to each number (ms since the epoch):
    /// one per quiet period, however many answers ask for one.
    third_legs: BTreeMap<PhoneNumber, u64>,
    /// The reply we gave to a handshake leg, by the leg's sender and id.
    replies: BTreeMap<(PhoneNumber, WireId), GivenAnswer>,
    /// Resend requests sent, as their nonce.
    requests_sent: u8,
    /// What strangers sent, waiting for the user's decision, with when
    /// it came (ms since the epoch).
    waiting: BTreeMap<PhoneNumber, (StrangerRequest, u64)>,
    /// The automatic SMS sent this hour.
    automatic: automatic::HourlyCap,
}

/// What a number whose key we do not know sent, kept until the user
/// accepts or declines it.
enum StrangerRequest {
    /// A hello: answering it costs ~16 SMS and a prekey.
    Hello { id: WireId, bundle: PreKeyBundle },
    /// A first encrypted message (they had our bundle from elsewhere).
    Message { id: WireId, envelope: Envelope },
}

/// The most strangers' requests kept waiting for the user, and replies
/// remembered.
const MAX_WAITING_STRANGERS: usize = 32;
const MAX_REPLIES: usize = 1024;

impl std::fmt::Debug for SmsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsEndpoint")
            .field("reassembler", &self.reassembler)
            .field("sent", &self.sent.len())
            .field("hellos", &self.hellos.len())
            .finish_non_exhaustive()
    }
}

impl SmsEndpoint {
    /// A fresh endpoint.
    pub fn new(config: SmsConfig) -> Self {
        Self {
            reassembler: Reassembler::new(config.limits),
            automatic: automatic::HourlyCap::new(config.automatic_sms_per_hour),
            config,
            sent: VecDeque::new(),
            hellos: BTreeMap::new(),
            unconfirmed: BTreeMap::new(),
            relay_owed: BTreeMap::new(),
            third_legs: BTreeMap::new(),
            replies: BTreeMap::new(),
            requests_sent: 0,
            waiting: BTreeMap::new(),
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SmsConfig {
        &self.config
    }

    /// The reassembler, for inspection (bytes and messages held).
    pub fn reassembler(&self) -> &Reassembler<PhoneNumber> {
        &self.reassembler
    }

    /// Handles one incoming text SMS (for a concatenated plain SMS, the
    /// whole text the platform joined).
    pub fn receive_text<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        text: &str,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<Step> {
        let mut step = Step::default();
        match SmsCodec::parse_text(text) {
            TextSms::Plain => {
                let id = super::plain::receive_sms(store, from, text, now)?;
                step.events.push(SmsEvent::Plain {
                    from: from.clone(),
                    id,
                });
            }
            TextSms::Damaged => step.events.push(SmsEvent::Damaged { from: from.clone() }),
            TextSms::Segment(segment) => {
                let raw = Some((false, text.as_bytes()));
                self.take_segment(store, from, segment, raw, now, rng, &mut step)?
            }
        }
        self.cap_automatic(store, &mut step, usize::MAX, now)?;
        Ok(step)
    }

    /// Handles one incoming data SMS received on [`DATA_PORT`].
    pub fn receive_data<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        data: &[u8],
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<Step> {
        let mut step = Step::default();
        match SmsCodec::parse_data(data) {
            Ok(segment) => self.take_segment(
                store,
                from,
                segment,
                Some((true, data)),
                now,
                rng,
                &mut step,
            )?,
            Err(_) => step.events.push(SmsEvent::Damaged { from: from.clone() }),
        }
        self.cap_automatic(store, &mut step, usize::MAX, now)?;
        Ok(step)
    }

    /// Drives time: reassembly timeouts (resend requests, incomplete
    /// messages), hello retries and cache expiry.
    pub fn tick<S: SottoStore>(
        &mut self,
        store: &mut S,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<Step> {
        let now_ms = millis(now);
        let mut step = Step::default();
        for incomplete in self.reassembler.expire(now) {
            if incomplete.expiry == Expiry::ResendRequested {
                // A resend request is not itself cached: if it is lost, the
                // next round asks again.
                let missing = incomplete.missing.clone();
                self.request_resend(
                    &incomplete.sender,
                    incomplete.id,
                    incomplete.count,
                    missing,
                    &mut step,
                )?;
            } else {
                // Given up: its held parts go too.
                let (phone, id, count) = (&incomplete.sender, incomplete.id.0, incomplete.count);
                in_transaction(store, |store| store.release_sms_parts(phone, id, count))?;
            }
            step.events.push(SmsEvent::Incomplete {
                from: incomplete.sender,
                id: incomplete.id,
                count: incomplete.count,
                missing: incomplete.missing.len(),
                expiry: incomplete.expiry,
            });
        }
        // What follows sends again what we sent before (see `automatic`).
        let retries_from = step.outgoing.len();
        let (config, hellos, unconfirmed) = (&self.config, &mut self.hellos, &mut self.unconfirmed);
        Self::retry_legs(config, hellos, now_ms, &mut step)?;
        Self::retry_legs(config, unconfirmed, now_ms, &mut step)?;
        self.send_owed_relays(store, now, rng, &mut step)?;
        let keep_ms = self.config.sent_cache_age.as_millis() as u64;
        while self
            .sent
            .front()
            .is_some_and(|s| s.at_ms + keep_ms <= now_ms)
        {
            if let Some(old) = self.sent.pop_front() {
                in_transaction(store, |store| store.forget_sent_sms(old.row))?;
            }
        }
        let reply_keep = self.config.limits.remember_completed.as_millis() as u64;
        self.replies
            .retain(|_, reply| reply.resent_at_ms + reply_keep > now_ms);
        self.waiting
            .retain(|_, (_, at_ms)| *at_ms + reply_keep > now_ms);
        let quiet_ms = self.config.hello_retry.as_millis() as u64 / 2;
        // (A time ahead of now is the clock gone back: forgotten too.)
        self.third_legs
            .retain(|_, at_ms| *at_ms <= now_ms && *at_ms + quiet_ms > now_ms);
        self.cap_automatic(store, &mut step, retries_from, now)?;
        Ok(step)
    }

    /// Offers a part to the reassembler. `raw` is the SMS as received, kept
    /// in the store while its message is unfinished; `None` when the part
    /// comes from the store already ([`SmsEndpoint::restore`]).
    #[allow(clippy::too_many_arguments)]
    fn take_segment<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        segment: Segment,
        raw: Option<(bool, &[u8])>,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        let (id, count) = (segment.id, segment.count);
        match self.reassembler.offer(from, segment, now) {
            Offer::Complete(payload) => {
                self.take_payload(store, from, (id, count), &payload, now, rng, step)?;
                // After the payload's own commit: a crash in between replays
                // the parts, and the messaging layer knows the message.
                if count > 1 {
                    in_transaction(store, |store| store.release_sms_parts(from, id.0, count))?;
                }
                Ok(())
            }
            Offer::Pending { .. } => {
                if let Some((data, body)) = raw {
                    let part = HeldSmsPart {
                        id: 0,
                        phone: from.clone(),
                        wire_id: id.0,
                        count,
                        data,
                        body: body.to_vec(),
                        received_at_ms: millis(now),
                    };
                    in_transaction(store, |store| store.hold_sms_part(&part))?;
                }
                Ok(())
            }
            Offer::Duplicate => self.repeat_reply(from, id, now, step),
            Offer::Refused => {
                if raw.is_none() {
                    in_transaction(store, |store| store.release_sms_parts(from, id.0, count))?;
                }
                step.events
                    .push(SmsEvent::PartRefused { from: from.clone() });
                Ok(())
            }
            Offer::Corrupt => {
                // A one-part message cut short: its header survived (see
                // `segment`), so ask for it again.
                step.events.push(SmsEvent::Damaged { from: from.clone() });
                self.request_resend(from, id, count, vec![0], step)
            }
        }
    }

    /// Rebuilds the state the store keeps, after a restart: the payloads
    /// sent (to answer resend requests) and the reassembly of messages
    /// whose parts are held. Call it once, before anything else, on a fresh
    /// endpoint.
    pub fn restore<S: SottoStore>(
        &mut self,
        store: &mut S,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<Step> {
        let mut step = Step::default();
        for kept in store.sent_sms()? {
            self.sent.push_back(SentPayload {
                to: kept.phone,
                id: WireId(kept.wire_id),
                payload: kept.payload,
                data: kept.data,
                at_ms: kept.sent_at_ms,
                text: kept.text,
                refreshes_left: kept.refreshes_left,
                row: kept.id,
                carries_relay: false,
                part_resends: Vec::new(),
            });
        }
        self.trim_sent(store)?;
        for part in store.held_sms_parts()? {
            let segment = if part.data {
                SmsCodec::parse_data(&part.body).ok()
            } else {
                match SmsCodec::parse_text(&String::from_utf8_lossy(&part.body)) {
                    TextSms::Segment(segment) => Some(segment),
                    TextSms::Plain | TextSms::Damaged => None,
                }
            };
            let at = SystemTime::UNIX_EPOCH + Duration::from_millis(part.received_at_ms);
            match segment {
                Some(segment) => {
                    self.take_segment(store, &part.phone, segment, None, at, rng, &mut step)?
                }
                None => {
                    in_transaction(store, |store| {
                        store.release_sms_parts(&part.phone, part.wire_id, part.count)
                    })?;
                }
            }
        }
        Ok(step)
    }

    #[allow(clippy::too_many_arguments)]
    fn take_payload<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        (id, count): (WireId, u8),
        payload: &[u8],
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        let frame = match SmsFrame::from_bytes(payload) {
            Ok(frame) => frame,
            Err(error) => {
                step.events.push(SmsEvent::Failed {
                    from: from.clone(),
                    id,
                    error,
                });
                return Ok(());
            }
        };
        match frame {
            SmsFrame::Hello { bundle } => self.take_hello(store, from, id, &bundle, now, rng, step),
            SmsFrame::Envelope(envelope) => {
                self.take_envelope(store, from, (id, count), &envelope, now, rng, step)
            }
            SmsFrame::ResendRequest {
                id, count, missing, ..
            } => self.resend(store, from, id, count, &missing, now, rng, step),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn take_envelope<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        (id, count): (WireId, u8),
        envelope: &Envelope,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        let bytes = envelope.to_bytes();
        let contact = store.contact_by_phone(from)?;
        let (key_known, pending) = match &contact {
            Some(contact) => (
                store.identity_record(contact)?.is_some(),
                store.handshake_pending(contact)?,
            ),
            None => (false, false),
        };
        // Only the answer to our hello may introduce a key for the number
        // by itself: it is built on the prekeys our hello took to the real
        // number, which a forger of the number never saw.
        let answers_our_hello = self.answers_our_hello(from, envelope);
        let result = match contact {
            Some(contact) if answers_our_hello => {
                messaging::receive(store, &contact, &bytes, now, rng).map(|r| (contact, r))
            }
            // While the handshake our answer began waits for its last leg
            // (also after we stopped sending the answer again), a new
            // session from the number proves nothing: whoever sent the
            // hello holds its key and may have a bundle of ours. Only a
            // message in the session our answer made completes it. (A
            // contact whose key we held before answering is not pending: a
            // new session from that key is theirs.)
            Some(_) if envelope.kind == EnvelopeKind::PreKey && pending => {
                Err(Error::HandshakeIncomplete)
            }
            Some(contact) if key_known => {
                messaging::receive(store, &contact, &bytes, now, rng).map(|r| (contact, r))
            }
            _ if envelope.kind == EnvelopeKind::PreKey && from.is_e164() => {
                let request = StrangerRequest::Message {
                    id,
                    envelope: envelope.clone(),
                };
                self.wait_for_user(from, request, now, step);
                return Ok(());
            }
            _ => Err(Error::NoSession),
        };
        let (contact, received) = match result {
            Ok(ok) => ok,
            Err(error @ Error::Storage(_)) => return Err(error),
            Err(error) => {
                if matches!(error, Error::Undecryptable(_)) {
                    // Perhaps too late for its chain: ask for it afresh. The
                    // request goes twice (one SMS each, different nonces):
                    // nothing else would notice its loss, and the sender
                    // acts on the first that arrives only.
                    self.request_resend(from, id, count, Vec::new(), step)?;
                    self.request_resend(from, id, count, Vec::new(), step)?;
                }
                step.events.push(SmsEvent::Failed {
                    from: from.clone(),
                    id,
                    error,
                });
                return Ok(());
            }
        };
        // They wrote after our promised relay went out: it is delivered (or
        // was lost with a text lost whole, which nothing could tell apart).
        // A copy of an old message, or one from a new identity waiting for
        // the user, says nothing about what they have.
        let news = !matches!(
            received,
            Received::Duplicate | Received::HeldForUntrustedIdentity
        );
        // The answer to our hello came (perhaps under a new key, held for
        // the user): the hello is not sent again either way.
        let hello_answered = answers_our_hello
            && !matches!(received, Received::Duplicate)
            && self.hellos.remove(from).is_some();
        let answered_our_hello = hello_answered && news;
        if news && self.relay_owed.get(from).is_some_and(|owed| owed.rides > 0) {
            self.relay_owed.remove(from);
        }
        // A message in an existing session (not a PreKey message, which
        // anyone holding the hello's key could make from a bundle of ours)
        // shows they have the session our answer made, so the number is
        // theirs: the handshake is complete.
        let in_our_session = news && envelope.kind == EnvelopeKind::Signal;
        let confirmed_our_answer =
            in_our_session && (self.unconfirmed.remove(from).is_some() || pending);
        if pending && (answered_our_hello || confirmed_our_answer) {
            in_transaction(store, |store| store.set_handshake_pending(from, false))?;
        }
        if let Received::ContactHandshake(handshake) = &received {
            if handshake.same_relay_as_yours {
                if let Some(mut stored) = store.contact(&contact)? {
                    if stored.relay != self.config.own_relay {
                        stored.relay = self.config.own_relay.clone();
                        in_transaction(store, |store| store.save_contact(&stored))?;
                    }
                }
            }
            // A third leg per number per quiet period, unless it answers a
            // hello of ours: a contact asking for one again and again must
            // not make us answer SMS for SMS. (A lost third leg is repeated
            // for its answer's own parts, see `repeat_reply`, and an answer
            // sent again comes after the quiet period.)
            let quiet_ms = self.config.hello_retry.as_millis() as u64 / 2;
            let now_ms = millis(now);
            let replied_lately = self
                .third_legs
                .get(from)
                .is_some_and(|&at_ms| at_ms <= now_ms && at_ms + quiet_ms > now_ms);
            if handshake.wants_reply && (answered_our_hello || !replied_lately) {
                let (outgoing, sent) = handshake::our_side(
                    store,
                    &contact,
                    self.config.own_relay.as_ref(),
                    false,
                    now,
                    rng,
                )?;
                // A promise already made is not made again: a peer asking
                // for handshakes must not restart the riding.
                if sent.relay_follows {
                    self.relay_owed
                        .entry(from.clone())
                        .or_insert_with(|| OwedRelay {
                            contact: contact.clone(),
                            since_ms: millis(now),
                            rides: 0,
                        });
                }
                self.remember_reply(from, id, outgoing.envelope.to_bytes(), now);
                self.send_outgoing(store, from, &outgoing, now, step)?;
                self.third_legs.insert(from.clone(), now_ms);
            }
        }
        // A third leg never carries a relay; a handshake with one and no
        // wish for a reply is a promised relay arriving, not a new session.
        let ready = answered_our_hello
            || confirmed_our_answer
            || (in_our_session
                && matches!(&received, Received::ContactHandshake(h) if !h.wants_reply && h.relay.is_none()));
        step.events.push(SmsEvent::Received {
            contact: contact.clone(),
            received,
        });
        if ready {
            step.events.push(SmsEvent::SessionReady { contact });
        }
        Ok(())
    }
}
