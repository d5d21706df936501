//! Speech to put through a call and the measure of what came out, shared
//! by the tests, the benchmarks and `sotto demo`: espeak-ng's voice at
//! 48 kHz mono, and how closely the audio heard at the far end follows it.

use std::path::Path;
use std::process::Command;

use super::resample::resample_i16;
use super::wav::read_wav_48k_mono;

/// The peak [`normalise`] brings speech to (about −4 dBFS).
const SPEECH_PEAK: f64 = 20_000.0;

/// Half a second at 8 kHz, the rate [`compare`] works at.
const SEGMENT: usize = 4000;

/// Mean square (at 8 kHz) under which a segment of what was said counts as
/// a pause: an RMS of 500, about −36 dBFS.
const PAUSE_FLOOR: f64 = 250_000.0;

/// `text` spoken by espeak-ng (US English, 150 words a minute) into the WAV
/// file `wav`, read back at 48 kHz mono and brought to a normal level
/// (espeak-ng speaks quietly). `None` when espeak-ng is not installed or
/// fails; callers fall back to [`super::synth::SpeechLikeSource`].
pub fn espeak(text: &str, wav: &Path) -> Option<Vec<i16>> {
    let spoken = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(wav)
        .arg(text)
        .status()
        .is_ok_and(|status| status.success());
    if !spoken {
        return None;
    }
    read_wav_48k_mono(wav)
        .ok()
        .map(|samples| normalise(&samples))
}

/// `samples` scaled so that their peak is about −4 dBFS.
pub fn normalise(samples: &[i16]) -> Vec<i16> {
    let peak = samples
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(1)
        .max(1);
    let gain = SPEECH_PEAK / f64::from(peak);
    samples
        .iter()
        .map(|&s| (f64::from(s) * gain) as i16)
        .collect()
}

/// What [`compare`] measured.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// Mean over half-second segments of speech of the best normalised
    /// correlation with what was heard: near 1 when the words came
    /// through, near 0 for silence or other audio.
    pub correlation: f64,
    /// Mean segmental SNR in dB at 8 kHz, with the best gain and lag per
    /// segment: −10·log10(1 − ρ²).
    pub snr_db: f64,
    /// Median lag of the segments' best match, in ms: how much later the
    /// words were heard than said.
    pub delay_ms: f64,
    /// Segments of speech compared (pauses are skipped).
    pub segments: usize,
}

/// Compares `heard` with `said` (both 48 kHz mono), half a second at a
/// time at 8 kHz, each segment at its own best lag in `0..max_lag` samples
/// (48 kHz): the pipeline delays and never advances, and the adaptive
/// jitter buffer's small shifts of the timeline must not count as errors.
/// Segments of `said` quieter than about −36 dBFS are pauses and skipped.
pub fn compare(said: &[i16], heard: &[i16], max_lag: usize) -> Heard {
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
        if xx / (SEGMENT as f64) < PAUSE_FLOOR {
            continue;
        }
        let mut best = (f64::MIN, 0);
        for lag in 0..max_lag / 6 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::synth::SpeechLikeSource;

    #[test]
    fn the_same_speech_correlates_and_silence_does_not() {
        let said = SpeechLikeSource::generate(3.0, 5);
        let mut delayed = vec![0i16; 960];
        delayed.extend_from_slice(&said);
        let heard = compare(&said, &delayed, 4800);
        assert!(heard.correlation > 0.99, "{heard:?}");
        assert!((heard.delay_ms - 20.0).abs() < 1.0, "{heard:?}");
        let silence = compare(&said, &vec![0i16; said.len()], 4800);
        assert!(silence.correlation < 0.1, "{silence:?}");
    }

    #[test]
    fn normalise_brings_the_peak_to_speech_level() {
        let quiet: Vec<i16> = (0..480).map(|i| ((i % 40) as i16 - 20) * 50).collect();
        let loud = normalise(&quiet);
        let peak = loud.iter().map(|s| s.unsigned_abs()).max();
        assert_eq!(peak, Some(20_000));
    }
}
