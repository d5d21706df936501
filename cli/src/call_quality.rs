//! How well speech came through a call, for `sotto demo`: the correlation
//! of what was heard with what was said, the waveform SNR that follows
//! from it, the delay between the two, and PESQ when the Python package
//! `pesq` is there to score it.

use std::path::Path;
use std::process::Command;

use sotto_voice::audio::resample::resample_i16;
use sotto_voice::audio::wav::write_wav;

/// What [`compare`] measured.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// Mean over half-second segments of speech of the best normalised
    /// correlation with what was heard (1: identical waveform).
    pub correlation: f64,
    /// Mean segmental SNR in dB, at 8 kHz, with the best gain and lag per
    /// segment: −10·log10(1 − ρ²).
    pub snr_db: f64,
    /// Median lag of the segments' best match, in ms: how much later the
    /// words were heard than said (from each side's start of media).
    pub delay_ms: f64,
    /// Segments of speech compared.
    pub segments: usize,
}

/// Half a second at 8 kHz.
const SEGMENT: usize = 4000;
/// Lags searched: up to half a second.
const MAX_LAG: usize = 4000;

/// Compares `heard` (48 kHz mono) with `said` (48 kHz mono), segment by
/// segment at 8 kHz, so that the adaptive jitter buffer's small shifts do
/// not count as errors. Pauses in `said` are skipped.
pub fn compare(said: &[i16], heard: &[i16]) -> Heard {
    let down = |x: &[i16]| -> Vec<f64> {
        resample_i16(x, 48_000, 8_000)
            .iter()
            .map(|&s| f64::from(s))
            .collect()
    };
    let (a, b) = (down(said), down(heard));
    let mut correlations = Vec::new();
    let mut lags = Vec::new();
    for start in (0..a.len().saturating_sub(SEGMENT)).step_by(SEGMENT) {
        let x = &a[start..start + SEGMENT];
        let xx: f64 = x.iter().map(|v| v * v).sum();
        if xx / (SEGMENT as f64) < 250_000.0 {
            continue; // quieter than about −36 dBFS: a pause
        }
        let mut best = (f64::MIN, 0);
        for lag in 0..MAX_LAG {
            let Some(y) = b.get(start + lag..start + lag + SEGMENT) else {
                break;
            };
            let (mut xy, mut yy) = (0.0, 0.0);
            for (p, q) in x.iter().zip(y) {
                xy += p * q;
                yy += q * q;
            }
            let rho = xy / (xx.sqrt() * yy.sqrt()).max(1e-9);
            if rho > best.0 {
                best = (rho, lag);
            }
        }
        if best.0 > f64::MIN {
            correlations.push(best.0);
            lags.push(best.1);
        }
    }
    let n = correlations.len().max(1) as f64;
    let snr = |rho: f64| -10.0 * (1.0 - rho.clamp(0.0, 0.999_999).powi(2)).log10();
    lags.sort_unstable();
    Heard {
        correlation: correlations.iter().sum::<f64>() / n,
        snr_db: correlations.iter().map(|&r| snr(r)).sum::<f64>() / n,
        delay_ms: lags.get(lags.len() / 2).map_or(0.0, |&l| l as f64 / 8.0),
        segments: correlations.len(),
    }
}

/// The PESQ script: wide-band MOS-LQO (ITU-T P.862.2) of two 16 kHz WAVs.
const PESQ_SCRIPT: &str = r#"
import sys, wave
import numpy as np
from pesq import pesq
def read(p):
    with wave.open(p, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
ref, deg = read(sys.argv[1]), read(sys.argv[2])
n = min(len(ref), len(deg))
print(pesq(16000, ref[:n], deg[:n], "wb"))
"#;

/// Why PESQ was not measured, or its score.
pub enum Pesq {
    /// The wide-band MOS-LQO.
    Score(f64),
    /// Not measured, and why.
    Unavailable(String),
}

/// Scores `heard` against `said` with PESQ-WB through Python (`$SOTTO_PYTHON`
/// or `python3`) and its `pesq` package, if they are there. `heard` is
/// first shifted by `delay_ms` so that both start together.
pub fn pesq(dir: &Path, said: &[i16], heard: &[i16], delay_ms: f64) -> Pesq {
    let python = std::env::var("SOTTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let skip = ((delay_ms * 48.0) as usize).min(heard.len());
    let (reference, degraded) = (dir.join("pesq-ref.wav"), dir.join("pesq-deg.wav"));
    if write_wav(&reference, said, 16_000).is_err()
        || write_wav(&degraded, &heard[skip..], 16_000).is_err()
    {
        return Pesq::Unavailable("cannot write the WAV files to score".into());
    }
    let run = Command::new(&python)
        .args(["-c", PESQ_SCRIPT])
        .arg(&reference)
        .arg(&degraded)
        .output();
    match run {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map(Pesq::Score)
            .unwrap_or_else(|_| Pesq::Unavailable("pesq printed no score".into())),
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            Pesq::Unavailable(
                "the Python package `pesq` is not installed (pip install pesq numpy)".into(),
            )
        }
        Ok(_) => Pesq::Unavailable("pesq failed on these files".into()),
        Err(_) => Pesq::Unavailable(format!("{python} is not available")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_speech_correlates_and_silence_does_not() {
        let said = sotto_voice::audio::synth::SpeechLikeSource::generate(2.0, 3);
        let mut delayed = vec![0i16; 4_800];
        delayed.extend_from_slice(&said);
        let same = compare(&said, &delayed);
        assert!(same.correlation > 0.99, "{same:?}");
        assert!((same.delay_ms - 100.0).abs() < 1.0, "{same:?}");
        assert!(same.segments > 0);
        let silent = compare(&said, &vec![0i16; said.len() + 48_000]);
        assert!(silent.correlation < 0.1, "{silent:?}");
    }
}
