//! Voice benchmarks that print numbers (not run in CI):
//!
//! - CPU per 20 ms frame of the full duplex chain (both directions: encode,
//!   RED, SRTP, SRTCP, jitter buffer, decode);
//! - added latency from capture to playout, network excluded;
//! - degraded WAVs for PESQ at 0/5/10/20 % loss with 20 ms jitter, with and
//!   without loss protection, plus plain libopus references, and the total
//!   bitrate of each run. Score them with `pesq_score.py`.
//!
//! ```text
//! cargo run --release -p sotto-voice --example voice_bench -- target/voice-bench
//! python3 core/voice/examples/pesq_score.py target/voice-bench
//! ```
//!
//! `VOICE_SEED` changes the network simulator's seed (default 42);
//! `VOICE_MIN_DELAY_MS` sets the receiver's minimum jitter-buffer delay.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::audio::wav::{read_wav_48k_mono, write_wav};
use sotto_voice::codec::{OpusDecoder, OpusEncoder, FRAME_SAMPLES};
use sotto_voice::impair::{Impairment, LossModel, NetworkSimulator};
use sotto_voice::{MediaConfig, MediaSession, MediaStats, SrtpKeys};

const FRAME: usize = FRAME_SAMPLES;
/// IPv4 + UDP header bytes per datagram, for the on-the-wire bitrate.
const IP_UDP: u64 = 28;

/// Harvard sentences (IEEE 1969), public domain.
const WARMUP_TEXT: &str = "The birch canoe slid on the smooth planks. Glue the sheet to the \
    dark blue background. It's easy to tell the depth of a well.";
const TEXT: &str = "These days a chicken leg is a rare dish. Rice is often served in round \
    bowls. The juice of lemons makes fine punch. The box was thrown beside the parked truck.";

fn keys(fill: u8) -> SrtpKeys {
    SrtpKeys {
        master_key: [fill; 32],
        master_salt: [fill.wrapping_add(1); 12],
    }
}

fn espeak(text: &str, dir: &Path, name: &str) -> Option<Vec<i16>> {
    let wav = dir.join(name);
    let ok = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let samples = read_wav_48k_mono(&wav).ok()?;
    let peak = samples.iter().map(|s| s.unsigned_abs()).max()?.max(1);
    let gain = 16_000.0 / f64::from(peak);
    Some(
        samples
            .iter()
            .map(|&s| (f64::from(s) * gain) as i16)
            .collect(),
    )
}

fn frame_at(samples: &[i16], i: usize) -> Vec<i16> {
    let mut frame = vec![0i16; FRAME];
    if let Some(chunk) = samples.chunks(FRAME).nth(i) {
        frame[..chunk.len()].copy_from_slice(chunk);
    }
    frame
}

/// Alice talks to Bob over `link`; Bob's reports return over a clean link.
/// `warmup` is spoken first so that the adaptation reaches its steady state;
/// returns what Bob played during `speech` (plus a tail) and both stats.
fn one_way(
    warmup: &[i16],
    speech: &[i16],
    config: MediaConfig,
    link: Impairment,
    seed: u64,
) -> sotto_voice::Result<(Vec<i16>, MediaStats, MediaStats, f64, f64)> {
    let start = Instant::now();
    let mut alice = MediaSession::new(config, keys(1), keys(2), start)?;
    let mut bob_config = MediaConfig::default();
    if let Some(ms) = std::env::var("VOICE_MIN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        bob_config.jitter.min_delay_ms = ms;
    }
    let mut bob = MediaSession::new(bob_config, keys(2), keys(1), start)?;
    let mut forward = NetworkSimulator::new(link, seed);
    let mut back = NetworkSimulator::new(Impairment::default(), seed ^ 0xffff);
    let warm_frames = warmup.len().div_ceil(FRAME);
    let talk_frames = speech.len().div_ceil(FRAME) + 25;
    let mut played = Vec::new();
    let mut at_warm = sotto_voice::JitterStats::default();
    let mut out = vec![0i16; FRAME];
    let mut bytes_during_speech = 0u64;
    let mut packets_during_speech = 0u64;
    for i in 0..warm_frames + talk_frames {
        let t = Duration::from_millis(20 * i as u64);
        let now = start + t;
        let frame = if i < warm_frames {
            frame_at(warmup, i)
        } else {
            frame_at(speech, i - warm_frames)
        };
        let mut outgoing = Vec::new();
        if let Some(p) = alice.send_frame(&frame, now)? {
            outgoing.push(p);
        }
        if let Some(r) = alice.poll_feedback(now)? {
            outgoing.push(r);
        }
        for p in outgoing {
            if i >= warm_frames {
                bytes_during_speech += p.len() as u64 + IP_UDP;
                packets_during_speech += 1;
            }
            forward.send(&p, t);
        }
        if let Some(r) = bob.poll_feedback(now)? {
            back.send(&r, t);
        }
        for d in forward.deliver(t) {
            let _ = bob.receive_datagram(&d, now);
        }
        for d in back.deliver(t) {
            alice.receive_datagram(&d, now)?;
        }
        bob.next_playout_frame(&mut out)?;
        if i + 1 == warm_frames {
            at_warm = bob.stats().jitter;
        }
        if i >= warm_frames {
            played.extend_from_slice(&out);
        }
    }
    let secs = (talk_frames * FRAME) as f64 / 48_000.0;
    let _ = packets_during_speech;
    let kbps = bytes_during_speech as f64 * 8.0 / secs / 1000.0;
    let net = forward.stats();
    let lost = net.lost as f64 / net.sent.max(1) as f64;
    // Report the receiver's counters for the measured speech only.
    let mut bob_stats = bob.stats();
    let j = &mut bob_stats.jitter;
    j.recovered_red -= at_warm.recovered_red;
    j.recovered_fec -= at_warm.recovered_fec;
    j.concealed -= at_warm.concealed;
    j.late_packets -= at_warm.late_packets;
    j.accelerated -= at_warm.accelerated;
    j.expanded -= at_warm.expanded;
    Ok((played, alice.stats(), bob_stats, kbps, lost))
}

/// Plain libopus at `bitrate`, no network: the PESQ reference point.
fn plain_opus(speech: &[i16], bitrate: u32) -> sotto_voice::Result<Vec<i16>> {
    let mut enc = OpusEncoder::new(bitrate, false)?;
    let mut dec = OpusDecoder::new()?;
    let mut out = Vec::new();
    let mut pcm = vec![0i16; FRAME];
    for i in 0..speech.len().div_ceil(FRAME) + 2 {
        let packet = enc.encode(&frame_at(speech, i))?.to_vec();
        dec.decode(&packet, &mut pcm)?;
        out.extend_from_slice(&pcm);
    }
    Ok(out)
}

fn cpu_per_frame(speech: &[i16]) -> sotto_voice::Result<(f64, f64)> {
    let start = Instant::now();
    let mut a = MediaSession::new(MediaConfig::default(), keys(1), keys(2), start)?;
    let mut b = MediaSession::new(MediaConfig::default(), keys(2), keys(1), start)?;
    let frames = speech.len() / FRAME;
    let mut out = vec![0i16; FRAME];
    let mut step = |tx: &mut MediaSession,
                    rx: &mut MediaSession,
                    i: usize,
                    drop: bool|
     -> sotto_voice::Result<()> {
        let now = start + Duration::from_millis(20 * i as u64);
        if let Some(p) = tx.send_frame(&frame_at(speech, i), now)? {
            if !drop {
                rx.receive_datagram(&p, now)?;
            }
        }
        if let Some(r) = tx.poll_feedback(now)? {
            rx.receive_datagram(&r, now)?;
        }
        rx.next_playout_frame(&mut out)?;
        Ok(())
    };
    let mut run = |a: &mut MediaSession, b: &mut MediaSession, lossy: bool| {
        let cpu = thread_cpu_ns();
        for i in 0..frames {
            // With `lossy`, every 10th packet is dropped so that RED and
            // FEC recovery are part of the measured work.
            let drop = lossy && i % 10 == 5;
            step(a, b, i, drop)?;
            step(b, a, i, drop)?;
        }
        let spent_ns = thread_cpu_ns().zip(cpu).map(|(end, begin)| end - begin);
        Ok::<f64, sotto_voice::Error>(
            spent_ns.map_or(f64::NAN, |ns| ns as f64 / 1e6 / frames as f64),
        )
    };
    let clean = run(&mut a, &mut b, false)?;
    let lossy = run(&mut a, &mut b, true)?;
    Ok((clean, lossy))
}

/// CPU time this thread has run, in ns (Linux `schedstat`): unlike wall
/// time, it does not count the time other processes had the core, so the
/// figure holds on a busy machine.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Lag in samples at which `received` best matches `sent` (48 kHz, exact).
fn lag_samples(sent: &[i16], received: &[i16], max_lag: usize) -> usize {
    let n = sent.len().min(48_000 * 4);
    let mut best = (f64::MIN, 0);
    for lag in 0..max_lag {
        if lag + n > received.len() {
            break;
        }
        let mut xy = 0.0;
        let mut yy = 0.0;
        for i in 0..n {
            let y = f64::from(received[i + lag]);
            xy += f64::from(sent[i]) * y;
            yy += y * y;
        }
        let c = xy / yy.sqrt().max(1e-9);
        if c > best.0 {
            best = (c, lag);
        }
    }
    best.1
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/voice-bench".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let (warmup, speech, source) = match (
        espeak(WARMUP_TEXT, &dir, "warmup-22k.wav"),
        espeak(TEXT, &dir, "speech-22k.wav"),
    ) {
        (Some(w), Some(s)) => (w, s, "espeak-ng"),
        _ => (
            SpeechLikeSource::generate(4.0, 1),
            SpeechLikeSource::generate(10.0, 2),
            "synthetic speech-like signal (espeak-ng missing)",
        ),
    };
    println!(
        "speech: {source}, {:.1} s measured after {:.1} s of warm-up",
        speech.len() as f64 / 48_000.0,
        warmup.len() as f64 / 48_000.0
    );

    let (clean_ms, lossy_ms) = cpu_per_frame(&speech)?;
    println!(
        "cpu: full duplex chain per 20 ms frame (thread CPU time): {clean_ms:.3} ms clean, {lossy_ms:.3} ms with 10 % loss (RED+FEC on) (target <= 0.5 ms)"
    );

    // Latency: one clean run, exact lag of playout against capture.
    let (played, _, _, _, _) = one_way(
        &[],
        &speech,
        MediaConfig::default(),
        Impairment::default(),
        1,
    )?;
    let lag = lag_samples(&speech, &played, 9600);
    let mut enc = OpusEncoder::new(32_000, false)?;
    let lookahead = enc.lookahead()?;
    // Frame i is captured over [20i, 20i+20) ms and handed over at its end;
    // playout chunk i starts at 20(i+1) ms: the pipeline adds 20 ms of
    // framing to the lag measured in the playout stream.
    let latency_ms = lag as f64 / 48.0 + 20.0;
    println!(
        "latency: capture to playout, network and device buffers excluded: {latency_ms:.1} ms \
         (20 ms framing + {:.1} ms Opus look-ahead + {:.1} ms jitter buffer) (target <= 50 ms)",
        lookahead as f64 / 48.0,
        (lag as f64 - lookahead as f64) / 48.0
    );

    // Quality runs.
    let mut manifest = String::new();
    write_wav(&dir.join("reference.wav"), &speech, 16_000)?;
    for bitrate in [16_000u32, 24_000, 32_000] {
        let decoded = plain_opus(&speech, bitrate)?;
        let name = format!("plain-opus-{}k.wav", bitrate / 1000);
        write_wav(&dir.join(&name), &decoded, 16_000)?;
        writeln!(
            manifest,
            "{name}\tplain libopus {} kbit/s, no network\t{}",
            bitrate / 1000,
            bitrate / 1000
        )?;
    }
    println!(
        "{:<36} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>8} {:>8}",
        "run",
        "loss%",
        "RED",
        "FEC",
        "PLC",
        "late",
        "acc",
        "exp",
        "target",
        "opus",
        "total",
        "jitter"
    );
    // The network simulator's seed (VOICE_SEED), to see the spread.
    let seed = std::env::var("VOICE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(42);
    // (label, file stem, link, protection)
    let mut runs: Vec<(String, String, Impairment, bool)> = Vec::new();
    let random = |loss: f64, jitter_ms: u64| {
        (
            format!("loss {:>2.0}% jitter {:>2} ms", loss * 100.0, jitter_ms),
            format!("loss{:02.0}-jitter{jitter_ms}", loss * 100.0),
            Impairment::random_loss(loss, Duration::from_millis(jitter_ms)),
        )
    };
    let mut links = vec![random(0.0, 0), random(0.10, 0)];
    links.extend([0.0, 0.05, 0.10, 0.20].map(|loss| random(loss, 20)));
    // Gilbert–Elliott: bursts of ~2 packets, ~12 % loss on average.
    links.push((
        "G-E bursts jitter 20 ms".to_owned(),
        "bursts-jitter20".to_owned(),
        Impairment {
            loss: LossModel::GilbertElliott {
                p_good_to_bad: 0.05,
                p_bad_to_good: 0.45,
                loss_good: 0.0,
                loss_bad: 0.9,
            },
            jitter: Duration::from_millis(20),
            ..Impairment::default()
        },
    ));
    for (label, stem, link) in links {
        for protection in [true, false] {
            runs.push((label.clone(), stem.clone(), link, protection));
        }
    }
    for (label, stem, link, protection) in runs {
        let config = MediaConfig {
            loss_protection: protection,
            ..MediaConfig::default()
        };
        let (played, alice, bob, kbps, lost) = one_way(&warmup, &speech, config, link, seed)?;
        let label = format!(
            "{label} {}",
            if protection {
                "protected"
            } else {
                "unprotected"
            }
        );
        let name = format!(
            "chain-{stem}-{}.wav",
            if protection { "protected" } else { "plain" }
        );
        write_wav(&dir.join(&name), &played, 16_000)?;
        let j = bob.jitter;
        println!(
            "{label:<36} {:>6.1} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5.0}ms {:>6}k {:>7.1}k {:>6.1}ms",
            lost * 100.0,
            j.recovered_red,
            j.recovered_fec,
            j.concealed,
            j.late_packets,
            j.accelerated,
            j.expanded,
            j.target_delay_ms,
            alice.bitrate / 1000,
            kbps,
            bob.local_jitter_secs * 1000.0,
        );
        writeln!(manifest, "{name}\t{label}\t{kbps:.1}")?;
    }
    std::fs::write(dir.join("manifest.tsv"), manifest)?;
    println!(
        "wrote degraded WAVs to {}; score them with pesq_score.py",
        dir.display()
    );
    Ok(())
}
