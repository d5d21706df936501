//! `sotto bench call`: call set-up through the whole production stack —
//! two accounts of the application facade on a relay with TURN in this
//! process, signals sealed through the relay, TURN credentials fetched per
//! call, connectivity checks, the voice pipeline — timed from dialling to
//! the first decoded audio frame on each side. The callee answers as soon
//! as it rings, so the numbers are the machinery's, not a person's.

use std::time::{Duration, Instant};

use serde_json::json;
use sotto_core::app::{CallAudio, CallEvent, RecordingSink};
use sotto_core::call::{CallState, PathPolicy};
use sotto_relay::serve::LoopbackRelay;
use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::audio::BufferSource;

use crate::demo::DemoResult;
use crate::demo_call::{account, wait};
use crate::output::Output;

/// One call's timings, in ms from dialling.
struct Timing {
    ringing: f64,
    connected: f64,
    callee_audio: f64,
    caller_audio: f64,
}

/// Runs `calls` calls one after another and prints the percentiles.
pub async fn run(calls: usize, relay_only: bool, out: Output) -> DemoResult<()> {
    let dir = tempfile::tempdir()?;
    let relay = LoopbackRelay::start(&dir.path().join("relay")).await?;
    let invite = relay.invite.clone();
    let alice = account(dir.path(), "alice", &invite).await?;
    let bob = account(dir.path(), "bob", &invite).await?;
    let bob_for_alice = alice.add_contact(&bob.contact_invite(), "Bob")?;
    bob.add_contact(&alice.contact_invite(), "Alice")?;
    let mut alice_conn = alice.connect(&tokio::runtime::Handle::current())?;
    let mut bob_conn = bob.connect(&tokio::runtime::Handle::current())?;
    let policy = if relay_only {
        PathPolicy::RelayOnly
    } else {
        PathPolicy::All
    };
    alice_conn.calls().set_path_policy(policy)?;
    bob_conn.calls().set_path_policy(policy)?;
    let talk = SpeechLikeSource::generate(2.0, 1);
    let audio = || CallAudio::new(BufferSource::new(talk.clone()), RecordingSink::new());
    out.progress(&format!(
        "bench call: {calls} calls through a relay on loopback ({} path)…",
        if relay_only { "TURN-relayed" } else { "direct" }
    ));
    let mut timings = Vec::new();
    for _ in 0..calls {
        let dialled = Instant::now();
        let ms = |at: Instant| at.saturating_duration_since(dialled).as_secs_f64() * 1000.0;
        alice_conn.calls().place(&bob_for_alice, audio()).await?;
        wait(&mut bob_conn, |e| {
            matches!(e, CallEvent::State(CallState::IncomingRinging { .. }))
        })
        .await?;
        let ringing = ms(Instant::now());
        bob_conn.calls().answer(audio()).await?;
        let connected_state =
            |e: &CallEvent| matches!(e, CallEvent::State(CallState::Connected { .. }));
        wait(&mut alice_conn, connected_state).await?;
        let connected = ms(Instant::now());
        wait(&mut bob_conn, connected_state).await?;
        // The drivers stamp their first decoded frame themselves; asking
        // often only makes the answer come sooner, not the stamp.
        let (callee_audio, caller_audio) = {
            let first =
                |status: sotto_core::app::CallStatus| status.media.and_then(|m| m.first_audio_at);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let bob_first = first(bob_conn.calls().status().await?);
                let alice_first = first(alice_conn.calls().status().await?);
                if let (Some(b), Some(a)) = (bob_first, alice_first) {
                    break (ms(b), ms(a));
                }
                if Instant::now() > deadline {
                    return Err("no audio within 10 s".into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        timings.push(Timing {
            ringing,
            connected,
            callee_audio,
            caller_audio,
        });
        alice_conn.calls().hang_up().await?;
        let ended = |e: &CallEvent| matches!(e, CallEvent::Ended { .. });
        wait(&mut alice_conn, ended).await?;
        wait(&mut bob_conn, ended).await?;
    }
    alice_conn.close().await;
    bob_conn.close().await;
    relay.stop().await;

    let stats = |pick: fn(&Timing) -> f64| {
        let mut values: Vec<f64> = timings.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        (at(0.5), at(0.9), at(1.0))
    };
    let rows = [
        ("callee rings", stats(|t| t.ringing)),
        ("caller connected", stats(|t| t.connected)),
        ("first audio at callee", stats(|t| t.callee_audio)),
        ("first audio at caller", stats(|t| t.caller_audio)),
    ];
    out.json_line(&json!({
        "calls": calls,
        "path": if relay_only { "relayed" } else { "direct" },
        "ms_from_dialling": rows.iter().map(|(name, (p50, p90, max))| json!({
            "what": name, "p50": p50, "p90": p90, "max": max,
        })).collect::<Vec<_>>(),
    }));
    out.text(&format!(
        "{calls} calls, ms from dialling (callee answers at once):"
    ));
    out.text(&format!(
        "  {:<24} {:>8} {:>8} {:>8}",
        "", "p50", "p90", "max"
    ));
    for (name, (p50, p90, max)) in rows {
        out.text(&format!("  {name:<24} {p50:>8.1} {p90:>8.1} {max:>8.1}"));
    }
    Ok(())
}
