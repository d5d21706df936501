//! How well speech came through a call, for `sotto demo`: the correlation
//! of what was heard with what was said, the waveform SNR that follows
//! from it, the delay between the two, and PESQ when the Python package
//! `pesq` is there to score it.

use std::path::Path;
use std::process::Command;

use sotto_voice::audio::speech::{self, Heard};
use sotto_voice::audio::wav::write_wav;

/// Half a second at 48 kHz: the most lag searched between said and heard.
const MAX_LAG: usize = 24_000;

/// Compares `heard` with `said` (48 kHz mono), segment by segment, with
/// up to half a second of delay.
pub fn compare(said: &[i16], heard: &[i16]) -> Heard {
    speech::compare(said, heard, MAX_LAG)
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
