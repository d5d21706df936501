//! A call to yourself through real audio devices: the microphone goes
//! through one `MediaSession`, SRTP, the other session's jitter buffer and
//! out of the speaker (use headphones: there is no echo cancellation).
//!
//! ```text
//! cargo run --release -p sotto-voice --example voice_loopback -- [seconds] [capture-id] [playback-id]
//! ```
//!
//! Device ids are cpal ids such as `alsa:default`. Prints the session and
//! device counters at the end.

use std::time::{Duration, Instant};

use sotto_voice::audio::device::{Capture, DeviceConfig, Playback};
use sotto_voice::codec::FRAME_SAMPLES;
use sotto_voice::{MediaConfig, MediaSession, SrtpKeys};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let capture = Capture::open(&DeviceConfig {
        device_id: args.next(),
        ..DeviceConfig::default()
    })?;
    let mut playback = Playback::open(&DeviceConfig {
        device_id: args.next(),
        ..DeviceConfig::default()
    })?;
    println!(
        "capture {:?}, playback {:?}",
        capture.format(),
        playback.format()
    );
    let keys = |fill: u8| SrtpKeys {
        master_key: [fill; 32],
        master_salt: [fill; 12],
    };
    let start = Instant::now();
    let mut near = MediaSession::new(MediaConfig::with_random_ssrc(), keys(1), keys(2), start)?;
    let mut far = MediaSession::new(MediaConfig::with_random_ssrc(), keys(2), keys(1), start)?;
    let mut frame = vec![0i16; FRAME_SAMPLES];
    let mut out = vec![0i16; FRAME_SAMPLES];
    while start.elapsed() < Duration::from_secs(seconds) {
        // The capture device is the clock: one frame in, one frame out.
        if !capture.read_frame(&mut frame, Duration::from_secs(1))? {
            continue;
        }
        let now = Instant::now();
        if let Some(p) = near.send_frame(&frame, now)? {
            far.receive_datagram(&p, now)?;
        }
        if let Some(r) = near.poll_feedback(now)? {
            far.receive_datagram(&r, now)?;
        }
        if let Some(r) = far.poll_feedback(now)? {
            near.receive_datagram(&r, now)?;
        }
        far.next_playout_frame(&mut out)?;
        playback.write_frame(&out)?;
    }
    println!("sender {:?}", near.stats());
    println!("receiver {:?}", far.stats().jitter);
    println!(
        "capture overruns {}, playback underruns {}",
        capture.overruns(),
        playback.underruns()
    );
    Ok(())
}
