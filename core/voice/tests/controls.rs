//! Mute and speaker controls, and the RTCP numbers the peer sees.

mod support;

use std::time::{Duration, Instant};

use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::{FrameSource, MediaConfig};
use support::{session_pair, TestResult, FRAME};

fn energy(samples: &[i16]) -> f64 {
    samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len().max(1) as f64
}

#[test]
fn mute_sends_silence_and_gain_scales_playout() -> TestResult {
    let speech = SpeechLikeSource::generate(3.0, 8);
    let start = Instant::now();
    let (mut alice, mut bob) = session_pair(MediaConfig::default(), MediaConfig::default(), start)?;
    let mut out = vec![0i16; FRAME];
    let mut heard = Vec::new();
    let third = speech.len() / FRAME / 3;
    for (i, frame) in speech.chunks_exact(FRAME).enumerate() {
        let now = start + Duration::from_millis(20 * i as u64);
        // First third normal, second muted, last third at half volume.
        alice.set_muted(i >= third && i < 2 * third);
        if i == 2 * third {
            bob.set_playout_gain(0.5);
        }
        if let Some(p) = alice.send_frame(frame, now)? {
            bob.receive_datagram(&p, now)?;
        }
        let source = bob.next_playout_frame(&mut out)?;
        assert_ne!(source, FrameSource::Concealed);
        heard.extend_from_slice(&out);
    }
    assert!(!alice.is_muted());
    let n = third * FRAME;
    // Skip a few frames at each boundary for codec and buffer delay.
    let normal = energy(&heard[5 * FRAME..n]);
    let muted = energy(&heard[n + 5 * FRAME..2 * n]);
    let half = energy(&heard[2 * n + 5 * FRAME..]);
    let sent_normal = energy(&speech[5 * FRAME..n]);
    let sent_last = energy(&speech[2 * n + 5 * FRAME..3 * n]);
    assert!(normal > 0.5 * sent_normal, "{normal} vs {sent_normal}");
    assert!(muted < 1e-3 * normal, "muted energy {muted}");
    let ratio = half / sent_last;
    // Half the amplitude is a quarter of the energy (codec loss aside).
    assert!((0.15..0.35).contains(&ratio), "gain ratio {ratio}");
    Ok(())
}
