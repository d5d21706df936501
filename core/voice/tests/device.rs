//! The cpal backend against ALSA with no sound card: ALSA's `file` plugin
//! stands in for a microphone (it reads a raw file) and for a speaker (it
//! writes one), both over the `null` device. The null device keeps no
//! real-time clock, so the streams run as fast as the callbacks go; that
//! also exercises the underrun path.
//!
//! One test per binary: ALSA reads `ALSA_CONFIG_PATH` once per process.

#![cfg(all(feature = "device", target_os = "linux"))]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use sotto_voice::audio::device::{Capture, DeviceConfig, Playback};
use sotto_voice::audio::resample::resample_i16;
use sotto_voice::audio::synth::SpeechLikeSource;
use support::{scratch_dir, segmental_correlation, TestResult, FRAME};

/// Remove every run of 16 or more exact zeros.
fn without_silences(samples: &[i16]) -> Vec<i16> {
    let mut out = Vec::with_capacity(samples.len());
    let mut zeros = 0;
    for &s in samples {
        if s == 0 {
            zeros += 1;
            continue;
        }
        if zeros > 0 && zeros < 16 {
            out.extend(std::iter::repeat_n(0, zeros));
        }
        zeros = 0;
        out.push(s);
    }
    out
}

fn alsa_config(dir: &Path, capture_raw: &Path, played_raw: &Path) -> std::io::Result<String> {
    let conf = dir.join("sotto-test-asound.conf");
    std::fs::write(
        &conf,
        format!(
            r#"
pcm.sotto_test_capture {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{}"
    format "raw"
    hint {{ show on description "Sotto test capture" }}
}}
pcm.sotto_test_playback {{
    type file
    slave.pcm "null"
    file "{}"
    format "raw"
    hint {{ show on description "Sotto test playback" }}
}}
"#,
            capture_raw.display(),
            played_raw.display()
        ),
    )?;
    Ok(format!("/usr/share/alsa/alsa.conf:{}", conf.display()))
}

#[test]
fn capture_and_playback_through_alsa_file_devices() -> TestResult {
    let dir = scratch_dir("device");
    let capture_raw = dir.join("mic.raw");
    let played_raw = dir.join("speaker.raw");
    // The "microphone": 2 s of speech-like signal, 44.1 kHz stereo s16le,
    // so capture has to mix down and resample.
    let speech48 = SpeechLikeSource::generate(2.0, 4);
    let speech44 = resample_i16(&speech48, 48_000, 44_100);
    let mut raw = Vec::new();
    for s in &speech44 {
        for _ in 0..2 {
            raw.extend_from_slice(&s.to_le_bytes());
        }
    }
    std::fs::write(&capture_raw, raw)?;
    // Set before the first ALSA call of this process (one test per binary).
    std::env::set_var(
        "ALSA_CONFIG_PATH",
        alsa_config(&dir, &capture_raw, &played_raw)?,
    );

    let wanted = DeviceConfig {
        device_id: Some("alsa:sotto_test_capture".into()),
        sample_rate: Some(44_100),
        channels: Some(2),
        // The null device captures far faster than real time; a queue
        // longer than the file keeps its first 2 s whatever the scheduler
        // does to this thread (only frames beyond a full queue are dropped).
        capture_queue_frames: Some(250),
    };
    let capture = Capture::open(&wanted)?;
    assert_eq!(capture.format().sample_rate, 44_100);
    assert_eq!(capture.format().channels, 2);
    let mut captured = Vec::new();
    let mut frame = vec![0i16; FRAME];
    let deadline = Instant::now() + Duration::from_secs(20);
    while captured.len() < speech48.len() && Instant::now() < deadline {
        if capture.read_frame(&mut frame, Duration::from_secs(2))? {
            captured.extend_from_slice(&frame);
        }
    }
    drop(capture);
    let corr = segmental_correlation(&speech48, &captured, 4800);
    assert!(corr > 0.95, "captured audio correlates only {corr}");

    // The "speaker": 48 kHz mono frames out, 44.1 kHz stereo in the file.
    let mut playback = Playback::open(&DeviceConfig {
        device_id: Some("alsa:sotto_test_playback".into()),
        sample_rate: Some(44_100),
        channels: Some(2),
        capture_queue_frames: None,
    })?;
    assert_eq!(playback.format().channels, 2);
    let started = Instant::now();
    for chunk in speech48.chunks_exact(FRAME) {
        // The null device drains as fast as it can; keep a little queued.
        while playback.buffered_ms() > 100.0 && started.elapsed() < Duration::from_secs(20) {
            std::thread::yield_now();
        }
        playback.write_frame(chunk)?;
    }
    while playback.buffered_ms() > 0.0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::yield_now();
    }
    // A free-running sink outpaces any writer: underruns were counted and
    // filled with silence rather than stalling the device thread.
    assert!(playback.underruns() > 0);
    drop(playback);

    let bytes = std::fs::read(&played_raw)?;
    let left: Vec<i16> = bytes
        .chunks_exact(4)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // Drop the silence the underruns inserted (and the reference's own
    // digital silence), then compare at the device rate.
    let reference = without_silences(&speech44);
    let played = without_silences(&left);
    assert!(
        played.len() >= reference.len() * 9 / 10,
        "{} of {} samples played",
        played.len(),
        reference.len()
    );
    let corr = segmental_correlation(&reference, &played, 4800);
    assert!(corr > 0.95, "played audio correlates only {corr}");
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
