//! A call signalled by encrypted SMS when that is all there is: two
//! accounts that know each other only through the SMS handshake, whose
//! relay is down, call each other. The call shells send the offer, answer,
//! key reveal, candidates and hangup as Sotto SMS (a simulated carrier
//! made of the accounts' outgoing queues moves them), and the media flows
//! directly over loopback UDP: SMS carries the signalling only.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sotto_core::app::{
    Account, CallAudio, CallEvent, Connection, Event, RecordingSink, SmsReceived, SmsSettings,
    SmsStatus, StoreKey,
};
use sotto_core::call::{CallState, EndReason, PathKind, Sas};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::sms::{Route, SmsBody};
use sotto_core::store::{ContactId, DatabaseKey};
use sotto_core::{Error, Result};
use sotto_voice::audio::BufferSource;
use support::app_relay::{call_event, DEADLINE};
use support::speech::{segmental_correlation, speech};

const ALICE: &str = "+4930901820";
const BOB: &str = "+4940123456";

/// Lags searched when comparing what was said with what was heard.
const MAX_LAG: usize = 24_000;

/// A relay address where nothing listens: the relay is down.
fn relay_down() -> Result<RelayInvite> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = probe.local_addr()?.port();
    drop(probe);
    Ok(RelayInvite {
        host: "127.0.0.1".into(),
        port,
        trust_root: libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key,
    })
}

fn create(dir: &Path, key: u8, relay: &RelayInvite) -> Result<Account> {
    let account = Account::create_with_policy(
        dir,
        &StoreKey::Raw(DatabaseKey::from_bytes([key; 32])),
        relay.clone(),
        &support::small_policy(),
    )?;
    account.save_sms_settings(&SmsSettings {
        region: "DE".into(),
        ..SmsSettings::default()
    })?;
    Ok(account)
}

/// One phone: its account and its number, as the carrier knows it.
struct Phone {
    account: Account,
    number: &'static str,
}

/// Moves every SMS `from` has queued to `to` and reports each delivered;
/// returns what `to` made of them.
fn carry(from: &Phone, to: &Phone) -> Result<Vec<SmsReceived>> {
    let queued = from.account.take_outgoing_sms()?;
    let mut outcomes = Vec::new();
    for sms in &queued {
        assert_eq!(sms.to.as_str(), to.number, "addressed to the other phone");
        assert!(sms.encrypted, "only Sotto SMS between these two");
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS by default");
        };
        outcomes.push(to.account.sms_received(from.number, text)?);
    }
    for sms in &queued {
        from.account.report_sms_status(sms.id, SmsStatus::Sent)?;
        from.account
            .report_sms_status(sms.id, SmsStatus::Delivered)?;
    }
    Ok(outcomes)
}

/// The SMS handshake, carried until it settles (bounded); returns how
/// Alice knows Bob.
fn handshake(alice: &Phone, bob: &Phone) -> Result<ContactId> {
    let bob_at_alice = alice.account.start_sms_handshake(BOB, "Bob")?;
    let mut ready = false;
    for _round in 0..8 {
        let at_bob = carry(alice, bob)?;
        // Alice's number is a stranger's to Bob: his user agrees to talk.
        if at_bob
            .iter()
            .any(|outcome| matches!(outcome, SmsReceived::StrangerWaiting { .. }))
        {
            bob.account.accept_sms_stranger(ALICE, "Alice")?;
        }
        let at_alice = carry(bob, alice)?;
        ready |= at_alice.iter().chain(&at_bob).any(|outcome| {
            matches!(
                outcome,
                SmsReceived::Handshake {
                    session_ready: true,
                    ..
                }
            )
        });
        if ready && alice.account.waiting_sms()? == 0 && bob.account.waiting_sms()? == 0 {
            return Ok(bob_at_alice);
        }
    }
    Err(Error::NoSession)
}

/// The carrier, both ways, on its own task until `stop`: how many SMS it
/// carried from Alice to Bob and from Bob to Alice.
struct Carrier {
    stop: Arc<AtomicBool>,
    alice_to_bob: Arc<AtomicUsize>,
    bob_to_alice: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Carrier {
    fn start(alice: Arc<Phone>, bob: Arc<Phone>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (alice_to_bob, bob_to_alice) = (Arc::default(), Arc::default());
        let task = {
            let (stop, a2b, b2a): (_, Arc<AtomicUsize>, Arc<AtomicUsize>) = (
                stop.clone(),
                Arc::clone(&alice_to_bob),
                Arc::clone(&bob_to_alice),
            );
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                // Bounded: the test's own deadlines end it well before.
                for _ in 0..(4 * DEADLINE.as_millis() / 20) {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    tick.tick().await;
                    a2b.fetch_add(carry(&alice, &bob)?.len(), Ordering::AcqRel);
                    b2a.fetch_add(carry(&bob, &alice)?.len(), Ordering::AcqRel);
                }
                Ok(())
            })
        };
        Carrier {
            stop,
            alice_to_bob,
            bob_to_alice,
            task,
        }
    }

    async fn stop(self) -> Result<(usize, usize)> {
        self.stop.store(true, Ordering::Release);
        self.task.await.map_err(|_| Error::ConnectionClosed)??;
        Ok((
            self.alice_to_bob.load(Ordering::Acquire),
            self.bob_to_alice.load(Ordering::Acquire),
        ))
    }
}

fn connect(account: &Account) -> Result<Connection> {
    account.connect(&tokio::runtime::Handle::current())
}

fn is_state(event: &CallEvent, wanted: fn(&CallState) -> bool) -> bool {
    matches!(event, CallEvent::State(state) if wanted(state))
}

fn sas_of(seen: &[CallEvent]) -> Option<Sas> {
    seen.iter().find_map(|event| match event {
        CallEvent::Sas { sas, .. } => Some(sas.clone()),
        _ => None,
    })
}

/// Waits (bounded) until `sink` holds `samples` samples.
async fn until_heard(sink: &RecordingSink, samples: usize) -> Result<()> {
    let wait = async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        while sink.len() < samples {
            poll.tick().await;
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .map_err(|_| Error::RelayTimeout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_signalled_by_sms_connects_directly_with_the_same_sas() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay_down()?;
    let alice = Arc::new(Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    });
    let bob = Arc::new(Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    });
    let bob_for_alice = handshake(&alice, &bob)?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice.account)?, connect(&bob.account)?);
    assert_eq!(
        alice.account.route_to(&bob_for_alice)?,
        Route::EncryptedSms,
        "the relay is down: texts to Bob would go by SMS, and so do calls"
    );
    let carrier = Carrier::start(alice.clone(), bob.clone());

    let alice_says = speech(
        "Can you hear me? This call was set up by SMS.",
        dir.path(),
        1,
    );
    let bob_says = speech(
        "Yes, and the audio goes straight over the network.",
        dir.path(),
        2,
    );
    let (heard_by_alice, heard_by_bob) = (RecordingSink::new(), RecordingSink::new());
    let call_id = alice_conn
        .calls()
        .place(
            &bob_for_alice,
            CallAudio::new(
                BufferSource::new(alice_says.clone()),
                heard_by_alice.clone(),
            ),
        )
        .await?;

    let (mut alice_seen, mut bob_seen) = (Vec::new(), Vec::new());
    let ringing = call_event(&mut bob_conn, &mut bob_seen, |e| {
        is_state(e, |s| matches!(s, CallState::IncomingRinging { .. }))
    })
    .await?;
    let CallEvent::State(CallState::IncomingRinging { call, .. }) = ringing else {
        unreachable!("filtered above");
    };
    assert_eq!(call.call_id, call_id, "Bob rings with Alice's call");
    bob_conn
        .calls()
        .answer(CallAudio::new(
            BufferSource::new(bob_says.clone()),
            heard_by_bob.clone(),
        ))
        .await?;

    let connected = |e: &CallEvent| is_state(e, |s| matches!(s, CallState::Connected { .. }));
    call_event(&mut alice_conn, &mut alice_seen, connected).await?;
    call_event(&mut bob_conn, &mut bob_seen, connected).await?;
    for seen in [&alice_seen, &bob_seen] {
        let path = seen.iter().find_map(|e| match e {
            CallEvent::MediaStarted { path, .. } => Some(*path),
            _ => None,
        });
        assert_eq!(path, Some(PathKind::Direct), "media over loopback UDP");
    }
    let alice_sas = sas_of(&alice_seen).ok_or(Error::NoSuchCall)?;
    let bob_sas = sas_of(&bob_seen).ok_or(Error::NoSuchCall)?;
    assert_eq!(alice_sas, bob_sas, "both phones show the same two words");

    let enough = alice_says.len().max(bob_says.len()) + 48_000;
    until_heard(&heard_by_alice, enough).await?;
    until_heard(&heard_by_bob, enough).await?;

    alice_conn.calls().hang_up().await?;
    let is_ended = |e: &CallEvent| matches!(e, CallEvent::Ended { .. });
    let bob_end = call_event(&mut bob_conn, &mut bob_seen, is_ended).await?;
    let CallEvent::Ended { reason, .. } = &bob_end else {
        unreachable!("filtered above");
    };
    assert_eq!(*reason, EndReason::HungUpThere, "the hangup came by SMS");

    let (alice_to_bob, bob_to_alice) = carrier.stop().await?;
    eprintln!("SMS carried: alice → bob {alice_to_bob}, bob → alice {bob_to_alice}");
    // Offer, key reveal, candidates, hangup one way; answer and candidates
    // the other: several SMS each way, and nothing left for the relay.
    assert!(alice_to_bob >= 4, "Alice's signals went by SMS");
    assert!(bob_to_alice >= 2, "Bob's signals went by SMS");
    assert_eq!(
        alice.account.pending_outgoing()?,
        0,
        "nothing waits for the relay"
    );
    assert_eq!(
        bob.account.pending_outgoing()?,
        0,
        "nothing waits for the relay"
    );

    let by_bob = segmental_correlation(&alice_says, &heard_by_bob.samples(), MAX_LAG);
    let by_alice = segmental_correlation(&bob_says, &heard_by_alice.samples(), MAX_LAG);
    eprintln!("correlation alice → bob {by_bob:.3}, bob → alice {by_alice:.3}");
    assert!(by_bob > 0.6, "Bob heard Alice: correlation {by_bob}");
    assert!(by_alice > 0.6, "Alice heard Bob: correlation {by_alice}");

    alice_conn.close().await;
    bob_conn.close().await;
    Ok(())
}

/// The next call event `wanted` accepts, counting the `SmsWaiting` events
/// on the way (bounded by [`DEADLINE`]).
async fn call_event_counting_sms(
    connection: &mut Connection,
    sms_waiting: &mut usize,
    wanted: impl Fn(&CallEvent) -> bool,
) -> Result<CallEvent> {
    let wait = async {
        while let Some(event) = connection.next_event().await {
            match event {
                Event::SmsWaiting => *sms_waiting += 1,
                Event::Call(event) if wanted(&event) => return Ok(event),
                _ => {}
            }
        }
        Err(Error::ConnectionClosed)
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .map_err(|_| Error::RelayTimeout)?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_declined_by_sms_ends_on_both_phones() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay_down()?;
    let alice = Arc::new(Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    });
    let bob = Arc::new(Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    });
    let bob_for_alice = handshake(&alice, &bob)?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice.account)?, connect(&bob.account)?);
    let carrier = Carrier::start(alice.clone(), bob.clone());
    let silence = || CallAudio::new(BufferSource::new(Vec::new()), RecordingSink::new());
    let (mut alice_sms, mut bob_sms) = (0, 0);

    alice_conn.calls().place(&bob_for_alice, silence()).await?;
    call_event_counting_sms(&mut bob_conn, &mut bob_sms, |e| {
        is_state(e, |s| matches!(s, CallState::IncomingRinging { .. }))
    })
    .await?;
    bob_conn.calls().reject().await?;
    let is_ended = |e: &CallEvent| matches!(e, CallEvent::Ended { .. });
    let alice_end = call_event_counting_sms(&mut alice_conn, &mut alice_sms, is_ended).await?;
    let bob_end = call_event_counting_sms(&mut bob_conn, &mut bob_sms, is_ended).await?;
    let reason = |e: &CallEvent| match e {
        CallEvent::Ended { reason, .. } => Some(*reason),
        _ => None,
    };
    assert_eq!(reason(&alice_end), Some(EndReason::DeclinedThere));
    assert_eq!(reason(&bob_end), Some(EndReason::DeclinedHere));
    // Alice's offer and Bob's reject each told the client to send SMS.
    assert!(alice_sms >= 1, "the offer was queued as SMS");
    assert!(bob_sms >= 1, "the reject was queued as SMS");

    let (alice_to_bob, bob_to_alice) = carrier.stop().await?;
    assert!(alice_to_bob >= 1 && bob_to_alice >= 1, "both ways by SMS");
    assert_eq!(alice.account.pending_outgoing()?, 0);
    assert_eq!(bob.account.pending_outgoing()?, 0);
    alice_conn.close().await;
    bob_conn.close().await;
    Ok(())
}
