//! Adversarial delivery: two SQLCipher-backed accounts exchange 1,000 texts
//! each way through a network that reorders 20 %, duplicates 10 % and loses
//! 5 % of envelopes (lost ones are re-sent by the sender). Every text must
//! decrypt exactly once, and every extra copy must be rejected.

mod support;

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;
use sotto_core::message::MessageId;
use sotto_core::messaging::{self, Received};
use sotto_core::store::{SottoStore, SqlCipherStore};
use sotto_core::Result;
use support::*;

const MESSAGES_EACH_WAY: usize = 1000;

/// One direction of the simulated network.
#[derive(Default)]
struct Link {
    /// (tick to deliver at, envelope bytes, whether it is an extra copy).
    in_flight: Vec<(u64, Vec<u8>, bool)>,
    /// (tick to re-send at, message id) for envelopes the network lost.
    to_resend: Vec<(u64, MessageId)>,
    sent: usize,
    extra_copies: usize,
    lost: usize,
    reordered: usize,
}

impl Link {
    /// Puts an envelope on the wire at `tick`, applying loss, reordering and
    /// duplication. Delays stay within a few ratchet steps, the window in
    /// which libsignal keeps old receiving chains.
    fn send(
        &mut self,
        tick: u64,
        bytes: Vec<u8>,
        id: MessageId,
        rng: &mut impl Rng,
        may_lose: bool,
    ) {
        if may_lose && rng.random_bool(0.05) {
            self.lost += 1;
            self.to_resend.push((tick + rng.random_range(1..=3), id));
            return;
        }
        let delay = if rng.random_bool(0.20) {
            self.reordered += 1;
            rng.random_range(1..=3)
        } else {
            0
        };
        if rng.random_bool(0.10) {
            self.extra_copies += 1;
            self.in_flight
                .push((tick + rng.random_range(0..=3), bytes.clone(), true));
        }
        self.in_flight.push((tick + delay, bytes, false));
    }

    /// Takes what is due at `tick`, in random order.
    fn due(&mut self, tick: u64, rng: &mut impl Rng) -> Vec<(Vec<u8>, bool)> {
        let (due, later): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).partition(|(t, _, _)| *t <= tick);
        self.in_flight = later;
        let mut due: Vec<_> = due.into_iter().map(|(_, b, extra)| (b, extra)).collect();
        due.shuffle(rng);
        due
    }
}

#[derive(Default)]
struct Tally {
    texts: HashMap<String, usize>,
    duplicates: usize,
}

fn deliver(
    to: &mut Party<SqlCipherStore>,
    items: Vec<(Vec<u8>, bool)>,
    tally: &mut Tally,
    rng: &mut rand::rngs::StdRng,
) -> Result<()> {
    for (bytes, _extra) in items {
        match messaging::receive(&mut to.store, &to.peer, &bytes, now(), rng)? {
            Received::Text(m) => *tally.texts.entry(m.body).or_default() += 1,
            Received::Duplicate => tally.duplicates += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn thousand_messages_each_way_through_a_hostile_network() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rng = rng(2024);
    let (mut alice, mut bob) = sqlcipher_pair(dir.path(), &mut rng)?;
    let (mut to_bob, mut to_alice) = (Link::default(), Link::default());
    let (mut bob_got, mut alice_got) = (Tally::default(), Tally::default());
    let mut resent = 0usize;

    // Bob can only write once Alice's first (PreKey) message reached him.
    let hello = messaging::send_text(&mut alice.store, &alice.peer, "a0", now(), &mut rng)?;
    messaging::mark_sent(&mut alice.store, hello.outbox_id)?;
    deliver(
        &mut bob,
        vec![(hello.envelope.to_bytes(), false)],
        &mut bob_got,
        &mut rng,
    )?;
    to_bob.sent = 1;

    let mut tick = 0u64;
    while to_bob.sent < MESSAGES_EACH_WAY
        || to_alice.sent < MESSAGES_EACH_WAY
        || !to_bob.in_flight.is_empty()
        || !to_alice.in_flight.is_empty()
        || !to_bob.to_resend.is_empty()
        || !to_alice.to_resend.is_empty()
    {
        tick += 1;
        for (party, link, prefix) in [
            (&mut alice, &mut to_bob, "a"),
            (&mut bob, &mut to_alice, "b"),
        ] {
            if link.sent < MESSAGES_EACH_WAY && rng.random_bool(0.6) {
                let text = format!("{prefix}{}", link.sent);
                let out =
                    messaging::send_text(&mut party.store, &party.peer, &text, now(), &mut rng)?;
                messaging::mark_sent(&mut party.store, out.outbox_id)?;
                link.sent += 1;
                link.send(
                    tick,
                    out.envelope.to_bytes(),
                    out.message_id,
                    &mut rng,
                    true,
                );
            }
            let (due, waiting): (Vec<_>, Vec<_>) =
                link.to_resend.drain(..).partition(|(t, _)| *t <= tick);
            link.to_resend = waiting;
            for (_, id) in due {
                // The sender re-encrypts under its current session; the
                // receiver recognises the message id.
                let again = messaging::resend(&mut party.store, &party.peer, &id, now(), &mut rng)?;
                messaging::mark_sent(&mut party.store, again.outbox_id)?;
                resent += 1;
                link.send(tick, again.envelope.to_bytes(), id, &mut rng, false);
            }
        }
        let for_bob = to_bob.due(tick, &mut rng);
        deliver(&mut bob, for_bob, &mut bob_got, &mut rng)?;
        let for_alice = to_alice.due(tick, &mut rng);
        deliver(&mut alice, for_alice, &mut alice_got, &mut rng)?;
    }

    for (tally, prefix, link) in [(&bob_got, "a", &to_bob), (&alice_got, "b", &to_alice)] {
        assert_eq!(tally.texts.len(), MESSAGES_EACH_WAY, "every text arrives");
        for n in 0..MESSAGES_EACH_WAY {
            assert_eq!(
                tally.texts.get(&format!("{prefix}{n}")),
                Some(&1),
                "{prefix}{n} exactly once"
            );
        }
        assert_eq!(
            tally.duplicates, link.extra_copies,
            "every extra copy is rejected"
        );
        // The network really was hostile.
        assert!(link.lost > 20 && link.reordered > 100 && link.extra_copies > 50);
    }
    assert!(resent > 40);
    assert_eq!(
        bob.store.messages(&bob.peer, usize::MAX, None)?.len(),
        2 * MESSAGES_EACH_WAY
    );
    Ok(())
}
