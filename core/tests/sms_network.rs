//! Two cores talking over a simulated, hostile SMS carrier: the discovery
//! handshake, then encrypted texts both ways. Every text whose parts all
//! arrive intact must decrypt exactly once; every text of which something
//! arrived but not everything must end in a visible "incomplete" state.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::Rng;
use sotto_core::message::MessageId;
use sotto_core::messaging::{self, Received};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::sms::route::route_facts;
use sotto_core::sms::{
    choose_route, Expiry, PhoneNumber, Route, SmsBody, SmsCodec, SmsConfig, SmsEndpoint, SmsEvent,
    Step, TextSms, TransportPolicy, WireId,
};
use sotto_core::store::{ContactId, InMemStore, SottoStore, SqlCipherStore};
use sotto_core::Result;
use support::sms_network::{Faults, SimCarrier};
use support::*;

const START_MS: u64 = 1_780_000_000_000;

fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// One phone: its number, store, SMS endpoint and everything it was told.
struct Phone<S> {
    number: PhoneNumber,
    store: S,
    endpoint: SmsEndpoint,
    peer: Option<ContactId>,
    events: Vec<SmsEvent>,
}

/// One encryption of a text on the wire (the first, or a fresh one the
/// receiver asked for), and which of its parts arrived intact.
struct Copy {
    id: WireId,
    count: u8,
    intact_parts: BTreeSet<u8>,
}

impl Copy {
    fn complete(&self) -> bool {
        self.intact_parts.len() == usize::from(self.count)
    }
}

/// A text sent during the run, and what became of it.
struct Sent {
    from_a: bool,
    copies: Vec<Copy>,
    /// Some part of some copy arrived intact.
    any_part_arrived: bool,
    /// Some part arrived, but cut short.
    damaged_part_arrived: bool,
}

struct World<S> {
    a: Phone<S>,
    b: Phone<S>,
    carrier: SimCarrier,
    now_ms: u64,
    rng: StdRng,
    /// Every Sotto SMS of a text, to (the text, its copy).
    tags: HashMap<String, (usize, usize)>,
    /// The message id of every text sent, to the text.
    message_tags: HashMap<MessageId, usize>,
    sent: Vec<Sent>,
}

fn relay(host: &str, rng: &mut StdRng) -> RelayInvite {
    RelayInvite {
        host: host.into(),
        port: 7443,
        trust_root: libsignal_protocol::KeyPair::generate(rng).public_key,
    }
}

impl<S: SottoStore> World<S> {
    fn new(a: S, b: S, faults: Faults, same_relay: bool, seed: u64) -> Result<Self> {
        let mut rng = rng(seed);
        let relay_a = relay("relay-a.example", &mut rng);
        let relay_b = if same_relay {
            relay_a.clone()
        } else {
            relay("relay-b.example", &mut rng)
        };
        let phone = |number: &str, store: S, relay| -> Result<Phone<S>> {
            Ok(Phone {
                number: PhoneNumber::parse(number, "DE")?,
                store,
                // Both users agree to the handshake; consent is tested in
                // `sms_handshake`.
                endpoint: SmsEndpoint::new(SmsConfig {
                    own_relay: Some(relay),
                    ask_before_answering_strangers: false,
                    // A text every 20 s over a lossy line needs far more
                    // resends than the hourly cap on automatic SMS is
                    // sized for; the cap is tested in sms_cost.rs.
                    automatic_sms_per_hour: 100_000,
                    ..SmsConfig::default()
                }),
                peer: None,
                events: Vec::new(),
            })
        };
        Ok(Self {
            a: phone("030 901820", a, relay_a)?,
            b: phone("+49 151 23456789", b, relay_b)?,
            carrier: SimCarrier::new(seed, faults),
            now_ms: START_MS,
            rng,
            tags: HashMap::new(),
            message_tags: HashMap::new(),
            sent: Vec::new(),
        })
    }

    /// Puts a step's SMS on the air and marks its outbox entries sent.
    fn submit(&mut self, from_a: bool, step: Step) -> Result<()> {
        let (from, to) = if from_a {
            (&self.a.number, &self.b.number)
        } else {
            (&self.b.number, &self.a.number)
        };
        for sms in step.outgoing {
            assert!(&sms.to == to);
            self.carrier.submit(from, to, sms.body, self.now_ms);
        }
        let phone = if from_a { &mut self.a } else { &mut self.b };
        let outbox = phone.store.outbox()?;
        for id in step.outbox_ids {
            // A text encrypted afresh: follow it as a new copy of its text.
            let entry = outbox.iter().find(|e| e.id == id).expect("queued");
            if let Some(&tag) = self.message_tags.get(&entry.message_id) {
                let payload = entry.envelope.to_bytes();
                let copy = Copy {
                    id: WireId::of(&payload),
                    count: SmsCodec::text_parts(payload.len()) as u8,
                    intact_parts: BTreeSet::new(),
                };
                let texts = SmsCodec::to_texts(&payload)?;
                let sent = &mut self.sent[tag];
                sent.copies.push(copy);
                for text in texts {
                    self.tags.insert(text, (tag, sent.copies.len() - 1));
                }
            }
            messaging::mark_sent(&mut phone.store, id)?;
        }
        phone.events.extend(step.events);
        Ok(())
    }

    /// Moves simulated time forward by `ms`, delivering what falls due and
    /// ticking both endpoints once a minute.
    fn run_for(&mut self, ms: u64) -> Result<()> {
        let end = self.now_ms + ms;
        while self.now_ms < end {
            self.now_ms += 10_000;
            for delivery in self.carrier.deliver_due(self.now_ms) {
                let SmsBody::Text(text) = &delivery.body else {
                    continue;
                };
                if let Some(&(tag, copy)) = self.tags.get(text) {
                    if let TextSms::Segment(segment) = SmsCodec::parse_text(text) {
                        let sent = &mut self.sent[tag];
                        if delivery.intact {
                            sent.any_part_arrived = true;
                            sent.copies[copy].intact_parts.insert(segment.index);
                        }
                    }
                } else if !delivery.intact {
                    // A damaged copy of a tagged text is still "something arrived".
                    for (sent_text, &(tag, _)) in &self.tags {
                        if let SmsBody::Text(got) = &delivery.body {
                            if !got.is_empty() && sent_text.starts_with(got.as_str()) {
                                self.sent[tag].damaged_part_arrived = true;
                            }
                        }
                    }
                }
                let to_a = delivery.to == self.a.number;
                let now = at(self.now_ms);
                let step = if to_a {
                    self.a.endpoint.receive_text(
                        &mut self.a.store,
                        &delivery.from,
                        text,
                        now,
                        &mut self.rng,
                    )?
                } else {
                    self.b.endpoint.receive_text(
                        &mut self.b.store,
                        &delivery.from,
                        text,
                        now,
                        &mut self.rng,
                    )?
                };
                self.submit(to_a, step)?;
            }
            if self.now_ms % 60_000 == 0 {
                let step =
                    self.a
                        .endpoint
                        .tick(&mut self.a.store, at(self.now_ms), &mut self.rng)?;
                self.submit(true, step)?;
                let step =
                    self.b
                        .endpoint
                        .tick(&mut self.b.store, at(self.now_ms), &mut self.rng)?;
                self.submit(false, step)?;
            }
        }
        Ok(())
    }

    fn session_ready(phone: &Phone<S>) -> bool {
        phone
            .events
            .iter()
            .any(|e| matches!(e, SmsEvent::SessionReady { .. }))
    }

    /// Runs the discovery handshake from A; returns the SMS it took.
    fn handshake(&mut self) -> Result<usize> {
        let before = self.carrier.submitted;
        let (contact, step) = self.a.endpoint.start_handshake(
            &mut self.a.store,
            &self.b.number.clone(),
            "Bob",
            at(self.now_ms),
            &mut self.rng,
        )?;
        self.a.peer = Some(contact);
        self.submit(true, step)?;
        for _ in 0..(24 * 60) {
            if Self::session_ready(&self.a) && Self::session_ready(&self.b) {
                break;
            }
            self.run_for(60_000)?;
        }
        assert!(Self::session_ready(&self.a), "A never got an answer");
        assert!(Self::session_ready(&self.b), "B never got A's side");
        self.b.peer = self.b.events.iter().find_map(|e| match e {
            SmsEvent::HandshakeAnswered { contact, .. } => Some(contact.clone()),
            _ => None,
        });
        Ok(self.carrier.submitted - before)
    }

    fn send(&mut self, from_a: bool, text: &str) -> Result<()> {
        let now = at(self.now_ms);
        let phone = if from_a { &mut self.a } else { &mut self.b };
        let peer = phone.peer.clone().expect("handshake done");
        let mut step =
            phone
                .endpoint
                .send_text(&mut phone.store, &peer, text, now, &mut self.rng)?;
        let outbox = phone.store.outbox()?;
        let tag = self.sent.len();
        let mut id_count = None;
        for sms in &step.outgoing {
            if let SmsBody::Text(t) = &sms.body {
                if let TextSms::Segment(s) = SmsCodec::parse_text(t.as_str()) {
                    id_count = Some((s.id, s.count));
                }
                self.tags.insert(t.clone(), (tag, 0));
            }
        }
        let (id, count) = id_count.expect("a Sotto text");
        self.sent.push(Sent {
            from_a,
            copies: vec![Copy {
                id,
                count,
                intact_parts: BTreeSet::new(),
            }],
            any_part_arrived: false,
            damaged_part_arrived: false,
        });
        // The first copy is followed above; mark it sent here.
        for id in std::mem::take(&mut step.outbox_ids) {
            let entry = outbox.iter().find(|e| e.id == id).expect("queued");
            self.message_tags.insert(entry.message_id, tag);
            let phone = if from_a { &mut self.a } else { &mut self.b };
            messaging::mark_sent(&mut phone.store, id)?;
        }
        self.submit(from_a, step)
    }
}

fn texts_received(events: &[SmsEvent]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for event in events {
        if let SmsEvent::Received {
            received: Received::Text(m),
            ..
        } = event
        {
            *counts.entry(m.body.clone()).or_default() += 1;
        }
    }
    counts
}

/// Wire ids that ended visibly: incomplete (given up or evicted) or failed.
fn ended_visibly(events: &[SmsEvent]) -> BTreeSet<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            SmsEvent::Incomplete { id, expiry, .. } if *expiry != Expiry::ResendRequested => {
                Some(id.0)
            }
            SmsEvent::Failed { id, .. } => Some(id.0),
            _ => None,
        })
        .collect()
}

fn text_for(i: usize, rng: &mut StdRng) -> String {
    // Mostly short texts, some long enough for several parts.
    let len = if rng.random_bool(0.8) {
        rng.random_range(1..120)
    } else {
        rng.random_range(120..600)
    };
    let mut text = format!("#{i} ");
    while text.len() < len {
        text.push_str("lorem ipsum ");
    }
    text
}

fn lossy() -> Faults {
    Faults {
        loss: 0.05,
        duplicate: 0.05,
        truncate: 0.03,
        max_delay_ms: 120_000,
    }
}

fn texts_over_a_lossy_network<S: SottoStore>(a: S, b: S, texts: usize, seed: u64) -> Result<()> {
    let mut world = World::new(a, b, lossy(), false, seed)?;
    world.handshake()?;

    let mut rng = rng(seed + 1);
    let mut bodies = Vec::new();
    for i in 0..texts {
        let text = text_for(i, &mut rng);
        world.send(i % 2 == 0, &text)?;
        bodies.push(text);
        world.run_for(20_000)?;
    }
    // Let every delay, resend round and give-up run out.
    world.run_for(2 * 3600 * 1000)?;
    assert!(world.carrier.idle());
    assert_eq!(world.a.endpoint.reassembler().messages_held(), 0);
    assert_eq!(world.b.endpoint.reassembler().messages_held(), 0);
    assert!(world.a.store.held_sms_parts()?.is_empty());
    assert!(world.b.store.held_sms_parts()?.is_empty());

    let at_a = texts_received(&world.a.events);
    let at_b = texts_received(&world.b.events);
    let visible_a = ended_visibly(&world.a.events);
    let visible_b = ended_visibly(&world.b.events);
    let (mut decrypted, mut complete_but_failed, mut visible_incomplete, mut never_arrived) =
        (0, 0, 0, 0);
    let mut only_damaged = [0, 0];
    for (sent, body) in world.sent.iter().zip(&bodies) {
        let (received, visible) = if sent.from_a {
            (&at_b, &visible_b)
        } else {
            (&at_a, &visible_a)
        };
        let times = received.get(body).copied().unwrap_or(0);
        assert!(times <= 1, "a text decrypted {times} times");
        let ended_visibly = sent.copies.iter().any(|c| visible.contains(&c.id.0));
        if times == 1 {
            decrypted += 1;
            assert!(
                sent.copies.iter().any(Copy::complete),
                "decrypted without all parts arriving"
            );
        } else if sent.copies.iter().any(Copy::complete) {
            // Complete, yet not decrypted: only when its chain was gone and
            // the fresh copy asked for was lost too; it must show.
            assert!(ended_visibly, "a complete text vanished without a trace");
            complete_but_failed += 1;
        } else if sent.any_part_arrived {
            assert!(
                ended_visibly,
                "a text that partly arrived vanished without a trace"
            );
            visible_incomplete += 1;
        } else if sent.damaged_part_arrived {
            // Only cut-short parts arrived: they show as damaged parts.
            only_damaged[usize::from(sent.from_a)] += 1;
            visible_incomplete += 1;
        } else {
            never_arrived += 1;
        }
    }
    let damaged = |events: &[SmsEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, SmsEvent::Damaged { .. }))
            .count()
    };
    assert!(damaged(&world.a.events) >= only_damaged[0]);
    assert!(damaged(&world.b.events) >= only_damaged[1]);
    assert_eq!(
        decrypted + complete_but_failed + visible_incomplete + never_arrived,
        texts
    );
    // Resends make nearly every text whole even at 5 % loss.
    assert!(decrypted * 100 >= texts * 98, "only {decrypted} of {texts}");
    // Nothing Sotto sent was ever shown as a plain text (a part cut down to
    // "%" or "%S" holds no ciphertext at all).
    for phone in [&world.a, &world.b] {
        for event in &phone.events {
            if let SmsEvent::Plain { from, id } = event {
                let shown = phone.store.plain_messages(from, 1000, None)?;
                let shown = shown.iter().find(|m| m.id == *id).expect("stored");
                assert!(shown.body.len() <= 2, "ciphertext shown as plain text");
            }
        }
    }
    println!(
        "{texts} texts: {decrypted} decrypted, {complete_but_failed} complete but failed, \
         {visible_incomplete} visibly incomplete, {never_arrived} lost whole; \
         carrier: {} SMS, {} lost, {} duplicated, {} truncated",
        world.carrier.submitted,
        world.carrier.lost,
        world.carrier.duplicated,
        world.carrier.truncated
    );
    Ok(())
}

#[test]
fn a_thousand_texts_over_a_lossy_network_in_memory() -> Result<()> {
    let mut rng = rng(40);
    let a = with_account(InMemStore::new(), &mut rng)?;
    let b = with_account(InMemStore::new(), &mut rng)?;
    texts_over_a_lossy_network(a, b, 1000, 41)
}

#[test]
fn texts_over_a_lossy_network_sqlcipher() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(50);
    let a = with_account(
        SqlCipherStore::open(&db_path(dir.path(), "a"), &key(1))?,
        &mut rng,
    )?;
    let b = with_account(
        SqlCipherStore::open(&db_path(dir.path(), "b"), &key(2))?,
        &mut rng,
    )?;
    texts_over_a_lossy_network(a, b, 60, 51)
}

#[test]
fn the_handshake_completes_over_a_very_lossy_network_and_exchanges_relays() -> Result<()> {
    let mut rng = rng(60);
    for seed in 0..4 {
        let a = with_account(InMemStore::new(), &mut rng)?;
        let b = with_account(InMemStore::new(), &mut rng)?;
        let faults = Faults {
            loss: 0.15,
            duplicate: 0.1,
            truncate: 0.05,
            max_delay_ms: 300_000,
        };
        let mut world = World::new(a, b, faults, false, 600 + seed)?;
        world.handshake()?;
        // A knows B's relay from the answer; A's own (another relay) was
        // promised by the third leg and rides in A's next message, here
        // A's first text, or on its own if A sends none.
        let relay_at_b = |world: &World<InMemStore>| -> Result<Option<RelayInvite>> {
            let contact = world.b.peer.as_ref().expect("peer");
            Ok(world.b.store.contact(contact)?.and_then(|c| c.relay))
        };
        if seed % 2 == 0 {
            world.send(true, "found you")?;
        }
        for _ in 0..(6 * 60) {
            if relay_at_b(&world)?.is_some() {
                break;
            }
            world.run_for(60_000)?;
        }
        // Each side now knows the other's relay, from inside the session.
        let a_sees = world
            .a
            .store
            .contact(world.a.peer.as_ref().expect("peer"))?;
        assert_eq!(a_sees.and_then(|c| c.relay), world.b.endpoint_relay());
        assert_eq!(relay_at_b(&world)?, world.a.endpoint_relay());
        // With that, texts go by relay when data is up, else by SMS.
        let peer = world.a.peer.clone().expect("peer");
        let policy = TransportPolicy::default();
        let online = route_facts(&world.a.store, &peer, true)?;
        assert_eq!(choose_route(&online, &policy)?, Route::Relay);
        let offline = route_facts(&world.a.store, &peer, false)?;
        assert_eq!(choose_route(&offline, &policy)?, Route::EncryptedSms);
    }
    Ok(())
}

impl<S> Phone<S> {
    fn endpoint_relay(&self) -> Option<RelayInvite> {
        self.endpoint.config().own_relay.clone()
    }
}

/// SMS the handshake takes on a perfect network.
fn handshake_cost(same_relay: bool) -> Result<usize> {
    let mut rng = rng(70);
    let a = with_account(InMemStore::new(), &mut rng)?;
    let b = with_account(InMemStore::new(), &mut rng)?;
    let perfect = Faults {
        loss: 0.0,
        duplicate: 0.0,
        truncate: 0.0,
        max_delay_ms: 0,
    };
    let mut world = World::new(a, b, perfect, same_relay, 71)?;
    world.handshake()
}

#[test]
fn the_handshake_fits_the_sms_budget() -> Result<()> {
    // Hello 15 + answer 16 + third leg 1, on one relay or across relays
    // (where A's relay follows with A's next message).
    assert_eq!(handshake_cost(true)?, 32);
    assert_eq!(handshake_cost(false)?, 32);
    Ok(())
}
