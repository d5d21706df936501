//! Shared fixtures of the voice tests: keys, speech, a simulated call and
//! signal comparison.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use sotto_voice::audio::resample::resample_i16;
use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::impair::{Impairment, NetworkSimulator};
use sotto_voice::{MediaConfig, MediaSession, SrtpKeys};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub const FRAME: usize = 960;

pub fn keys(fill: u8) -> SrtpKeys {
    let mut master_key = [0u8; 32];
    for (i, b) in master_key.iter_mut().enumerate() {
        *b = fill.wrapping_mul(31).wrapping_add(i as u8);
    }
    SrtpKeys {
        master_key,
        master_salt: [fill ^ 0xa5; 12],
    }
}

/// A pair of sessions with matching keys: (alice, bob), their random
/// initial values seeded so that every run is the same.
pub fn session_pair(
    alice_config: MediaConfig,
    bob_config: MediaConfig,
    start: Instant,
) -> sotto_voice::Result<(MediaSession, MediaSession)> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5077);
    let a_to_b = keys(1);
    let b_to_a = keys(2);
    let alice = MediaSession::with_rng(
        alice_config,
        a_to_b.clone(),
        b_to_a.clone(),
        start,
        &mut rng,
    )?;
    let bob = MediaSession::with_rng(bob_config, b_to_a, a_to_b, start, &mut rng)?;
    Ok((alice, bob))
}

/// Speech at 48 kHz: espeak-ng when installed (scripts/setup.sh installs
/// it), the synthetic speech-like signal otherwise.
pub fn speech(text: &str, dir: &Path) -> Vec<i16> {
    sotto_voice::audio::speech::espeak(text, &dir.join("speech.wav")).unwrap_or_else(|| {
        eprintln!("espeak-ng not available: using the synthetic speech-like signal");
        SpeechLikeSource::generate(3.0, 11)
    })
}

pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sotto-voice-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Best normalised cross-correlation of `received` against `sent` over lags
/// of 0..max_lag samples (the pipeline delays, never advances), computed at
/// 16 kHz for speed. Returns (correlation, lag in 48 kHz samples).
pub fn best_correlation(sent: &[i16], received: &[i16], max_lag: usize) -> (f64, usize) {
    let a: Vec<f64> = resample_i16(sent, 48_000, 16_000)
        .iter()
        .map(|&s| f64::from(s))
        .collect();
    let b: Vec<f64> = resample_i16(received, 48_000, 16_000)
        .iter()
        .map(|&s| f64::from(s))
        .collect();
    let mut best = (f64::MIN, 0);
    for lag in 0..max_lag / 3 {
        let n = a.len().min(b.len().saturating_sub(lag));
        if n < 1600 {
            break;
        }
        let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let x = a[i];
            let y = b[i + lag];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        let c = ab / (aa.sqrt() * bb.sqrt()).max(1e-9);
        if c > best.0 {
            best = (c, lag * 3);
        }
    }
    best
}

/// How closely `received` follows `sent`, each half second at its own lag
/// in 0..max_lag samples (see `sotto_voice::audio::speech::compare`).
pub fn segmental_correlation(sent: &[i16], received: &[i16], max_lag: usize) -> f64 {
    sotto_voice::audio::speech::compare(sent, received, max_lag).correlation
}

/// Segmental SNR-like figure: signal-to-error ratio in dB after aligning
/// `received` by `lag` samples.
pub fn snr_db(sent: &[i16], received: &[i16], lag: usize) -> f64 {
    let n = sent.len().min(received.len().saturating_sub(lag));
    let (mut s, mut e) = (0.0, 0.0);
    for i in 0..n {
        let x = f64::from(sent[i]);
        let y = f64::from(received[i + lag]);
        s += x * x;
        e += (x - y) * (x - y);
    }
    10.0 * (s / e.max(1e-9)).log10()
}

/// Outcome of a simulated one-way call.
pub struct SimulatedCall {
    pub received: Vec<i16>,
    pub alice: MediaSession,
    pub bob: MediaSession,
}

/// Alice talks to Bob over a simulated link (Bob's reports go back over a
/// clean one), for `speech` plus a second of tail.
pub fn simulate_call(
    speech: &[i16],
    alice_config: MediaConfig,
    link: Impairment,
    seed: u64,
) -> sotto_voice::Result<SimulatedCall> {
    let start = Instant::now();
    let (mut alice, mut bob) = session_pair(alice_config, MediaConfig::default(), start)?;
    let mut forward = NetworkSimulator::new(link, seed);
    let mut back = NetworkSimulator::new(Impairment::default(), seed + 1);
    let frames = speech.len().div_ceil(FRAME) + 50;
    let mut received = Vec::with_capacity(frames * FRAME);
    let mut out = vec![0i16; FRAME];
    let mut frame = vec![0i16; FRAME];
    for i in 0..frames {
        let t = Duration::from_millis(20 * i as u64);
        let now = start + t;
        frame.fill(0);
        if i * FRAME < speech.len() {
            let end = (i * FRAME + FRAME).min(speech.len());
            frame[..end - i * FRAME].copy_from_slice(&speech[i * FRAME..end]);
        }
        if let Some(packet) = alice.send_frame(&frame, now)? {
            forward.send(&packet, t);
        }
        if let Some(report) = alice.poll_feedback(now)? {
            forward.send(&report, t);
        }
        if let Some(report) = bob.poll_feedback(now)? {
            back.send(&report, t);
        }
        for datagram in forward.deliver(t) {
            // Duplicates come back as replays; that is the point.
            let _ = bob.receive_datagram(&datagram, now);
        }
        for datagram in back.deliver(t) {
            alice.receive_datagram(&datagram, now)?;
        }
        bob.next_playout_frame(&mut out)?;
        received.extend_from_slice(&out);
    }
    Ok(SimulatedCall {
        received,
        alice,
        bob,
    })
}
