//! The receive path under simulated network trouble: loss recovered from
//! RED and Opus FEC, jitter absorbed by the adaptive buffer, duplicates
//! refused as replays, and the audio still close to what was sent.

mod support;

use std::time::Duration;

use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::impair::{Impairment, LossModel};
use sotto_voice::MediaConfig;
use support::{best_correlation, segmental_correlation, simulate_call, TestResult};

fn speech() -> Vec<i16> {
    SpeechLikeSource::generate(6.0, 5)
}

#[test]
fn clean_link_plays_everything_with_one_frame_of_buffer() -> TestResult {
    let sent = speech();
    let call = simulate_call(&sent, MediaConfig::default(), Impairment::default(), 1)?;
    let stats = call.bob.stats().jitter;
    assert_eq!(stats.concealed, 0, "{stats:?}");
    assert_eq!(stats.late_packets, 0);
    assert_eq!(stats.target_delay_ms, 20.0);
    let (corr, lag) = best_correlation(&sent, &call.received, 9600);
    assert!(corr > 0.85, "correlation {corr}");
    // Encoder look-ahead plus one frame: well under 50 ms.
    assert!(lag < 2400, "lag {lag}");
    Ok(())
}

#[test]
fn random_loss_is_mostly_recovered_from_red() -> TestResult {
    let sent = speech();
    let link = Impairment::random_loss(0.10, Duration::from_millis(20));
    let call = simulate_call(&sent, MediaConfig::default(), link, 2)?;
    let stats = call.bob.stats();
    let alice = call.alice.stats();
    // Bob's reports switched Alice to RED.
    assert!(alice.red_depth >= 1, "{alice:?}");
    assert!(alice.remote_loss > 0.0);
    assert!(alice.rtt_secs.is_some());
    assert!(stats.jitter.recovered_red > 10, "{:?}", stats.jitter);
    // The buffer grew for the jitter.
    assert!(stats.jitter.target_delay_ms > 40.0, "{:?}", stats.jitter);
    assert!(
        stats.local_jitter_secs > 0.010,
        "{}",
        stats.local_jitter_secs
    );
    let corr = segmental_correlation(&sent, &call.received, 19_200);
    assert!(corr > 0.8, "correlation {corr}");
    Ok(())
}

#[test]
fn without_red_the_next_packets_fec_and_plc_fill_in() -> TestResult {
    let sent = speech();
    let config = MediaConfig {
        loss_protection: false,
        ..MediaConfig::default()
    };
    let link = Impairment::random_loss(0.10, Duration::ZERO);
    let call = simulate_call(&sent, config, link, 3)?;
    let stats = call.bob.stats().jitter;
    assert_eq!(stats.recovered_red, 0);
    assert!(stats.recovered_fec > 5, "{stats:?}");
    assert!(stats.concealed > 0, "{stats:?}");
    assert_eq!(call.alice.stats().red_depth, 0);
    Ok(())
}

#[test]
fn burst_loss_reordering_and_duplicates() -> TestResult {
    let sent = speech();
    let link = Impairment {
        loss: LossModel::GilbertElliott {
            p_good_to_bad: 0.03,
            p_bad_to_good: 0.4,
            loss_good: 0.01,
            loss_bad: 0.7,
        },
        jitter: Duration::from_millis(10),
        reorder: 0.05,
        reorder_delay: Duration::from_millis(30),
        duplicate: 0.05,
        ..Impairment::default()
    };
    let call = simulate_call(&sent, MediaConfig::default(), link, 4)?;
    let bob = call.bob.stats();
    // Every network duplicate was refused by the SRTP replay window.
    assert!(bob.replays_rejected > 5, "{bob:?}");
    assert_eq!(bob.jitter.duplicate_packets, 0);
    let recovered = bob.jitter.recovered_red + bob.jitter.recovered_fec;
    assert!(recovered > 5, "{:?}", bob.jitter);
    let corr = segmental_correlation(&sent, &call.received, 19_200);
    eprintln!("{:?}", bob.jitter);
    assert!(corr > 0.7, "correlation {corr}");
    Ok(())
}

#[test]
fn dtx_sends_little_in_silence_and_playout_keeps_going() -> TestResult {
    let mut sent = speech();
    // Two seconds of digital silence in the middle.
    sent.splice(96_000..96_000, std::iter::repeat_n(0, 96_000));
    let config = MediaConfig {
        dtx: true,
        ..MediaConfig::default()
    };
    let call = simulate_call(&sent, config, Impairment::default(), 5)?;
    let alice = call.alice.stats();
    assert!(alice.dtx_frames > 50, "{alice:?}");
    let frames = sent.len() / 960;
    assert!((alice.packets_sent as usize) < frames - 50);
    // Playout did not drift: the delay is back near one or two frames.
    let jitter = call.bob.stats().jitter;
    assert!(jitter.current_delay_ms <= 60.0, "{jitter:?}");
    assert_eq!(call.received.len(), (sent.len().div_ceil(960) + 50) * 960);
    Ok(())
}

#[test]
fn delay_grows_with_jitter_and_shrinks_when_it_goes() -> TestResult {
    use sotto_voice::impair::NetworkSimulator;
    use std::time::Instant;
    let speech = SpeechLikeSource::generate(16.0, 6);
    let start = Instant::now();
    let (mut alice, mut bob) =
        support::session_pair(MediaConfig::default(), MediaConfig::default(), start)?;
    let rough = Impairment {
        jitter: Duration::from_millis(30),
        ..Impairment::default()
    };
    let mut link = NetworkSimulator::new(rough, 7);
    let mut calm = NetworkSimulator::new(Impairment::default(), 8);
    let mut out = vec![0i16; 960];
    let mut peak_target = 0.0f64;
    let frames = speech.len() / 960;
    for (i, frame) in speech.chunks_exact(960).enumerate() {
        let t = Duration::from_millis(20 * i as u64);
        let now = start + t;
        if let Some(p) = alice.send_frame(frame, now)? {
            // Jittery for the first 6 s, then calm.
            if i < 300 {
                link.send(&p, t);
            } else {
                calm.send(&p, t);
            }
        }
        for d in link.deliver(t).into_iter().chain(calm.deliver(t)) {
            bob.receive_datagram(&d, now)?;
        }
        bob.next_playout_frame(&mut out)?;
        peak_target = peak_target.max(bob.stats().jitter.target_delay_ms);
        if i + 1 == frames {
            let j = bob.stats().jitter;
            assert!(peak_target >= 80.0, "target never grew: {peak_target}");
            assert!(j.target_delay_ms <= 40.0, "target stayed high: {j:?}");
            assert!(j.current_delay_ms <= 60.0, "delay stayed high: {j:?}");
            assert!(j.accelerated >= 2, "{j:?}");
            assert!(j.late_packets < 15, "{j:?}");
        }
    }
    Ok(())
}
