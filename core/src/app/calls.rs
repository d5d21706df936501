//! Calls as a client sees them: [`Calls`], the handle to a connection's
//! call shell (place, answer, reject, hang up, mute, speaker, status), the
//! [`CallEvent`]s it reports on the connection's event stream, and
//! [`CallAudio`], where a call's audio comes from and goes to.
//!
//! The shell itself (`call_shell.rs`) performs the call controller's
//! actions; this module owns only the client-facing surface. Audio frames
//! never leave the core: a client names the audio (devices, files,
//! buffers) and the shell opens it when media starts.

use std::sync::{Arc, Mutex};

use sotto_voice::audio::{FrameSink, FrameSource};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::call::{CallId, CallRef, CallState, EndReason, MediaStatus, PathKind, PathPolicy, Sas};
use crate::error::{Error, Result};
use crate::session;
use crate::store::ContactId;

/// Something that happened to a call, reported as
/// [`Event::Call`](super::Event::Call).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {
    /// The call's state changed: ringing (either way), connecting,
    /// connected. The end of a call comes as [`CallEvent::Ended`].
    State(CallState),
    /// The short authentication string of the call, to read aloud and
    /// compare with the other side's.
    Sas {
        /// The call.
        call_id: CallId,
        /// The two words.
        sas: Sas,
    },
    /// Media flows on this path.
    MediaStarted {
        /// The call.
        call_id: CallId,
        /// Direct UDP or through TURN.
        path: PathKind,
    },
    /// The call ended.
    Ended {
        /// The call and its peer.
        call: CallRef,
        /// Why.
        reason: EndReason,
        /// The media's final counters, if media ran (boxed: they are
        /// large beside the other events).
        media: Option<Box<MediaStatus>>,
    },
    /// A call was not rung: it came while another was in progress, or its
    /// offer was too old.
    Missed {
        /// Who called.
        peer: ContactId,
        /// Whether it was because another call was in progress.
        while_busy: bool,
    },
}

/// A boxed audio source, as the shell runs it.
pub type BoxedSource = Box<dyn FrameSource + Send>;
/// A boxed audio sink, as the shell runs it.
pub type BoxedSink = Box<dyn FrameSink + Send>;

type Opener = Box<dyn FnOnce() -> Result<(BoxedSource, BoxedSink)> + Send>;

/// Where a call's audio comes from and where the other side's goes: opened
/// by the shell when media starts (so a microphone is not held while the
/// phone rings), closed when the call ends. A source that runs out is
/// followed by silence until someone hangs up.
pub struct CallAudio {
    open: Opener,
}

impl std::fmt::Debug for CallAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallAudio(..)")
    }
}

impl CallAudio {
    /// Audio from `source` to `sink`, both ready now (files, buffers, the
    /// synthetic signal).
    pub fn new<S, K>(source: S, sink: K) -> Self
    where
        S: FrameSource + Send + 'static,
        K: FrameSink + Send + 'static,
    {
        Self::opened_by(move || Ok((Box::new(source) as BoxedSource, Box::new(sink) as BoxedSink)))
    }

    /// Audio that `open` opens when media starts.
    pub fn opened_by<F>(open: F) -> Self
    where
        F: FnOnce() -> Result<(BoxedSource, BoxedSink)> + Send + 'static,
    {
        Self {
            open: Box::new(open),
        }
    }

    /// The audio devices of `config` (cpal: the microphone and the
    /// speaker), opened when media starts.
    #[cfg(feature = "device")]
    pub fn devices(config: sotto_voice::audio::device::DeviceConfig) -> Self {
        use sotto_voice::audio::device::{Capture, Playback};
        Self::opened_by(move || {
            let capture = Capture::open(&config)?;
            let playback = Playback::open(&config)?;
            Ok((
                Box::new(capture) as BoxedSource,
                Box::new(playback) as BoxedSink,
            ))
        })
    }

    pub(super) fn open(self) -> Result<(BoxedSource, BoxedSink)> {
        (self.open)()
    }
}

/// A sink that keeps what it plays out, readable while the call runs and
/// after it ended (clones share the recording): for tests, the demo, and
/// clients that save what was heard.
#[derive(Clone, Default)]
pub struct RecordingSink {
    samples: Arc<Mutex<Vec<i16>>>,
}

impl std::fmt::Debug for RecordingSink {
    // What was said stays out of logs: only how much.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSink")
            .field("samples", &self.len())
            .finish()
    }
}

impl RecordingSink {
    /// A new, empty recording.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything played out so far (48 kHz mono).
    pub fn samples(&self) -> Vec<i16> {
        self.lock().clone()
    }

    /// How many samples were played out so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was played out yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<i16>> {
        self.samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl FrameSink for RecordingSink {
    fn write_frame(&mut self, frame: &[i16]) -> sotto_voice::Result<()> {
        self.lock().extend_from_slice(frame);
        Ok(())
    }
}

/// The call in progress (or the last one), as [`Calls::status`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallStatus {
    /// The state.
    pub state: CallState,
    /// The short authentication string, once the keys are agreed.
    pub sas: Option<Sas>,
    /// The media path, once media runs.
    pub path: Option<PathKind>,
    /// The media's counters, while media runs.
    pub media: Option<MediaStatus>,
    /// Whether the microphone is muted.
    pub muted: bool,
    /// The playout gain (speaker volume), 1.0 as received.
    pub speaker_gain: f32,
}

/// What a [`Calls`] handle asks of the shell.
pub(super) enum Command {
    Place {
        contact: ContactId,
        audio: CallAudio,
        reply: oneshot::Sender<Result<CallId>>,
    },
    Answer {
        audio: CallAudio,
        reply: oneshot::Sender<Result<CallId>>,
    },
    Reject(oneshot::Sender<Result<()>>),
    HangUp(oneshot::Sender<Result<()>>),
    SetMuted(bool),
    SetSpeakerGain(f32),
    SetPathPolicy(PathPolicy),
    Status(oneshot::Sender<CallStatus>),
}

/// The calls of a [`Connection`](super::Connection): one call at a time;
/// a call that comes in meanwhile is answered busy. Cheap to clone; every
/// method fails with [`Error::ConnectionClosed`] once the connection
/// stopped. Call events come on the connection's event stream.
#[derive(Clone)]
pub struct Calls {
    pub(super) shared: Arc<Shared>,
    pub(super) commands: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Calls(..)")
    }
}

impl Calls {
    /// Calls `contact` (starting the session first if there is none) with
    /// `audio`; returns the new call's id once the offer is queued. Then
    /// watch for [`CallEvent`]s. [`Error::CallInProgress`] if a call is in
    /// progress.
    pub async fn place(&self, contact: &ContactId, audio: CallAudio) -> Result<CallId> {
        self.refuse_behind_proxy()?;
        // The call's keys would be agreed with the old identity.
        session::refuse_while_key_offered(&*self.shared.store(), contact)?;
        super::ensure_session(&self.shared, contact).await?;
        self.ask(|reply| Command::Place {
            contact: contact.clone(),
            audio,
            reply,
        })
        .await?
    }

    /// Answers the ringing call with `audio`. [`Error::NoSuchCall`] if
    /// nothing rings.
    pub async fn answer(&self, audio: CallAudio) -> Result<CallId> {
        self.refuse_behind_proxy()?;
        self.ask(|reply| Command::Answer { audio, reply }).await?
    }

    /// [`Error::CallsThroughProxy`] when the account goes through a SOCKS5
    /// proxy (Tor): a call's media is UDP from this device's own address,
    /// to TURN on the relay or to the peer, so it would tie the account to
    /// that address, which the proxy is there to hide.
    fn refuse_behind_proxy(&self) -> Result<()> {
        match self.shared.settings().socks5 {
            Some(_) => Err(Error::CallsThroughProxy),
            None => Ok(()),
        }
    }

    /// Declines the ringing call. [`Error::NoSuchCall`] if nothing rings.
    pub async fn reject(&self) -> Result<()> {
        self.ask(Command::Reject).await?
    }

    /// Hangs up the call in progress (or cancels the outgoing one).
    /// [`Error::NoSuchCall`] if there is none.
    pub async fn hang_up(&self) -> Result<()> {
        self.ask(Command::HangUp).await?
    }

    /// Mutes or unmutes the microphone (silence is sent while muted). It
    /// holds for the rest of the call in progress; a new call starts
    /// unmuted.
    pub fn set_muted(&self, muted: bool) -> Result<()> {
        self.tell(Command::SetMuted(muted))
    }

    /// The playout gain: 0.0 (speaker off) to 4.0, 1.0 as received.
    /// Values outside that range are clamped.
    pub fn set_speaker_gain(&self, gain: f32) -> Result<()> {
        let gain = if gain.is_finite() {
            gain.clamp(0.0, 4.0)
        } else {
            1.0
        };
        self.tell(Command::SetSpeakerGain(gain))
    }

    /// Which media paths later calls may use: [`PathPolicy::RelayOnly`]
    /// sends media through the relay's TURN server only, so the peer never
    /// learns this device's address ("always relay calls"). Each connection
    /// starts with the saved [`AppSettings::relay_only_calls`](super::AppSettings::relay_only_calls)
    /// ([`PathPolicy::All`], direct when it works, unless it is on); this
    /// changes the running connection only. Behind a SOCKS5 proxy calls are
    /// always relayed.
    pub fn set_path_policy(&self, policy: PathPolicy) -> Result<()> {
        self.tell(Command::SetPathPolicy(policy))
    }

    /// The call in progress (or the last one): state, authentication
    /// string, path and media counters.
    pub async fn status(&self) -> Result<CallStatus> {
        self.ask(Command::Status).await
    }

    fn tell(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| Error::ConnectionClosed)
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.tell(command(reply))?;
        answer.await.map_err(|_| Error::ConnectionClosed)
    }
}
