//! The media driver: one call's [`MediaSession`] running on a tokio task
//! over the chosen [`MediaPath`].
//!
//! It is what the shell does with [`Action::StartMedia`](super::Action):
//! every 20 ms it takes a frame from the audio source, sends its SRTP
//! datagram (and an SRTCP report when one is due) and hands the next
//! playout frame to the sink; datagrams from the path go into the session.
//! On [`Action::StopMedia`](super::Action) the shell calls
//! [`MediaHandle::stop`], which ends the task, closes the path and hands
//! back the sink with the final counters.
//!
//! Sources and sinks are `sotto-voice`'s [`FrameSource`] and [`FrameSink`]:
//! WAV files, the synthetic signal, buffers, and (feature `device`) the
//! cpal `Capture` and `Playback`. A source that runs out is followed by
//! silence: the call stays up until someone hangs up.

use std::time::{Duration, Instant};

use sotto_voice::audio::{FrameSink, FrameSource, FRAME_SAMPLES};
use sotto_voice::{classify, FrameSource as Playout, MediaConfig, MediaSession, MediaStats};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::keys::MediaKeys;
use super::path::MediaPath;
use crate::error::{Error, Result};

/// One frame of 48 kHz mono audio lasts this long.
const FRAME: Duration = Duration::from_millis(20);

/// Largest datagram read from the path; SRTP packets are a few hundred
/// bytes at most, so anything longer is not ours and is dropped.
const MAX_DATAGRAM: usize = 1500;

/// What can be watched of a running call's media.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaStatus {
    /// The session's counters, refreshed every frame.
    pub stats: MediaStats,
    /// When the first frame of the peer's audio (decoded, or rebuilt from
    /// RED or FEC) went to the sink.
    pub first_audio_at: Option<Instant>,
    /// The driver stopped on its own: the path failed (the shell reports
    /// `MediaFailed`).
    pub failed: bool,
}

/// What is left when the media stops.
#[derive(Debug)]
pub struct MediaOutcome<K> {
    /// The sink, with everything played out.
    pub sink: K,
    /// The final status.
    pub status: MediaStatus,
    /// Why the driver stopped on its own, if it did.
    pub error: Option<Error>,
}

/// The user's controls of a running call's audio.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Controls {
    muted: bool,
    playout_gain: f32,
}

/// A running media driver. Dropping it without [`MediaHandle::stop`]
/// aborts the task (the path is then dropped, not closed gracefully).
#[derive(Debug)]
pub struct MediaHandle<K> {
    status: watch::Receiver<MediaStatus>,
    controls: watch::Sender<Controls>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<MediaOutcome<K>>,
}

/// Starts the media of a call: `keys` from
/// [`Action::StartMedia`](super::Action::StartMedia), `path` from the
/// connectivity checks, `config` for the session (a random SSRC per call:
/// [`MediaConfig::with_random_ssrc`]). An invalid `config` is an error and
/// drops the path; the shell then reports `MediaFailed`. Must be called
/// within a tokio runtime.
pub fn start_media<S, K>(
    keys: MediaKeys,
    path: MediaPath,
    config: MediaConfig,
    source: S,
    sink: K,
) -> Result<MediaHandle<K>>
where
    S: FrameSource + Send + 'static,
    K: FrameSink + Send + 'static,
{
    let MediaKeys { send, receive } = keys;
    let session = MediaSession::new(config, send, receive, Instant::now())?;
    let (status_tx, status) = watch::channel(MediaStatus::default());
    let (controls, controls_rx) = watch::channel(Controls {
        muted: false,
        playout_gain: 1.0,
    });
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(
        session,
        path,
        Audio { source, sink },
        status_tx,
        controls_rx,
        stop_rx,
    ));
    Ok(MediaHandle {
        status,
        controls,
        stop: Some(stop),
        task,
    })
}

impl<K> MediaHandle<K> {
    /// The latest status.
    pub fn status(&self) -> MediaStatus {
        *self.status.borrow()
    }

    /// Waits until the first frame of the peer's audio has been played
    /// out, and returns when that was; `None` if the driver stopped first.
    pub async fn first_audio(&mut self) -> Option<Instant> {
        let status = self
            .status
            .wait_for(|s| s.first_audio_at.is_some() || s.failed)
            .await
            .ok()?;
        status.first_audio_at
    }

    /// Resolves when the driver has stopped on its own (the path or the
    /// pipeline failed): time for the shell to report `MediaFailed`. Never
    /// resolves while the media runs.
    pub async fn failed(&mut self) {
        // A sender gone without saying so is a task that died: failed too.
        let _ = self.status.wait_for(|s| s.failed).await;
    }

    /// Mutes or unmutes the microphone: while muted, silence is sent in
    /// place of the captured audio (timing and DTX carry on).
    pub fn set_muted(&self, muted: bool) {
        self.controls.send_modify(|c| c.muted = muted);
    }

    /// Playout gain, 0.0 (speaker off) to 4.0; 1.0 as received.
    pub fn set_playout_gain(&self, gain: f32) {
        self.controls.send_modify(|c| c.playout_gain = gain);
    }

    /// Whether the driver is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the media and closes the path; returns the sink and the final
    /// counters.
    pub async fn stop(mut self) -> Result<MediaOutcome<K>> {
        if let Some(stop) = self.stop.take() {
            // The task may have ended already (path failure); then there is
            // nobody to tell.
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(outcome) => Ok(outcome),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down and took the path
            // with it.
            Err(_) => Err(Error::NoMediaPath),
        }
    }
}

impl<K> Drop for MediaHandle<K> {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

/// Where the driver's audio comes from and goes to.
struct Audio<S, K> {
    source: S,
    sink: K,
}

async fn run<S: FrameSource, K: FrameSink>(
    mut session: MediaSession,
    path: MediaPath,
    Audio {
        mut source,
        mut sink,
    }: Audio<S, K>,
    status: watch::Sender<MediaStatus>,
    mut controls: watch::Receiver<Controls>,
    mut stop: oneshot::Receiver<()>,
) -> MediaOutcome<K> {
    let mut tick = tokio::time::interval(FRAME);
    // After a stall (a busy runtime), catch up on the missed frames at
    // once: the media clock must keep real time on average, or the peer's
    // jitter buffer runs dry and a capture device's queue overflows. The
    // peer's jitter buffer absorbs the short burst.
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut capture = vec![0i16; FRAME_SAMPLES];
    let mut playout = vec![0i16; FRAME_SAMPLES];
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut source_done = false;
    let mut first_audio_at = None;
    let error = loop {
        tokio::select! {
            _ = &mut stop => break None,
            _ = tick.tick() => {
                if controls.has_changed().unwrap_or(false) {
                    let c = *controls.borrow_and_update();
                    session.set_muted(c.muted);
                    session.set_playout_gain(c.playout_gain);
                }
                if !source_done && !source.read_frame(&mut capture) {
                    source_done = true;
                }
                if source_done {
                    capture.fill(0);
                }
                if let Err(e) = frame(&mut session, &path, &capture, &mut playout, &mut sink).await
                    .map(|played| {
                        if played && first_audio_at.is_none() {
                            first_audio_at = Some(Instant::now());
                        }
                    })
                {
                    break Some(e);
                }
                status.send_replace(MediaStatus {
                    stats: session.stats(),
                    first_audio_at,
                    failed: false,
                });
            }
            received = path.recv(&mut buf) => match received {
                // Bad or foreign packets are counted by the session and
                // dropped; non-media datagrams are not ours to handle.
                Ok(n) => {
                    if classify(&buf[..n]).is_ok() {
                        let _ = session.receive_datagram(&buf[..n], Instant::now());
                    }
                }
                Err(e) => break Some(e),
            },
        }
    };
    if error.is_some() {
        tracing::debug!("call media stopped: path or pipeline failed");
    }
    path.close().await;
    let final_status = MediaStatus {
        stats: session.stats(),
        first_audio_at,
        failed: error.is_some(),
    };
    status.send_replace(final_status);
    MediaOutcome {
        sink,
        status: final_status,
        error,
    }
}

/// One 20 ms step: send the captured frame (and a report when due), play
/// out the next frame. Returns whether the played frame was the peer's
/// audio.
async fn frame<K: FrameSink>(
    session: &mut MediaSession,
    path: &MediaPath,
    capture: &[i16],
    playout: &mut [i16],
    sink: &mut K,
) -> Result<bool> {
    let now = Instant::now();
    if let Some(datagram) = session.send_frame(capture, now)? {
        path.send(&datagram).await?;
    }
    if let Some(report) = session.poll_feedback(now)? {
        path.send(&report).await?;
    }
    let source = session.next_playout_frame(playout)?;
    sink.write_frame(playout)?;
    // Audio rebuilt from a later packet is the peer's audio too; PLC and
    // the silence before playout starts are not.
    Ok(matches!(
        source,
        Playout::Decoded | Playout::RecoveredRed | Playout::RecoveredFec
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The driver's task moves the source and sink to another thread.
    #[cfg(feature = "device")]
    #[test]
    fn audio_devices_can_drive_a_call() {
        fn usable<S: FrameSource + Send + 'static, K: FrameSink + Send + 'static>() {}
        usable::<sotto_voice::audio::device::Capture, sotto_voice::audio::device::Playback>();
    }

    #[test]
    fn files_and_buffers_can_drive_a_call() {
        fn usable<S: FrameSource + Send + 'static, K: FrameSink + Send + 'static>() {}
        usable::<sotto_voice::audio::wav::WavSource, sotto_voice::audio::BufferSink>();
        usable::<sotto_voice::audio::synth::SpeechLikeSource, sotto_voice::audio::BufferSink>();
    }
}
