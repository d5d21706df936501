//! A deterministic speech-like test signal: voiced "syllables" with a
//! moving pitch and vowel formants, separated by short pauses.
//!
//! It is no substitute for speech in quality scores (use espeak-ng or
//! recordings for PESQ) but exercises the codec the way a voice does:
//! harmonics, amplitude envelopes, silence between words.

use std::f64::consts::PI;

use super::{FrameSource, FRAME_SAMPLES, SAMPLE_RATE};

/// Vowel formants (F1, F2, F3) in Hz.
const VOWELS: [[f64; 3]; 5] = [
    [730.0, 1090.0, 2440.0],
    [270.0, 2290.0, 3010.0],
    [530.0, 1840.0, 2480.0],
    [570.0, 840.0, 2410.0],
    [300.0, 870.0, 2240.0],
];

/// The speech-like generator.
#[derive(Debug, Clone)]
pub struct SpeechLikeSource {
    seed: u64,
    sample: u64,
    total: u64,
    phase: f64,
}

impl SpeechLikeSource {
    /// `seconds` of signal; `seed` varies pitch and vowel order.
    pub fn new(seconds: f64, seed: u64) -> Self {
        SpeechLikeSource {
            seed,
            sample: 0,
            total: (seconds * f64::from(SAMPLE_RATE)) as u64,
            phase: 0.0,
        }
    }

    /// The whole signal as one buffer.
    pub fn generate(seconds: f64, seed: u64) -> Vec<i16> {
        let mut s = SpeechLikeSource::new(seconds, seed);
        let mut out = Vec::new();
        let mut frame = vec![0; FRAME_SAMPLES];
        while s.read_frame(&mut frame) {
            out.extend_from_slice(&frame);
        }
        out.truncate(s.total as usize);
        out
    }

    fn hash(&self, n: u64) -> u64 {
        // SplitMix64: a fixed, seedable sequence without an RNG dependency.
        let mut z = n.wrapping_add(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_sample(&mut self) -> f64 {
        let t = self.sample as f64 / f64::from(SAMPLE_RATE);
        // 250 ms syllables; every fifth is a pause.
        let syllable = (t / 0.25) as u64;
        let within = t / 0.25 - syllable as f64;
        let h = self.hash(syllable);
        if syllable % 5 == 4 {
            self.sample += 1;
            return 0.0;
        }
        let envelope = (PI * within).sin().powf(0.7);
        let base_pitch = 110.0 + (h % 90) as f64;
        let f0 = base_pitch * (1.0 + 0.08 * (2.0 * PI * 3.0 * t).sin());
        self.phase += 2.0 * PI * f0 / f64::from(SAMPLE_RATE);
        if self.phase > 2.0 * PI {
            self.phase -= 2.0 * PI;
        }
        let vowel = VOWELS[(h >> 8) as usize % VOWELS.len()];
        let mut v = 0.0;
        let mut k = 1.0;
        while k * f0 < 7000.0 {
            let f = k * f0;
            let gain: f64 = vowel
                .iter()
                .map(|&formant| 1.0 / (1.0 + ((f - formant) / 90.0).powi(2)))
                .sum::<f64>()
                / k.sqrt();
            v += gain * (k * self.phase).sin();
            k += 1.0;
        }
        self.sample += 1;
        2500.0 * envelope * v
    }
}

impl FrameSource for SpeechLikeSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> bool {
        if self.sample >= self.total {
            return false;
        }
        for s in frame.iter_mut() {
            *s = if self.sample < self.total {
                self.next_sample().round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_with_pauses_and_no_clipping() {
        let a = SpeechLikeSource::generate(2.0, 3);
        assert_eq!(a, SpeechLikeSource::generate(2.0, 3));
        assert_eq!(a.len(), 96_000);
        // Syllable 4 (1.0–1.25 s) is silent.
        assert!(a[49_000..59_000].iter().all(|&s| s == 0));
        let peak = a.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 3000 && peak < 32_000, "{peak}");
    }
}
