//! Audio sources and sinks around the pipeline, all in 20 ms frames of
//! 48 kHz mono `i16`.
//!
//! - [`wav`]: WAV files in and out (`hound`), with rate and channel conversion;
//! - [`synth`]: a deterministic speech-like test signal;
//! - [`resample`]: the sample-rate converter both use;
//! - [`speech`]: espeak-ng speech and how closely heard audio follows it
//!   (for tests, benchmarks and the demo);
//! - `device` (feature `device`): capture and playback through `cpal`.
//!
//! Echo: nothing here cancels acoustic echo. See `docs/voice.md`.

#[cfg(feature = "device")]
pub mod device;
pub mod resample;
pub mod speech;
pub mod synth;
pub mod wav;

pub use crate::codec::{FRAME_SAMPLES, SAMPLE_RATE};

/// Something that yields captured 20 ms frames.
pub trait FrameSource {
    /// Fill `frame` (960 samples); `false` once the source is exhausted.
    fn read_frame(&mut self, frame: &mut [i16]) -> bool;
}

/// Something that takes 20 ms frames for playout.
pub trait FrameSink {
    /// Take one frame.
    fn write_frame(&mut self, frame: &[i16]) -> crate::Result<()>;
}

/// A source that plays a buffer of samples, then ends.
#[derive(Debug, Clone)]
pub struct BufferSource {
    samples: Vec<i16>,
    at: usize,
}

impl BufferSource {
    /// Play these 48 kHz mono samples.
    pub fn new(samples: Vec<i16>) -> Self {
        BufferSource { samples, at: 0 }
    }
}

impl FrameSource for BufferSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> bool {
        if self.at >= self.samples.len() {
            return false;
        }
        let n = frame.len().min(self.samples.len() - self.at);
        frame[..n].copy_from_slice(&self.samples[self.at..self.at + n]);
        frame[n..].fill(0);
        self.at += n;
        true
    }
}

/// A sink that keeps everything in memory.
#[derive(Debug, Clone, Default)]
pub struct BufferSink {
    /// Everything written so far.
    pub samples: Vec<i16>,
}

impl FrameSink for BufferSink {
    fn write_frame(&mut self, frame: &[i16]) -> crate::Result<()> {
        self.samples.extend_from_slice(frame);
        Ok(())
    }
}
