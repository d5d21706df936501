//! A whole call: two phones' `CallController`s set it up over Signal
//! sessions, connect a direct path on loopback, and run the voice pipeline
//! (`call::start_media`) on it. Speech goes both ways through SRTP at the
//! same time; what each side plays out must correlate with what the other
//! said. Hanging up stops the media on both phones. The checks are on the
//! audio and the states, never on timing; waits are only bounded.

mod support;

use std::time::Duration;

use sotto_core::call::{CallState, EndReason, PathKind};
use sotto_core::Result;
use sotto_voice::audio::synth::SpeechLikeSource;
use support::call_shell::{now_ms, run, Phone};
use support::speech::{segmental_correlation, speech};
use support::*;

/// Up to 0.5 s of delay between what one side says and the other plays:
/// loopback, the two drivers' start times and the jitter buffer.
const MAX_LAG: usize = 24_000;

/// Sets up a call from phone 0 to phone 1, answered at once.
async fn connect(phones: &mut [Phone; 2], rng: &mut rand::rngs::StdRng) -> Result<()> {
    let peer = phones[0].party.peer.clone();
    let dial = phones[0].controller.dial(peer, now_ms(), rng)?;
    run(phones, 0, dial, rng).await?;
    assert!(matches!(
        phones[1].controller.state(),
        CallState::IncomingRinging { .. }
    ));
    let accept = phones[1].controller.accept(now_ms(), rng)?;
    run(phones, 1, accept, rng).await
}

/// Waits (bounded) until each phone has played out its `wanted` number
/// of decoded frames.
async fn until_heard(phones: &[Phone; 2], wanted: [u64; 2]) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let done = phones.iter().zip(wanted).all(|(phone, wanted)| {
                phone
                    .media
                    .as_ref()
                    .is_some_and(|m| m.status().stats.jitter.decoded >= wanted)
            });
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both sides hear the other within the bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_flows_both_ways_through_a_call_and_stops_at_hangup() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let alice_says = speech("The birch canoe slid on the smooth planks.", dir.path(), 11);
    let bob_says = speech(
        "Glue the sheet to the dark blue background.",
        dir.path(),
        12,
    );

    let mut rng = rng(97);
    let (alice, bob) = in_memory_pair(&mut rng)?;
    let mut phones = [
        Phone::new(alice, alice_says.clone()),
        Phone::new(bob, bob_says.clone()),
    ];
    connect(&mut phones, &mut rng).await?;

    for phone in &phones {
        assert!(
            matches!(phone.controller.state(), CallState::Connected { .. }),
            "{:?}",
            phone.controller.state()
        );
        assert!(phone.sas.is_some());
        // Loopback without TURN: the checks can only choose host to host.
        assert_eq!(phone.path_kind, Some(PathKind::Direct));
    }
    assert_eq!(phones[0].sas, phones[1].sas);

    // Let both sides talk until each has played out all the other said,
    // plus a margin for the jitter buffer.
    let frames = |said: &[i16]| said.len().div_ceil(960) as u64 + 25;
    let wanted = [frames(&bob_says), frames(&alice_says)];
    until_heard(&phones, wanted).await;
    for phone in &phones {
        let media = phone.media.as_ref().expect("media runs");
        assert!(media.is_running());
        let status = media.status();
        assert!(!status.failed);
        assert!(status.first_audio_at.is_some());
        assert_eq!(status.stats.packets_rejected, 0, "{:?}", status.stats);
    }

    // Alice hangs up: both calls end and both drivers stop.
    let hang_up = phones[0].controller.hang_up(now_ms(), &mut rng)?;
    run(&mut phones, 0, hang_up, &mut rng).await?;
    assert_eq!(phones[0].ended, Some(EndReason::HungUpHere));
    assert_eq!(phones[1].ended, Some(EndReason::HungUpThere));
    for phone in &phones {
        assert!(phone.media.is_none(), "media still running after hangup");
    }
    let [alice, bob] = &phones;
    let alice_out = alice.stopped.as_ref().expect("alice's media stopped");
    let bob_out = bob.stopped.as_ref().expect("bob's media stopped");
    assert!(alice_out.error.is_none() && bob_out.error.is_none());

    let heard_by_bob = segmental_correlation(&alice_says, &bob_out.sink.samples, MAX_LAG);
    let heard_by_alice = segmental_correlation(&bob_says, &alice_out.sink.samples, MAX_LAG);
    // On a quiet machine both are near 0.9; unrelated speech (her own
    // words against what she heard) is near 0.15. Frames concealed when a
    // loaded machine delays a tick lower the first, never to the second.
    eprintln!("correlation: alice → bob {heard_by_bob:.3}, bob → alice {heard_by_alice:.3}");
    assert!(heard_by_bob > 0.6, "alice → bob correlation {heard_by_bob}");
    assert!(
        heard_by_alice > 0.6,
        "bob → alice correlation {heard_by_alice}"
    );
    // Each heard the other, not itself.
    let own_echo = segmental_correlation(&alice_says, &alice_out.sink.samples, MAX_LAG);
    eprintln!("correlation of alice's own words with what she heard: {own_echo:.3}");
    assert!(own_echo < heard_by_alice, "alice hears herself: {own_echo}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_microphone_sends_silence() -> Result<()> {
    let alice_says = SpeechLikeSource::generate(2.0, 21);
    let bob_says = SpeechLikeSource::generate(2.0, 22);
    let mut rng = rng(98);
    let (alice, bob) = in_memory_pair(&mut rng)?;
    let mut phones = [
        Phone::new(alice, alice_says.clone()),
        Phone::new(bob, bob_says.clone()),
    ];
    connect(&mut phones, &mut rng).await?;
    // Muted as soon as the media runs: at most the frames of the first
    // ticks carry sound.
    phones[0]
        .media
        .as_ref()
        .expect("alice's media")
        .set_muted(true);
    let frames = alice_says.len().div_ceil(960) as u64 + 10;
    until_heard(&phones, [frames, frames]).await;
    let hang_up = phones[0].controller.hang_up(now_ms(), &mut rng)?;
    run(&mut phones, 0, hang_up, &mut rng).await?;

    let heard_by_bob = &phones[1]
        .stopped
        .as_ref()
        .expect("bob's media")
        .sink
        .samples;
    let heard_by_alice = &phones[0]
        .stopped
        .as_ref()
        .expect("alice's media")
        .sink
        .samples;
    // Past the first 200 ms, Bob hears nothing of Alice.
    let loudest = heard_by_bob
        .iter()
        .skip(9_600)
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    eprintln!("loudest sample Bob heard from muted Alice: {loudest}");
    assert!(heard_by_bob.len() > 48_000, "Bob played out audio");
    assert!(loudest < 300, "muted Alice is heard: peak {loudest}");
    // The call itself carries on: Alice hears Bob.
    let correlation = segmental_correlation(&bob_says, heard_by_alice, MAX_LAG);
    assert!(correlation > 0.6, "bob → alice correlation {correlation}");
    Ok(())
}
