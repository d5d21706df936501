//! Speech to talk into a call, and the check that what came out is what
//! went in.

use std::path::Path;
use std::process::Command;

use sotto_voice::audio::resample::resample_i16;
use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::audio::wav::read_wav_48k_mono;

/// `text` spoken at 48 kHz mono: espeak-ng when installed
/// (`scripts/setup.sh` installs it), else `fallback_seed`'s synthetic
/// speech-like signal (3 s).
pub fn speech(text: &str, dir: &Path, fallback_seed: u64) -> Vec<i16> {
    let wav = dir.join(format!("speech-{fallback_seed}.wav"));
    let spoken = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if spoken {
        if let Ok(samples) = read_wav_48k_mono(&wav) {
            // espeak speaks quietly; bring it to a normal level.
            let peak = samples
                .iter()
                .map(|s| s.unsigned_abs())
                .max()
                .unwrap_or(1)
                .max(1);
            let gain = 20_000.0 / f64::from(peak);
            return samples
                .iter()
                .map(|&s| (f64::from(s) * gain) as i16)
                .collect();
        }
    }
    eprintln!("espeak-ng not available: using the synthetic speech-like signal");
    SpeechLikeSource::generate(3.0, fallback_seed)
}

/// Mean over half-second segments of the sent speech (skipping pauses) of
/// the best normalised correlation with the received audio at any lag in
/// 0..max_lag samples (48 kHz). Per-segment lags tolerate the small shifts
/// an adaptive jitter buffer makes. Computed at 8 kHz. Near 1 when the
/// speech came through; near 0 for silence or unrelated audio.
pub fn segmental_correlation(sent: &[i16], received: &[i16], max_lag: usize) -> f64 {
    let down = |x: &[i16]| -> Vec<f64> {
        resample_i16(x, 48_000, 8_000)
            .iter()
            .map(|&s| f64::from(s))
            .collect()
    };
    let (a, b) = (down(sent), down(received));
    let seg = 4000;
    let lags = max_lag / 6;
    let mut scores = Vec::new();
    for start in (0..a.len().saturating_sub(seg)).step_by(seg) {
        let x = &a[start..start + seg];
        let xx: f64 = x.iter().map(|v| v * v).sum();
        if xx / (seg as f64) < 250_000.0 {
            continue; // quieter than about -36 dBFS: a pause
        }
        let mut best = f64::MIN;
        for lag in 0..lags {
            let Some(y) = b.get(start + lag..start + lag + seg) else {
                break;
            };
            let (mut xy, mut yy) = (0.0, 0.0);
            for (p, q) in x.iter().zip(y) {
                xy += p * q;
                yy += q * q;
            }
            best = best.max(xy / (xx.sqrt() * yy.sqrt()).max(1e-9));
        }
        scores.push(best);
    }
    scores.iter().sum::<f64>() / scores.len().max(1) as f64
}
