//! Capture and playback through `cpal` (ALSA on Linux, AAudio on Android),
//! converted to and from the pipeline's 48 kHz mono 20 ms frames.
//!
//! What this module owns: choosing a stream format the device supports,
//! channel mix-down/up and rate conversion, and handing audio across the
//! device's real-time thread without blocking it: capture posts whole
//! frames on a bounded channel (dropping and counting them if the call
//! thread falls behind), playback drains a bounded queue and plays silence
//! (counted as an underrun) when it runs dry.
//!
//! Speaker controls: [`Playback::set_muted`] and [`Playback::set_volume`].
//! Routing to earpiece or loudspeaker is the platform's job on Android.
//! No echo cancellation happens here (see `docs/voice.md`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, FromSample, SampleFormat, SizedSample, StreamConfig};

use super::resample::{to_i16, Resampler};
use super::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::error::{Error, Result};

/// Which device and format to open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceConfig {
    /// A cpal device id such as `"alsa:default"`; `None` for the default.
    pub device_id: Option<String>,
    /// Device sample rate to ask for; `None` for the device's default.
    pub sample_rate: Option<u32>,
    /// Channel count to ask for; `None` for the device's default.
    pub channels: Option<u16>,
    /// Captured frames held for a slow reader before new ones are dropped;
    /// `None` for 10 (200 ms). Playback ignores it.
    pub capture_queue_frames: Option<usize>,
}

/// The format a stream was opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFormat {
    /// Device sample rate.
    pub sample_rate: u32,
    /// Device channels.
    pub channels: u16,
    /// Device sample format.
    pub sample_format: SampleFormat,
}

fn device_error(what: &str, e: impl std::fmt::Display) -> Error {
    // cpal's messages name devices and formats, never audio.
    Error::Device(format!("{what}: {e}"))
}

fn pick_device(config: &DeviceConfig, input: bool) -> Result<cpal::Device> {
    let host = cpal::default_host();
    let device = match &config.device_id {
        Some(id) => {
            let id = id.parse().map_err(|e| device_error("bad device id", e))?;
            host.device_by_id(&id)
        }
        None if input => host.default_input_device(),
        None => host.default_output_device(),
    };
    device.ok_or_else(|| Error::Device("no such audio device".into()))
}

/// Pick a supported format: the requested rate and channels if the device
/// has them, preferring 16-bit samples (the pipeline's own format), then
/// 32-bit float.
fn pick_format(
    device: &cpal::Device,
    config: &DeviceConfig,
    input: bool,
) -> Result<(StreamConfig, SampleFormat)> {
    let default = if input {
        device.default_input_config()
    } else {
        device.default_output_config()
    }
    .map_err(|e| device_error("no default format", e))?;
    let rate = config.sample_rate.unwrap_or(default.sample_rate());
    let channels = config.channels.unwrap_or(default.channels());
    let ranges: Vec<_> = if input {
        device
            .supported_input_configs()
            .map_err(|e| device_error("formats", e))?
            .collect()
    } else {
        device
            .supported_output_configs()
            .map_err(|e| device_error("formats", e))?
            .collect()
    };
    for wanted in [SampleFormat::I16, SampleFormat::F32] {
        let found = ranges.iter().find(|r| {
            r.sample_format() == wanted
                && r.channels() == channels
                && (r.min_sample_rate()..=r.max_sample_rate()).contains(&rate)
        });
        if let Some(range) = found {
            let supported = (*range).with_sample_rate(rate);
            return Ok((supported.config(), wanted));
        }
    }
    match default.sample_format() {
        f @ (SampleFormat::I16 | SampleFormat::F32) => Ok((default.config(), f)),
        _ => Err(Error::Device(
            "the device offers neither i16 nor f32 samples".into(),
        )),
    }
}

/// Ask for 10 ms device buffers: small enough for the latency budget.
fn low_latency(mut config: StreamConfig) -> StreamConfig {
    config.buffer_size = BufferSize::Fixed(config.sample_rate / 100);
    config
}

/// Capture as the source of a call's media driver, which paces itself
/// (every 20 ms): a frame not captured yet (device start-up, a late
/// callback) is silence rather than a wait, and a backlog is bounded by the
/// capture queue (overruns dropped and counted). The source ends when the
/// stream stops.
impl super::FrameSource for Capture {
    fn read_frame(&mut self, frame: &mut [i16]) -> bool {
        match Capture::read_frame(self, frame, Duration::ZERO) {
            Ok(true) => true,
            Ok(false) => {
                frame.fill(0);
                true
            }
            Err(_) => false,
        }
    }
}

/// Playback as the sink of a call's media driver (its queue is capped, so
/// a faster driver clock cannot build up delay).
impl super::FrameSink for Playback {
    fn write_frame(&mut self, frame: &[i16]) -> Result<()> {
        Playback::write_frame(self, frame)
    }
}

/// Turns interleaved device audio into 48 kHz mono frames.
struct CaptureConverter {
    channels: usize,
    resampler: Resampler,
    mono: Vec<f32>,
    converted: Vec<f32>,
    pending: Vec<i16>,
}

impl CaptureConverter {
    fn new(format: DeviceFormat) -> Self {
        CaptureConverter {
            channels: usize::from(format.channels.max(1)),
            resampler: Resampler::new(format.sample_rate, SAMPLE_RATE),
            mono: Vec::new(),
            converted: Vec::new(),
            pending: Vec::with_capacity(FRAME_SAMPLES * 2),
        }
    }

    /// Feed interleaved samples in [-1, 1); call `emit` per complete frame.
    fn push(&mut self, interleaved: &[f32], mut emit: impl FnMut(Vec<i16>)) {
        self.mono.clear();
        self.mono.extend(
            interleaved
                .chunks(self.channels)
                .map(|c| c.iter().sum::<f32>() / c.len() as f32 * 32768.0),
        );
        self.converted.clear();
        self.resampler.push(&self.mono, &mut self.converted);
        for &s in &self.converted {
            self.pending.push(to_i16(s));
            if self.pending.len() == FRAME_SAMPLES {
                emit(std::mem::replace(
                    &mut self.pending,
                    Vec::with_capacity(FRAME_SAMPLES),
                ));
            }
        }
    }
}

/// A running capture stream yielding 20 ms frames.
pub struct Capture {
    _stream: cpal::Stream,
    frames: Receiver<Vec<i16>>,
    overruns: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    format: DeviceFormat,
}

impl Capture {
    /// Open and start capturing.
    pub fn open(config: &DeviceConfig) -> Result<Self> {
        let device = pick_device(config, true)?;
        let (stream_config, sample_format) = pick_format(&device, config, true)?;
        let format = DeviceFormat {
            sample_rate: stream_config.sample_rate,
            channels: stream_config.channels,
            sample_format,
        };
        // By default ten frames (200 ms) of slack between the device thread
        // and the call; when full, the newest frames are dropped.
        let (tx, frames) = sync_channel(config.capture_queue_frames.unwrap_or(10).max(1));
        let overruns = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let build = |cfg: StreamConfig| match sample_format {
            SampleFormat::I16 => {
                build_capture::<i16>(&device, cfg, format, &tx, &overruns, &errors)
            }
            _ => build_capture::<f32>(&device, cfg, format, &tx, &overruns, &errors),
        };
        let stream = build(low_latency(stream_config))
            .or_else(|_| build(stream_config))
            .map_err(|e| device_error("cannot open capture", e))?;
        stream
            .play()
            .map_err(|e| device_error("cannot start capture", e))?;
        Ok(Capture {
            _stream: stream,
            frames,
            overruns,
            errors,
            format,
        })
    }

    /// The format the device runs at.
    pub fn format(&self) -> DeviceFormat {
        self.format
    }

    /// Wait up to `timeout` for the next captured frame; `false` on timeout.
    pub fn read_frame(&self, frame: &mut [i16], timeout: Duration) -> Result<bool> {
        crate::codec::check_frame(frame.len())?;
        match self.frames.recv_timeout(timeout) {
            Ok(f) => {
                frame.copy_from_slice(&f);
                Ok(true)
            }
            Err(RecvTimeoutError::Timeout) => Ok(false),
            Err(RecvTimeoutError::Disconnected) => {
                Err(Error::Device("the capture stream stopped".into()))
            }
        }
    }

    /// Frames dropped because the reader fell behind.
    pub fn overruns(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// Stream errors the device reported.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

fn build_capture<T>(
    device: &cpal::Device,
    config: StreamConfig,
    format: DeviceFormat,
    tx: &SyncSender<Vec<i16>>,
    overruns: &Arc<AtomicU64>,
    errors: &Arc<AtomicU64>,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let tx = tx.clone();
    let overruns = overruns.clone();
    let errors = errors.clone();
    let mut converter = CaptureConverter::new(format);
    let mut floats = Vec::new();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _| {
            floats.clear();
            floats.extend(data.iter().map(|s| s.to_sample::<f32>()));
            converter.push(&floats, |frame| {
                if let Err(TrySendError::Full(_)) = tx.try_send(frame) {
                    overruns.fetch_add(1, Ordering::Relaxed);
                }
            });
        },
        move |_| {
            errors.fetch_add(1, Ordering::Relaxed);
        },
        None,
    )
}

/// Shared between the call thread and the device thread.
struct PlayQueue {
    /// Interleaved device-rate samples in [-1, 1).
    samples: VecDeque<f32>,
    /// Most samples held; older ones are dropped beyond this.
    cap: usize,
}

/// A running playback stream taking 20 ms frames.
pub struct Playback {
    _stream: cpal::Stream,
    queue: Arc<Mutex<PlayQueue>>,
    resampler: Resampler,
    converted: Vec<f32>,
    underruns: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    muted: Arc<AtomicBool>,
    volume: Arc<AtomicU32>,
    format: DeviceFormat,
}

impl Playback {
    /// Open and start playback (silence until frames are written).
    pub fn open(config: &DeviceConfig) -> Result<Self> {
        let device = pick_device(config, false)?;
        let (stream_config, sample_format) = pick_format(&device, config, false)?;
        let format = DeviceFormat {
            sample_rate: stream_config.sample_rate,
            channels: stream_config.channels,
            sample_format,
        };
        let channels = usize::from(format.channels.max(1));
        // Hold at most 200 ms: more is latency, not safety.
        let cap = format.sample_rate as usize / 5 * channels;
        let queue = Arc::new(Mutex::new(PlayQueue {
            samples: VecDeque::with_capacity(cap),
            cap,
        }));
        let underruns = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let muted = Arc::new(AtomicBool::new(false));
        let volume = Arc::new(AtomicU32::new(1.0f32.to_bits()));
        let shared = PlaybackShared {
            queue: queue.clone(),
            underruns: underruns.clone(),
            errors: errors.clone(),
            muted: muted.clone(),
            volume: volume.clone(),
        };
        let build = |cfg: StreamConfig| match sample_format {
            SampleFormat::I16 => build_playback::<i16>(&device, cfg, &shared),
            _ => build_playback::<f32>(&device, cfg, &shared),
        };
        let stream = build(low_latency(stream_config))
            .or_else(|_| build(stream_config))
            .map_err(|e| device_error("cannot open playback", e))?;
        stream
            .play()
            .map_err(|e| device_error("cannot start playback", e))?;
        Ok(Playback {
            _stream: stream,
            queue,
            resampler: Resampler::new(SAMPLE_RATE, format.sample_rate),
            converted: Vec::new(),
            underruns,
            errors,
            muted,
            volume,
            format,
        })
    }

    /// The format the device runs at.
    pub fn format(&self) -> DeviceFormat {
        self.format
    }

    /// Queue one 48 kHz mono frame for playout.
    pub fn write_frame(&mut self, frame: &[i16]) -> Result<()> {
        crate::codec::check_frame(frame.len())?;
        let floats: Vec<f32> = frame.iter().map(|&s| f32::from(s) / 32768.0).collect();
        self.converted.clear();
        self.resampler.push(&floats, &mut self.converted);
        let channels = usize::from(self.format.channels.max(1));
        let mut queue = self
            .queue
            .lock()
            .map_err(|_| Error::Device("playback queue poisoned".into()))?;
        for &s in &self.converted {
            for _ in 0..channels {
                queue.samples.push_back(s);
            }
        }
        let excess = queue.samples.len().saturating_sub(queue.cap);
        queue.samples.drain(..excess);
        Ok(())
    }

    /// Audio queued and not yet handed to the device, in ms.
    pub fn buffered_ms(&self) -> f64 {
        let channels = f64::from(self.format.channels.max(1));
        let samples = self.queue.lock().map(|q| q.samples.len()).unwrap_or(0);
        samples as f64 / channels * 1000.0 / f64::from(self.format.sample_rate)
    }

    /// Device callbacks that found the queue short and played silence.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    /// Stream errors the device reported.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Speaker off (silence) or on.
    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::Relaxed);
    }

    /// Output volume, 0.0 to 4.0.
    pub fn set_volume(&self, volume: f32) {
        self.volume
            .store(volume.clamp(0.0, 4.0).to_bits(), Ordering::Relaxed);
    }
}

struct PlaybackShared {
    queue: Arc<Mutex<PlayQueue>>,
    underruns: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    muted: Arc<AtomicBool>,
    volume: Arc<AtomicU32>,
}

fn build_playback<T>(
    device: &cpal::Device,
    config: StreamConfig,
    shared: &PlaybackShared,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let queue = shared.queue.clone();
    let underruns = shared.underruns.clone();
    let muted = shared.muted.clone();
    let volume = shared.volume.clone();
    let errors = shared.errors.clone();
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _| {
            let gain = if muted.load(Ordering::Relaxed) {
                0.0
            } else {
                f32::from_bits(volume.load(Ordering::Relaxed))
            };
            // Never block the device thread: if the call thread holds the
            // lock right now, play silence this once.
            let mut short = true;
            if let Ok(mut q) = queue.try_lock() {
                short = q.samples.len() < out.len();
                for s in out.iter_mut() {
                    let v = q.samples.pop_front().unwrap_or(0.0) * gain;
                    *s = T::from_sample(v.clamp(-1.0, 1.0));
                }
            } else {
                out.fill(T::EQUILIBRIUM);
            }
            if short {
                underruns.fetch_add(1, Ordering::Relaxed);
            }
        },
        move |_| {
            errors.fetch_add(1, Ordering::Relaxed);
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_conversion_mixes_down_and_resamples_to_frames() {
        let format = DeviceFormat {
            sample_rate: 44_100,
            channels: 2,
            sample_format: SampleFormat::F32,
        };
        let mut conv = CaptureConverter::new(format);
        let mut frames = Vec::new();
        // One second of a 0.25-amplitude stereo DC level, in odd-sized blocks.
        let block = vec![0.25f32; 2 * 441];
        for _ in 0..100 {
            conv.push(&block, |f| frames.push(f));
        }
        // ~48000 samples minus the converter's look-ahead.
        assert!(frames.len() >= 48, "{}", frames.len());
        let mid = &frames[10];
        assert!(
            mid.iter().all(|&s| (s - 8192).abs() < 80),
            "{:?}",
            &mid[..4]
        );
    }
}
