//! "Call set-up": from the offer sent to the first decoded audio frame
//! played out, on loopback. Two phones' `CallController`s with in-memory
//! stores exchange the signals through real Signal sessions (in process,
//! no relay), gather host candidates, run the connectivity checks, and
//! start the voice pipeline (`call::start_media`) on the path; both talk
//! the synthetic speech-like signal. The callee answers as soon as the
//! offer rings (no human in the loop).
//!
//! Prints, over a number of calls between the same two phones:
//! - offer sent -> media started on both sides (signalling, keys, path);
//! - offer sent -> first decoded frame played out by the caller, and by
//!   the callee.
//!
//! The signalling through a real relay is measured by
//! `cargo bench -p sotto-relay --bench call_setup` (add its "offer ->
//! callee keys ready" to compare).
//!
//! Run: `cargo bench -p sotto-core --bench call_media`
//! (`CALL_MEDIA_CALLS` changes the number of calls, default 20).

#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use sotto_core::call::CallState;
use sotto_voice::audio::synth::SpeechLikeSource;
use support::call_shell::{now_ms, run, Phone};

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn stats(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = samples.len();
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / n.max(1) as f64;
    println!(
        "  {label:<52} median {:7.1} ms  mean {:7.1} ms  p90 {:7.1} ms  max {:7.1} ms  (n={n})",
        ms(samples[n / 2]),
        mean,
        ms(samples[(n * 9 / 10).min(n - 1)]),
        ms(samples[n - 1]),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> BenchResult {
    let calls: usize = std::env::var("CALL_MEDIA_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(1);
    let mut rng = support::rng(7);
    let (alice, bob) = support::in_memory_pair(&mut rng)?;
    let mut phones = [
        Phone::new(alice, SpeechLikeSource::generate(3.0, 1)),
        Phone::new(bob, SpeechLikeSource::generate(3.0, 2)),
    ];
    let mut started = Vec::new();
    let mut caller_audio = Vec::new();
    let mut callee_audio = Vec::new();
    // One call more than measured: the first turns Alice's PreKey
    // messages into ordinary ones, as for any contact talked to before.
    for call in 0..=calls {
        let peer = phones[0].party.peer.clone();
        let offer_sent = Instant::now();
        let dial = phones[0].controller.dial(peer, now_ms(), &mut rng)?;
        run(&mut phones, 0, dial, &mut rng).await?;
        let accept = phones[1].controller.accept(now_ms(), &mut rng)?;
        run(&mut phones, 1, accept, &mut rng).await?;
        let media_started = offer_sent.elapsed();
        let mut first = Vec::new();
        for phone in &mut phones {
            if !matches!(phone.controller.state(), CallState::Connected { .. }) {
                return Err("the call did not connect".into());
            }
            let media = phone.media.as_mut().ok_or("no media")?;
            let at = tokio::time::timeout(Duration::from_secs(10), media.first_audio())
                .await?
                .ok_or("media stopped before any audio")?;
            first.push(at.duration_since(offer_sent));
        }
        let hang_up = phones[0].controller.hang_up(now_ms(), &mut rng)?;
        run(&mut phones, 0, hang_up, &mut rng).await?;
        if phones.iter().any(|p| p.media.is_some()) {
            return Err("media still running after hangup".into());
        }
        if call > 0 {
            started.push(media_started);
            caller_audio.push(first[0]);
            callee_audio.push(first[1]);
        }
    }
    println!(
        "call set-up on loopback, {calls} calls (in-memory stores, signals in process, direct UDP):"
    );
    stats("offer sent -> media started on both sides", &mut started);
    stats(
        "offer sent -> first decoded frame played, caller",
        &mut caller_audio,
    );
    stats(
        "offer sent -> first decoded frame played, callee",
        &mut callee_audio,
    );
    Ok(())
}
