//! SMS segments per message over a corpus of real texts, plain and
//! encrypted, the cost of setting up a session over SMS (each leg's SMS and
//! payload bytes, and where the bytes of the answer to a hello go), and
//! where the bytes of an encrypted text go.
//!
//! ```text
//! cargo run --release -p sotto-core --example sms_segments -- <corpus.tsv>
//! ```
//!
//! The corpus is `label<TAB>text` per line under a header line (the SMS
//! Spam Collection). Texts are sent as a conversation between two cores:
//! they alternate direction, so every text takes a DH ratchet step and
//! carries what SPQR sends, as real chats do.

use std::collections::BTreeMap;
use std::time::SystemTime;

use libsignal_protocol::{PreKeySignalMessage, SignalMessage};
use prost::Message as _;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::message::{
    proto, Body, ContactHandshake, Content, Envelope, EnvelopeKind, MessageId,
};
use sotto_core::messaging;
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::sms::segment::{HEADER_BYTES, PREFIX, TEXT_CHUNK};
use sotto_core::sms::{
    gsm7, OutgoingSms, PhoneNumber, Segment, SmsBody, SmsCodec, SmsConfig, SmsEndpoint, SmsEvent,
    SmsFrame, Step, TextSms,
};
use sotto_core::store::{ContactId, InMemStore, SottoStore};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One leg of an exchange: sent by the first phone, its SMS count, and
/// its payload (reassembled from the SMS).
struct Leg {
    forward: bool,
    sms: usize,
    payload: Vec<u8>,
}

type Legs = Vec<Leg>;

struct Phone {
    number: PhoneNumber,
    store: InMemStore,
    endpoint: SmsEndpoint,
    peer: Option<ContactId>,
}

fn phone(
    number: &str,
    relay: Option<RelayInvite>,
    data_sms: bool,
    rng: &mut StdRng,
) -> Result<Phone> {
    let mut store = InMemStore::new();
    let policy = PreKeyPolicy {
        batch: 5,
        low_water: 2,
        ..PreKeyPolicy::default()
    };
    prekeys::create_account(&mut store, &policy, SystemTime::now(), rng)?;
    Ok(Phone {
        number: PhoneNumber::parse(number, "GB")?,
        store,
        // The user agrees to the hello (what is counted is the SMS).
        endpoint: SmsEndpoint::new(SmsConfig {
            own_relay: relay,
            data_sms,
            ask_before_answering_strangers: false,
            ..SmsConfig::default()
        }),
        peer: None,
    })
}

/// Delivers a step and all its answers over a perfect line; returns the SMS
/// sent in each direction's legs, in order, as (from_first, count, bytes).
fn exchange(first: &mut Phone, second: &mut Phone, step: Step, rng: &mut StdRng) -> Result<Legs> {
    let mut legs = Vec::new();
    let mut queue = vec![(true, step)];
    while let Some((forward, step)) = queue.pop() {
        let (sender, receiver) = if forward {
            (&mut *first, &mut *second)
        } else {
            (&mut *second, &mut *first)
        };
        for id in step.outbox_ids {
            messaging::mark_sent(&mut sender.store, id)?;
        }
        for event in step.events {
            if let SmsEvent::HandshakeAnswered { contact, .. } = event {
                sender.peer = Some(contact);
            }
        }
        if !step.outgoing.is_empty() {
            legs.push(Leg {
                forward,
                sms: step.outgoing.len(),
                payload: payload(&step.outgoing),
            });
        }
        for out in step.outgoing {
            let reply = match out.body {
                SmsBody::Text(text) => receiver.endpoint.receive_text(
                    &mut receiver.store,
                    &sender.number,
                    &text,
                    SystemTime::now(),
                    rng,
                )?,
                SmsBody::Data { bytes, .. } => receiver.endpoint.receive_data(
                    &mut receiver.store,
                    &sender.number,
                    &bytes,
                    SystemTime::now(),
                    rng,
                )?,
            };
            queue.push((!forward, reply));
        }
    }
    Ok(legs)
}

/// The payload the SMS of one leg carry, put back together in part order.
fn payload(sms: &[OutgoingSms]) -> Vec<u8> {
    let mut segments: Vec<Segment> = sms
        .iter()
        .filter_map(|out| match &out.body {
            SmsBody::Text(text) => match SmsCodec::parse_text(text) {
                TextSms::Segment(segment) => Some(segment),
                _ => None,
            },
            SmsBody::Data { bytes, .. } => SmsCodec::parse_data(bytes).ok(),
        })
        .collect();
    segments.sort_by_key(|s| s.index);
    segments.into_iter().flat_map(|s| s.chunk).collect()
}

fn relay(host: &str, rng: &mut StdRng) -> RelayInvite {
    RelayInvite {
        host: host.into(),
        port: 7443,
        trust_root: libsignal_protocol::KeyPair::generate(rng).public_key,
    }
}

/// The bytes a relay address takes inside a handshake's Content: the
/// encoded `RelayAddress` field, measured through the real encoder.
fn relay_address_len(relay: &RelayInvite) -> Result<usize> {
    let content = Content {
        id: MessageId([0; 16]),
        sent_at_ms: 0,
        body: Body::ContactHandshake(ContactHandshake {
            relay: Some(relay.clone()),
            ..ContactHandshake::default()
        }),
    };
    let padded = content.to_padded_bytes()?;
    let decoded = proto::Content::decode(sotto_core::padding::unpad(&padded)?)?;
    match decoded.body {
        Some(proto::content::Body::ContactHandshake(proto::ContactHandshake {
            relay: Some(address),
            ..
        })) => Ok(address.encoded_len()),
        _ => Err("the handshake lost its relay".into()),
    }
}

/// Two phones with a session, set up over SMS; returns them and the legs.
fn pair(
    relays: (Option<RelayInvite>, Option<RelayInvite>),
    data_sms: bool,
    rng: &mut StdRng,
) -> Result<(Phone, Phone, Legs)> {
    let mut a = phone("+447911123456", relays.0, data_sms, rng)?;
    let mut b = phone("+447911123457", relays.1, data_sms, rng)?;
    let b_number = b.number.clone();
    let (contact, step) =
        a.endpoint
            .start_handshake(&mut a.store, &b_number, "B", SystemTime::now(), rng)?;
    a.peer = Some(contact);
    let legs = exchange(&mut a, &mut b, step, rng)?;
    Ok((a, b, legs))
}

/// The longest host name of A's relay (B on `other`) with which A's first
/// text, `sample`, still takes 2 SMS: how much room the relay riding in it
/// leaves.
fn longest_host_for_two_sms(sample: &str, other: &RelayInvite, rng: &mut StdRng) -> Result<usize> {
    let mut longest = 0;
    for len in 1..=253 {
        let mut relay_a = relay("r", rng);
        relay_a.host = "r".repeat(len);
        let (mut a, mut b, _) = pair((Some(relay_a), Some(other.clone())), false, rng)?;
        let peer = a.peer.clone().ok_or("no session")?;
        let step = a
            .endpoint
            .send_text(&mut a.store, &peer, sample, SystemTime::now(), rng)?;
        if step.outgoing.len() > 2 {
            break;
        }
        exchange(&mut a, &mut b, step, rng)?;
        longest = len;
    }
    Ok(longest)
}

/// Where the bytes of the answer to a hello go (a PreKey envelope).
fn dissect_answer(payload: &[u8]) -> Result<()> {
    let envelope = Envelope::from_bytes(payload)?;
    let prekey = PreKeySignalMessage::try_from(&envelope.ciphertext[..])?;
    let kyber = prekey.kyber_ciphertext().map_or(0, |ct| ct.len());
    let inner = prekey.message();
    let body = inner.body().len();
    let spqr = inner.pq_ratchet().len();
    let signal = inner.serialized().len();
    let keys = prekey.base_key().serialize().len() + prekey.identity_key().serialize().len();
    let outer_rest = envelope.ciphertext.len() - kyber - keys - signal;
    println!("\n== Where the bytes of the answer go (B→A, different relays)");
    println!("  envelope kind                  1");
    println!("  ML-KEM-1024 ciphertext      {kyber:>4}  (with its type byte)");
    println!("  base key + identity key     {keys:>4}  (X25519, with type bytes)");
    println!("  PreKey message framing      {outer_rest:>4}  (version, registration id, prekey ids, tags, lengths)");
    println!("  SignalMessage               {signal:>4}  (ciphertext {body}, SPQR {spqr}, ratchet key, counters, MAC 8)");
    println!("  total                       {:>4}", payload.len());
    Ok(())
}

fn describe(legs: &[Leg]) -> String {
    let parts: Vec<String> = legs
        .iter()
        .map(|leg| {
            let way = if leg.forward { "A→B" } else { "B→A" };
            format!("{way} {} ({} B)", leg.sms, leg.payload.len())
        })
        .collect();
    let total: usize = legs.iter().map(|leg| leg.sms).sum();
    format!("{total:>3}  ({})", parts.join(", "))
}

#[derive(Default)]
struct Tally {
    histogram: BTreeMap<usize, usize>,
    all: Vec<usize>,
}

impl Tally {
    fn add(&mut self, segments: usize) {
        *self.histogram.entry(segments).or_default() += 1;
        self.all.push(segments);
    }

    fn summary(&mut self) -> String {
        self.all.sort_unstable();
        let n = self.all.len().max(1);
        let mean = self.all.iter().sum::<usize>() as f64 / n as f64;
        let pct = |p: f64| self.all[((n as f64 * p) as usize).min(n - 1)];
        let histogram: Vec<String> = self
            .histogram
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        format!(
            "mean {mean:.2}  p50 {}  p90 {}  p99 {}  max {}  [{}]",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            self.all.last().copied().unwrap_or(0),
            histogram.join(" ")
        )
    }
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: sms_segments <corpus.tsv>")?;
    let corpus = std::fs::read_to_string(&path)?;
    let texts: Vec<(String, String)> = corpus
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once('\t'))
        .map(|(label, text)| (label.to_owned(), text.to_owned()))
        .collect();
    let mut rng = StdRng::seed_from_u64(7);

    println!("== Session set-up over SMS (text SMS; data SMS in the last row)");
    let shared = relay("relay.example.org", &mut rng);
    let other = relay("sotto.example.net", &mut rng);
    let cases = [
        (
            "both on one relay",
            (Some(shared.clone()), Some(shared.clone())),
            false,
        ),
        (
            "different relays",
            (Some(shared.clone()), Some(other.clone())),
            false,
        ),
        ("no relays (SMS only)", (None, None), false),
        (
            "different relays, data SMS",
            (Some(shared.clone()), Some(other.clone())),
            true,
        ),
    ];
    let mut answer = Vec::new();
    let mut first_texts = Vec::new();
    let sample = "Running ten minutes late, save me a seat near the window pls";
    for (name, relays, data_sms) in cases.clone() {
        let (mut a, mut b, legs) = pair(relays, data_sms, &mut rng)?;
        println!("  {name:<28} {}", describe(&legs));
        if name == "different relays" {
            answer = legs
                .get(1)
                .map(|leg| leg.payload.clone())
                .unwrap_or_default();
        }
        // A's first text: across relays it carries A's relay, which the
        // third leg promised (`relay_follows`).
        let peer = a.peer.clone().ok_or("no session")?;
        let step =
            a.endpoint
                .send_text(&mut a.store, &peer, sample, SystemTime::now(), &mut rng)?;
        let legs = exchange(&mut a, &mut b, step, &mut rng)?;
        first_texts.push((name, describe(&legs)));
    }
    println!("\n== A's first text (60 characters) after the handshake; across relays it carries A's relay");
    for (name, first) in first_texts {
        println!("  {name:<28} {first}");
    }
    println!("  (the same text in a settled session: 2 SMS, see below)");
    println!("\n== A's relay on its own, when A sends no text within the hello retry interval");
    for (name, relays, data_sms) in cases {
        if relays.0.is_none() || relays.0 == relays.1 {
            continue;
        }
        let (mut a, mut b, _) = pair(relays, data_sms, &mut rng)?;
        let later = SystemTime::now() + SmsConfig::default().hello_retry;
        let step = a.endpoint.tick(&mut a.store, later, &mut rng)?;
        let legs = exchange(&mut a, &mut b, step, &mut rng)?;
        println!("  {name:<28} {}", describe(&legs));
    }
    println!(
        "  (a relay address, {} host, as the handshake carries it: {} bytes)",
        shared.host,
        relay_address_len(&shared)?
    );
    let longest = longest_host_for_two_sms(sample, &other, &mut rng)?;
    println!(
        "  (A's first 60-character text stays 2 SMS across relays for relay host names of up to {longest} characters)"
    );
    dissect_answer(&answer)?;

    let (mut a, mut b, _) = pair((Some(shared.clone()), Some(shared)), false, &mut rng)?;
    let mut plain = [Tally::default(), Tally::default()];
    let mut encrypted = [Tally::default(), Tally::default()];
    let mut short_max = 0;
    let mut short_count = 0;
    let mut envelope_bytes = Vec::new();
    for (i, (label, text)) in texts.iter().enumerate() {
        let spam = usize::from(label == "spam");
        plain[spam].add(gsm7::segment_count(text));
        let (sender, receiver) = if i % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let peer = sender.peer.clone().ok_or("no session")?;
        let step = sender.endpoint.send_text(
            &mut sender.store,
            &peer,
            text,
            SystemTime::now(),
            &mut rng,
        )?;
        let segments = step.outgoing.len();
        encrypted[spam].add(segments);
        if text.chars().count() <= 60 {
            short_max = short_max.max(segments);
            short_count += 1;
        }
        if let Some(entry) = sender.store.outbox()?.last() {
            envelope_bytes.push(entry.envelope.to_bytes().len());
        }
        exchange(sender, receiver, step, &mut rng)?;
    }
    println!(
        "\n== Segments per message over {} texts of {path}",
        texts.len()
    );
    for (spam, name) in [(0, "ham"), (1, "spam")] {
        println!("  {name:<4} plain      {}", plain[spam].summary());
        println!("  {name:<4} encrypted  {}", encrypted[spam].summary());
    }
    println!("  texts of at most 60 characters: {short_count}, at most {short_max} encrypted segments each");
    envelope_bytes.sort_unstable();
    println!(
        "  envelope bytes: p50 {}  p90 {}  max {}",
        envelope_bytes[envelope_bytes.len() / 2],
        envelope_bytes[envelope_bytes.len() * 9 / 10],
        envelope_bytes.last().copied().unwrap_or(0)
    );

    println!("\n== Where the bytes of a 60-character text go (an established session)");
    let text = "Running ten minutes late, save me a seat near the window pls";
    let peer = a.peer.clone().ok_or("no session")?;
    let step = a
        .endpoint
        .send_text(&mut a.store, &peer, text, SystemTime::now(), &mut rng)?;
    let entry = a.store.outbox()?.pop().ok_or("nothing queued")?;
    let content = proto::Content {
        version: 1,
        message_id: vec![0; 16],
        sent_at_ms: 1_780_000_000_000,
        sender_relay: None,
        body: Some(proto::content::Body::Text(proto::Text {
            body: text.into(),
        })),
    }
    .encode_to_vec()
    .len();
    let padded = sotto_core::padding::padded_plaintext_len(content);
    let envelope = entry.envelope.to_bytes();
    assert_eq!(entry.envelope.kind, EnvelopeKind::Signal);
    let message = SignalMessage::try_from(&entry.envelope.ciphertext[..])?;
    let ciphertext = message.body().len();
    let spqr = message.pq_ratchet().len();
    let signal = entry.envelope.ciphertext.len();
    let chars: usize = step
        .outgoing
        .iter()
        .map(|o| match &o.body {
            SmsBody::Text(t) => t.len(),
            SmsBody::Data { bytes, .. } => bytes.len(),
        })
        .sum();
    println!("  text                        {:>4} bytes", text.len());
    println!(
        "  Content protobuf            {:>4}  (+{} version, 16-byte message id, timestamp, tags)",
        content,
        content - text.len()
    );
    println!(
        "  Padmé padding               {:>4}  (+{}: the 0x80 marker and zeros)",
        padded,
        padded - content
    );
    println!(
        "  AES-256-CBC (PKCS#7)        {:>4}  (+{}: one PKCS#7 byte fills the last block)",
        ciphertext,
        ciphertext - padded
    );
    println!(
        "  SignalMessage               {:>4}  (+{}: version, ratchet key 33, counters, SPQR {spqr}, MAC 8, tags)",
        signal,
        signal - ciphertext
    );
    println!(
        "  envelope                    {:>4}  (+1 kind byte)",
        envelope.len()
    );
    println!(
        "  SMS                         {:>4} chars in {} texts: {} bytes a text ({TEXT_CHUNK} payload + {HEADER_BYTES} header) as radix-82 digits after \"{PREFIX}\"",
        chars,
        step.outgoing.len(),
        TEXT_CHUNK + HEADER_BYTES
    );
    let hello = SmsFrame::Hello {
        bundle: sotto_core::sms::handshake::encode_compact_bundle(&prekeys::take_prekey_bundle(
            &mut a.store,
        )?)?,
    };
    println!(
        "  (a hello is {} bytes: {} texts; the protobuf bundle would be {} bytes)",
        hello.to_bytes().len(),
        SmsCodec::text_parts(hello.to_bytes().len()),
        sotto_core::encode_bundle(&prekeys::take_prekey_bundle(&mut a.store)?)?.len() + 1
    );
    Ok(())
}
