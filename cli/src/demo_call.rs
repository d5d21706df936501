//! The call part of `sotto demo`: a relay with its TURN server in this
//! process, two more accounts on it (the application facade the CLI's
//! commands use), and one encrypted call between them that streams a few
//! seconds of speech each way. What each side heard is compared with what
//! the other said; every claim printed is checked.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::RngCore;
use sotto_core::app::{Account, CallAudio, CallEvent, Connection, Event, RecordingSink, StoreKey};
use sotto_core::call::{CallState, EndReason, MediaStatus, PathKind, Sas};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::DatabaseKey;
use sotto_relay::serve::LoopbackRelay;
use sotto_voice::audio::speech;
use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::audio::BufferSource;

use crate::call_quality::{self, Pesq};
use crate::demo::{check, DemoResult};

/// Every wait on the network is bounded by this.
const DEADLINE: Duration = Duration::from_secs(30);

/// How well each direction must correlate for the demo to say it was heard.
const HEARD: f64 = 0.6;

/// Runs the call step in `dir`.
pub async fn run(dir: &Path) -> DemoResult<()> {
    let relay_dir = dir.join("call-relay");
    let relay = LoopbackRelay::start(&relay_dir).await?;
    let invite = relay.invite.clone();
    println!("  relay with its TURN server on 127.0.0.1 (credentials issued per call)");
    let alice = account(dir, "call-alice", &invite).await?;
    let bob = account(dir, "call-bob", &invite).await?;
    let bob_for_alice = alice.add_contact(&bob.contact_invite(), "Bob")?;
    bob.add_contact(&alice.contact_invite(), "Alice")?;

    let (alice_says, bob_says) = (
        speech(
            dir,
            "Alice",
            "Hello Bob, this call is encrypted. Read me the two words.",
            1,
        ),
        speech(dir, "Bob", "Loud and clear, Alice.", 2),
    );
    let (heard_by_alice, heard_by_bob) = (RecordingSink::new(), RecordingSink::new());
    let mut alice_conn = alice.connect(&tokio::runtime::Handle::current())?;
    let mut bob_conn = bob.connect(&tokio::runtime::Handle::current())?;

    let placed_at = Instant::now();
    alice_conn
        .calls()
        .place(
            &bob_for_alice,
            CallAudio::new(
                BufferSource::new(alice_says.clone()),
                heard_by_alice.clone(),
            ),
        )
        .await?;
    wait(&mut bob_conn, |e| {
        matches!(e, CallEvent::State(CallState::IncomingRinging { .. }))
    })
    .await?;
    println!("  Alice → Bob: offer sealed through the relay; Bob's phone rings; Bob answers");
    bob_conn
        .calls()
        .answer(CallAudio::new(
            BufferSource::new(bob_says.clone()),
            heard_by_bob.clone(),
        ))
        .await?;
    let connected = |e: &CallEvent| matches!(e, CallEvent::State(CallState::Connected { .. }));
    let alice_seen = wait(&mut alice_conn, connected).await?;
    let bob_seen = wait(&mut bob_conn, connected).await?;
    let (alice_sas, bob_sas) = (sas(&alice_seen)?, sas(&bob_seen)?);
    println!("  Alice reads: \"{alice_sas}\"   Bob reads: \"{bob_sas}\"");
    check(
        alice_sas == bob_sas,
        "both phones show the same authentication string",
    )?;
    let path = alice_conn.calls().status().await?.path;
    println!(
        "  media: Opus in SRTP (AES-256-GCM), {} path",
        match path {
            Some(PathKind::Direct) => "direct UDP",
            Some(PathKind::Relayed) => "TURN-relayed",
            None => "no",
        }
    );
    // Both sides' speech plays out in real time, plus a second.
    let enough = alice_says.len().max(bob_says.len()) + 48_000;
    until_heard(&heard_by_bob, enough).await?;
    until_heard(&heard_by_alice, enough).await?;
    if let Some(first) = bob_conn
        .calls()
        .status()
        .await?
        .media
        .and_then(|m| m.first_audio_at)
    {
        println!(
            "  call set-up: {} ms from dialling to Bob's first decoded audio (Bob answered at once)",
            first.saturating_duration_since(placed_at).as_millis()
        );
    }
    alice_conn.calls().hang_up().await?;
    let ended = |e: &CallEvent| matches!(e, CallEvent::Ended { .. });
    let alice_end = end_of(&wait(&mut alice_conn, ended).await?)?;
    let bob_end = end_of(&wait(&mut bob_conn, ended).await?)?;
    check(
        alice_end.0 == EndReason::HungUpHere && bob_end.0 == EndReason::HungUpThere,
        "Alice hung up; the call ended on both phones",
    )?;
    drain(&alice, &mut alice_conn).await;
    alice_conn.close().await;
    bob_conn.close().await;
    relay.stop().await;

    let heard = heard_by_bob.samples();
    let missing = report(dir, ("Alice", "Bob"), &alice_says, &heard, &bob_end.1)?;
    report(
        dir,
        ("Bob", "Alice"),
        &bob_says,
        &heard_by_alice.samples(),
        &alice_end.1,
    )?;
    if let Some(why) = missing {
        println!("  PESQ not measured: {why}");
    }
    Ok(())
}

/// Prints and checks what `listener` heard of what `speaker` said;
/// returns why PESQ was not measured, if it was not.
fn report(
    dir: &Path,
    (speaker, listener): (&str, &str),
    said: &[i16],
    heard: &[i16],
    media: &Option<MediaStatus>,
) -> DemoResult<Option<String>> {
    let quality = call_quality::compare(said, heard);
    let stats = media.as_ref().map(|m| m.stats).unwrap_or_default();
    let lost = stats.local_cumulative_lost.max(0) as f64;
    let loss = 100.0 * lost / (stats.packets_received as f64 + lost).max(1.0);
    println!(
        "  {listener} heard: correlation {:.2}, segmental SNR {:.1} dB (8 kHz), delay {:.0} ms, \
         {} packets, {loss:.1} % lost, {} rejected",
        quality.correlation,
        quality.snr_db,
        quality.delay_ms,
        stats.packets_received,
        stats.packets_rejected,
    );
    let pesq_missing = match call_quality::pesq(dir, said, heard, quality.delay_ms) {
        Pesq::Score(score) => {
            println!("  {listener} heard: PESQ-WB MOS-LQO {score:.2}");
            None
        }
        Pesq::Unavailable(why) => Some(why),
    };
    check(
        quality.segments > 0 && quality.correlation > HEARD,
        &format!("{listener} heard {speaker}'s words (correlation above {HEARD})"),
    )?;
    check(
        stats.packets_rejected == 0,
        &format!("{listener}'s phone rejected no packet"),
    )?;
    Ok(pesq_missing)
}

pub(crate) async fn account(dir: &Path, name: &str, relay: &RelayInvite) -> DemoResult<Account> {
    // A random key per run, never shown.
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let account = Account::create(
        &dir.join(name),
        &StoreKey::Raw(DatabaseKey::from_bytes(key)),
        relay.clone(),
    )?;
    account.register().await?;
    Ok(account)
}

/// `text` spoken by espeak-ng at 48 kHz, brought to a normal level; a
/// generated speech-like signal if espeak-ng is missing (and it says so).
fn speech(dir: &Path, who: &str, text: &str, seed: u64) -> Vec<i16> {
    let wav = dir.join(format!("{}-says.wav", who.to_lowercase()));
    let Some(samples) = speech::espeak(text, &wav) else {
        println!("  (espeak-ng is not installed: {who} talks with a generated speech-like signal)");
        return SpeechLikeSource::generate(2.5, seed);
    };
    println!(
        "  {who} says \"{text}\" ({:.1} s, espeak-ng)",
        samples.len() as f64 / 48_000.0
    );
    samples
}

/// Call events up to and including the first that `wanted` accepts.
pub(crate) async fn wait(
    connection: &mut Connection,
    wanted: impl Fn(&CallEvent) -> bool,
) -> DemoResult<Vec<CallEvent>> {
    let mut seen = Vec::new();
    let waiting = async {
        while let Some(event) = connection.next_event().await {
            if let Event::Call(event) = event {
                let done = wanted(&event);
                seen.push(event);
                if done {
                    return Ok(());
                }
            }
        }
        Err("the connection closed")
    };
    tokio::time::timeout(DEADLINE, waiting)
        .await
        .map_err(|_| "the call did not get there in time")??;
    Ok(seen)
}

fn sas(seen: &[CallEvent]) -> DemoResult<Sas> {
    seen.iter()
        .find_map(|e| match e {
            CallEvent::Sas { sas, .. } => Some(sas.clone()),
            _ => None,
        })
        .ok_or_else(|| "no authentication string".into())
}

fn end_of(seen: &[CallEvent]) -> DemoResult<(EndReason, Option<MediaStatus>)> {
    seen.iter()
        .find_map(|e| match e {
            CallEvent::Ended { reason, media, .. } => Some((*reason, media.as_deref().copied())),
            _ => None,
        })
        .ok_or_else(|| "the call did not end".into())
}

/// Waits (bounded) until `sink` played `samples` samples.
async fn until_heard(sink: &RecordingSink, samples: usize) -> DemoResult<()> {
    let waiting = async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        while sink.len() < samples {
            poll.tick().await;
        }
    };
    tokio::time::timeout(DEADLINE, waiting)
        .await
        .map_err(|_| "the speech did not play out in time".into())
}

/// Lets the hangup signal go out before the connection closes.
async fn drain(account: &Account, connection: &mut Connection) {
    let limit = tokio::time::Instant::now() + Duration::from_secs(10);
    while account.pending_outgoing().unwrap_or(0) > 0 {
        if !matches!(
            tokio::time::timeout_at(limit, connection.next_event()).await,
            Ok(Some(_))
        ) {
            break;
        }
    }
}
