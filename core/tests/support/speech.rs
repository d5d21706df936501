//! Speech to talk into a call, and the check that what came out is what
//! went in (both from `sotto_voice::audio::speech`).

use std::path::Path;

use sotto_voice::audio::speech;
use sotto_voice::audio::synth::SpeechLikeSource;

/// `text` spoken at 48 kHz mono: espeak-ng when installed
/// (`scripts/setup.sh` installs it), else `fallback_seed`'s synthetic
/// speech-like signal (3 s).
pub fn speech(text: &str, dir: &Path, fallback_seed: u64) -> Vec<i16> {
    let wav = dir.join(format!("speech-{fallback_seed}.wav"));
    speech::espeak(text, &wav).unwrap_or_else(|| {
        eprintln!("espeak-ng not available: using the synthetic speech-like signal");
        SpeechLikeSource::generate(3.0, fallback_seed)
    })
}

/// How closely `received` follows `sent` (see `speech::compare`), with up
/// to `max_lag` samples (48 kHz) of delay.
pub fn segmental_correlation(sent: &[i16], received: &[i16], max_lag: usize) -> f64 {
    speech::compare(sent, received, max_lag).correlation
}
