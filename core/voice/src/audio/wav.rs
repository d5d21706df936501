//! WAV files as frame sources and sinks (`hound`).
//!
//! Reading mixes any channel count down to mono and converts any rate to
//! 48 kHz; writing produces 48 kHz mono 16-bit files.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::resample::{resample_i16, to_i16};
use super::{BufferSource, FrameSink, FrameSource, SAMPLE_RATE};
use crate::error::Result;

/// Read a WAV file as 48 kHz mono samples.
pub fn read_wav_48k_mono(path: &Path) -> Result<Vec<i16>> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(|v| v * 32767.0))
            .collect::<std::result::Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let shift = i32::from(spec.bits_per_sample) - 16;
            reader
                .samples::<i32>()
                .map(|s| {
                    s.map(|v| {
                        if shift >= 0 {
                            (v >> shift) as f32
                        } else {
                            (v << -shift) as f32
                        }
                    })
                })
                .collect::<std::result::Result<_, _>>()?
        }
    };
    let mono: Vec<i16> = samples
        .chunks(channels)
        .map(|c| to_i16(c.iter().sum::<f32>() / c.len() as f32))
        .collect();
    Ok(resample_i16(&mono, spec.sample_rate, SAMPLE_RATE))
}

/// A WAV file played as 20 ms frames.
#[derive(Debug, Clone)]
pub struct WavSource {
    inner: BufferSource,
}

impl WavSource {
    /// Open and convert the whole file.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(WavSource {
            inner: BufferSource::new(read_wav_48k_mono(path)?),
        })
    }
}

impl FrameSource for WavSource {
    fn read_frame(&mut self, frame: &mut [i16]) -> bool {
        self.inner.read_frame(frame)
    }
}

/// Writes 20 ms frames to a WAV file, at 48 kHz or a lower rate.
pub struct WavSink<W: Write + std::io::Seek> {
    writer: hound::WavWriter<W>,
    rate: u32,
}

impl WavSink<BufWriter<std::fs::File>> {
    /// Create a 48 kHz mono 16-bit file.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(WavSink {
            writer: hound::WavWriter::create(path, spec(SAMPLE_RATE))?,
            rate: SAMPLE_RATE,
        })
    }
}

fn spec(rate: u32) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

impl<W: Write + std::io::Seek> WavSink<W> {
    /// The file's sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Write the header's final lengths and close.
    pub fn finalize(self) -> Result<()> {
        self.writer.finalize()?;
        Ok(())
    }
}

impl<W: Write + std::io::Seek> FrameSink for WavSink<W> {
    fn write_frame(&mut self, frame: &[i16]) -> Result<()> {
        for &s in frame {
            self.writer.write_sample(s)?;
        }
        Ok(())
    }
}

/// Write a whole buffer to a mono 16-bit WAV file at `rate`, converting
/// from 48 kHz.
pub fn write_wav(path: &Path, samples_48k: &[i16], rate: u32) -> Result<()> {
    let samples = resample_i16(samples_48k, SAMPLE_RATE, rate);
    let mut writer = hound::WavWriter::create(path, spec(rate))?;
    for s in samples {
        writer.write_sample(s)?;
    }
    writer.finalize()?;
    Ok(())
}
