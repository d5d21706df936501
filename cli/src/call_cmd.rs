//! `sotto call` and `sotto answer`: one encrypted call over the account's
//! relay connection, through the core's call shell (`Connection::calls`).
//!
//! Audio is the microphone and speaker (cpal, feature `device`, on by
//! default) or WAV files (`--input`, `--output`). The call ends when
//! either side hangs up, `--duration` runs out, the `--input` file ends
//! (a second later, so its last words are heard), or on Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};
use sotto_core::app::{
    Account, BoxedSink, BoxedSource, CallAudio, CallEvent, Calls, Connection, Event, RecordingSink,
};
use sotto_core::call::{CallId, CallState, EndReason, MediaStatus, PathKind, PathPolicy};
use sotto_voice::audio::wav::{write_wav, WavSource};
use sotto_voice::audio::{FrameSource, SAMPLE_RATE};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::contact_cmd::resolve;
use crate::failure::{code, Failure};
use crate::output::Output;
use crate::{open_account, runtime, Global};

/// How long after the `--input` file ends the call stays up, so that the
/// peer's jitter buffer plays out its last words.
const INPUT_TAIL: Duration = Duration::from_secs(1);

/// How long the command waits, at most, for the hangup signal to go out.
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// Where the call's audio comes from and goes, and how long it lasts.
#[derive(Args)]
pub struct AudioArgs {
    /// Talk from this WAV file (any rate, mono or stereo) instead of the
    /// microphone; the call hangs up a second after it ends unless --stay
    #[arg(long, value_name = "WAV")]
    input: Option<PathBuf>,
    /// Write what the other side says to this WAV file (48 kHz mono)
    /// instead of playing it on the speaker
    #[arg(long, value_name = "WAV")]
    output: Option<PathBuf>,
    /// Hang up after this many seconds of conversation (0: no limit)
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    duration: u64,
    /// Keep the call up after the --input file ended
    #[arg(long)]
    stay: bool,
    /// The audio device for the microphone and speaker, as a cpal id such
    /// as `alsa:default` or `alsa:plughw:1,0` [default: the system's]
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    /// Send the media through the relay's TURN server only, so the other
    /// side never learns this computer's address (the relay must run TURN)
    #[arg(long)]
    relay_only: bool,
}

/// `sotto call`.
#[derive(Args)]
pub struct CallArgs {
    /// The contact (name or id)
    contact: String,
    #[command(flatten)]
    audio: AudioArgs,
}

/// `sotto answer`.
#[derive(Args)]
pub struct AnswerArgs {
    /// Decline the call instead of answering it
    #[arg(long)]
    decline: bool,
    /// Seconds to wait for a call to ring (0: wait forever)
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    timeout: u64,
    #[command(flatten)]
    audio: AudioArgs,
}

/// Calls a contact and stays in the call until it ends.
pub fn call(global: &Global, args: CallArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let contact = resolve(&account, &args.contact)?;
    let audio = Audio::open(&args.audio)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let connection = account.connect(runtime.handle())?;
        let calls = connection.calls();
        calls.set_path_policy(path_policy(&args.audio))?;
        out.progress(&format!("Calling {}…", contact.name));
        let placed = calls.place(&contact.id, audio.call_audio).await;
        let mut session = Session::new(&account, connection, calls, out, audio.ended);
        let outcome = match placed {
            Ok(call_id) => session.run(call_id, &args.audio).await,
            Err(error) => Err(error.into()),
        };
        session.finish().await;
        let ended = outcome?;
        audio.recording.save()?;
        ended.verdict(false, &audio.device_error)
    })
}

/// Waits for a call, answers (or declines) it, and stays in it until it
/// ends.
pub fn answer(global: &Global, args: AnswerArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let audio = Audio::open(&args.audio)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let connection = account.connect(runtime.handle())?;
        let calls = connection.calls();
        calls.set_path_policy(path_policy(&args.audio))?;
        let mut session = Session::new(&account, connection, calls, out, audio.ended);
        out.progress("Waiting for a call; Ctrl-C stops.");
        let deadline =
            (args.timeout > 0).then(|| Instant::now() + Duration::from_secs(args.timeout));
        let outcome = async {
            let call_id = session.wait_for_ringing(deadline).await?;
            if args.decline {
                session.calls.reject().await?;
            } else {
                session.calls.answer(audio.call_audio).await?;
            }
            session.run(call_id, &args.audio).await
        }
        .await;
        session.finish().await;
        let ended = outcome?;
        audio.recording.save()?;
        ended.verdict(args.decline, &audio.device_error)
    })
}

fn path_policy(args: &AudioArgs) -> PathPolicy {
    if args.relay_only {
        PathPolicy::RelayOnly
    } else {
        PathPolicy::All
    }
}

/// The audio of this call, and what the command keeps of it.
struct Audio {
    call_audio: CallAudio,
    /// Why the microphone or speaker could not be opened, if so.
    device_error: Arc<std::sync::Mutex<Option<String>>>,
    /// Set when the `--input` file ran out.
    ended: Option<Arc<InputEnd>>,
    recording: Recording,
}

/// What the other side said, for `--output`.
struct Recording(Option<(PathBuf, RecordingSink)>);

impl Recording {
    fn save(&self) -> Result<(), Failure> {
        let Some((path, sink)) = &self.0 else {
            return Ok(());
        };
        write_wav(path, &sink.samples(), SAMPLE_RATE).map_err(|e| {
            Failure::new(
                code::STORAGE,
                "storage",
                format!("cannot write the output WAV file: {e}"),
                "check that its directory exists and is writable",
            )
        })
    }
}

/// Tells the command that the `--input` file ended.
#[derive(Default)]
struct InputEnd {
    ended: AtomicBool,
    notify: Notify,
}

/// A source that reports when it runs out.
struct Watched<S> {
    inner: S,
    end: Arc<InputEnd>,
}

impl<S: FrameSource> FrameSource for Watched<S> {
    fn read_frame(&mut self, frame: &mut [i16]) -> bool {
        let more = self.inner.read_frame(frame);
        if !more && !self.end.ended.swap(true, Ordering::AcqRel) {
            self.end.notify.notify_one();
        }
        more
    }
}

impl Audio {
    fn open(args: &AudioArgs) -> Result<Self, Failure> {
        let bad_input = |e: sotto_voice::Error| {
            Failure::input(
                format!("cannot read the input WAV file: {e}"),
                "pass a readable 16-bit PCM WAV file",
            )
        };
        let (source, ended): (Option<BoxedSource>, _) = match &args.input {
            Some(path) => {
                let end = Arc::new(InputEnd::default());
                let source = Watched {
                    inner: WavSource::open(path).map_err(bad_input)?,
                    end: end.clone(),
                };
                (Some(Box::new(source)), Some(end))
            }
            None => (None, None),
        };
        let (sink, recording): (Option<BoxedSink>, _) = match &args.output {
            Some(path) => {
                check_writable(path)?;
                let sink = RecordingSink::new();
                (
                    Some(Box::new(sink.clone())),
                    Recording(Some((path.clone(), sink))),
                )
            }
            None => (None, Recording(None)),
        };
        if (source.is_none() || sink.is_none()) && !cfg!(feature = "device") {
            return Err(Failure::new(
                code::USAGE,
                "usage",
                "this build of sotto has no audio device support",
                "pass --input and --output WAV files, or build with `--features device`",
            ));
        }
        let device_id = args.device.clone();
        let device_error = Arc::new(std::sync::Mutex::new(None));
        let failed_device = device_error.clone();
        let call_audio = CallAudio::opened_by(move || {
            let opened = (|| {
                let source = match source {
                    Some(source) => source,
                    None => device::capture(device_id.clone())?,
                };
                let sink = match sink {
                    Some(sink) => sink,
                    None => device::playback(device_id)?,
                };
                Ok((source, sink))
            })();
            if let Err(error) = &opened {
                if let Ok(mut slot) = failed_device.lock() {
                    *slot = Some(format!("{error}"));
                }
            }
            opened
        });
        Ok(Self {
            call_audio,
            device_error,
            ended,
            recording,
        })
    }
}

/// Fails early, before the call, if `path` cannot be written.
fn check_writable(path: &Path) -> Result<(), Failure> {
    std::fs::File::create(path).map(drop).map_err(|e| {
        Failure::new(
            code::STORAGE,
            "storage",
            format!("cannot create the output WAV file: {e}"),
            "check that its directory exists and is writable",
        )
    })
}

/// The microphone and speaker (`--device`, or the system's), opened when
/// media starts.
#[cfg(feature = "device")]
mod device {
    use sotto_core::app::{BoxedSink, BoxedSource};
    use sotto_voice::audio::device::{Capture, DeviceConfig, Playback};

    fn config(device_id: Option<String>) -> DeviceConfig {
        DeviceConfig {
            device_id,
            ..DeviceConfig::default()
        }
    }

    pub fn capture(device_id: Option<String>) -> sotto_core::Result<BoxedSource> {
        Ok(Box::new(Capture::open(&config(device_id))?))
    }

    pub fn playback(device_id: Option<String>) -> sotto_core::Result<BoxedSink> {
        Ok(Box::new(Playback::open(&config(device_id))?))
    }
}

/// Without device support `Audio::open` refuses to run without files.
#[cfg(not(feature = "device"))]
mod device {
    use sotto_core::app::{BoxedSink, BoxedSource};

    pub fn capture(_: Option<String>) -> sotto_core::Result<BoxedSource> {
        Err(sotto_core::Error::NoMediaPath)
    }

    pub fn playback(_: Option<String>) -> sotto_core::Result<BoxedSink> {
        Err(sotto_core::Error::NoMediaPath)
    }
}

/// How a call ended, from this side.
struct Ended {
    reason: EndReason,
    connected: bool,
}

impl Ended {
    /// Success is a call that was talked and hung up (or, with `--decline`,
    /// declined as asked); anything else is exit code 12.
    fn verdict(
        &self,
        declining: bool,
        device_error: &std::sync::Mutex<Option<String>>,
    ) -> Result<(), Failure> {
        let ok = match self.reason {
            EndReason::HungUpHere | EndReason::HungUpThere => self.connected,
            EndReason::DeclinedHere => declining,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        if let Some(error) = device_error.lock().ok().and_then(|e| e.clone()) {
            return Err(Failure::new(
                code::CALL,
                "audio_device",
                format!("the call ended: cannot open the audio device: {error}"),
                "pass --device with a working device id, or use --input and --output WAV files",
            ));
        }
        let (kind, hint) = match self.reason {
            EndReason::DeclinedThere => ("declined", "the other side declined the call"),
            EndReason::BusyThere => ("busy", "the other side is in another call; try later"),
            EndReason::NoAnswer => ("no_answer", "nobody answered; try later"),
            EndReason::Missed => ("missed", "the caller hung up before the call was answered"),
            EndReason::ConnectTimeout | EndReason::MediaFailed => (
                "no_media_path",
                "no UDP path between the two sides: enable TURN on the relay (docs/calls.md)",
            ),
            _ => ("call_ended", ""),
        };
        Err(Failure::new(
            code::CALL,
            kind,
            format!("the call ended: {}", reason_text(self.reason)),
            hint,
        ))
    }
}

/// One call on one connection, with its output.
struct Session<'a> {
    account: &'a Account,
    connection: Connection,
    calls: Calls,
    out: Output,
    input_end: Option<Arc<InputEnd>>,
    connected_at: Option<Instant>,
}

impl<'a> Session<'a> {
    fn new(
        account: &'a Account,
        connection: Connection,
        calls: Calls,
        out: Output,
        input_end: Option<Arc<InputEnd>>,
    ) -> Self {
        Self {
            account,
            connection,
            calls,
            out,
            input_end,
            connected_at: None,
        }
    }

    /// Waits until a call rings; returns its id.
    async fn wait_for_ringing(&mut self, deadline: Option<Instant>) -> Result<CallId, Failure> {
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let next = async {
                match deadline {
                    Some(at) => tokio::time::timeout_at(at, self.connection.next_event())
                        .await
                        .map_err(|_| ()),
                    None => Ok(self.connection.next_event().await),
                }
            };
            let event = tokio::select! {
                event = next => event,
                _ = &mut interrupted => return Err(Failure::new(
                    code::TIMEOUT, "interrupted", "stopped before a call came", "",
                )),
            };
            let event = event.map_err(|()| {
                Failure::new(
                    code::TIMEOUT,
                    "timeout",
                    "no call came before the timeout",
                    "wait longer with a larger --timeout",
                )
            })?;
            let Some(event) = event else {
                return Err(sotto_core::Error::ConnectionClosed.into());
            };
            if let Event::Call(call_event) = &event {
                self.print(call_event);
                if let CallEvent::State(CallState::IncomingRinging { call, .. }) = call_event {
                    return Ok(call.call_id);
                }
            }
        }
    }

    /// Follows the call until it ends, hanging up on Ctrl-C, at
    /// `--duration`, or after the `--input` file.
    async fn run(&mut self, mut call_id: CallId, args: &AudioArgs) -> Result<Ended, Failure> {
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let mut interrupted_fired = false;
        let mut hang_up_at: Option<Instant> = None;
        let mut hung_up = false;
        let mut watch_input = self.input_end.clone().filter(|_| !args.stay);
        loop {
            let input_ended = async {
                match &watch_input {
                    Some(end) if !end.ended.load(Ordering::Acquire) => end.notify.notified().await,
                    Some(_) => {}
                    None => std::future::pending().await,
                }
            };
            let hang_up_due = async {
                match hang_up_at {
                    Some(at) if !hung_up => tokio::time::sleep_until(at).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                event = self.connection.next_event() => {
                    let Some(event) = event else {
                        return Err(sotto_core::Error::ConnectionClosed.into());
                    };
                    let Event::Call(event) = event else { continue };
                    self.print(&event);
                    // Glare (both dialled at once) leaves one call on both
                    // phones, which may be the other side's: follow it.
                    if let CallEvent::State(state) = &event {
                        if let Some(call) = state.active_call() {
                            call_id = call.call_id;
                        }
                    }
                    match event {
                        CallEvent::MediaStarted { call_id: id, .. } if id == call_id => {
                            self.connected_at = Some(Instant::now());
                            if args.duration > 0 {
                                let at = Instant::now() + Duration::from_secs(args.duration);
                                hang_up_at = Some(hang_up_at.map_or(at, |t| t.min(at)));
                            }
                        }
                        CallEvent::Ended { call, reason, .. } if call.call_id == call_id => {
                            return Ok(Ended { reason, connected: self.connected_at.is_some() });
                        }
                        _ => {}
                    }
                }
                () = input_ended => {
                    watch_input = None;
                    self.out.progress("(the input file ended; hanging up in a second)");
                    let at = Instant::now() + INPUT_TAIL;
                    hang_up_at = Some(hang_up_at.map_or(at, |t| t.min(at)));
                }
                () = hang_up_due => {
                    hung_up = true;
                    self.hang_up().await?;
                }
                // Polled until it fires once: a finished `ctrl_c` future
                // must not be polled again.
                _ = &mut interrupted, if !interrupted_fired => {
                    interrupted_fired = true;
                    hung_up = true;
                    self.hang_up().await?;
                }
            }
        }
    }

    async fn hang_up(&self) -> Result<(), Failure> {
        match self.calls.hang_up().await {
            // It ended on its own meanwhile; its event is on the way.
            Ok(()) | Err(sotto_core::Error::NoSuchCall) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Lets the last signals (the hangup) go out, then closes.
    async fn finish(self) {
        let limit = Instant::now() + DRAIN_LIMIT;
        let mut connection = self.connection;
        while self.account.pending_outgoing().unwrap_or(0) > 0 {
            match tokio::time::timeout_at(limit, connection.next_event()).await {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        connection.close().await;
    }

    fn print(&self, event: &CallEvent) {
        let value = match event {
            CallEvent::State(state) => {
                let (name, call) = match state {
                    CallState::OutgoingRinging { call, .. } => ("outgoing_ringing", call),
                    CallState::IncomingRinging { call, .. } => ("incoming_ringing", call),
                    CallState::Connecting { call, .. } => ("connecting", call),
                    CallState::Connected { call, .. } => ("connected", call),
                    _ => return,
                };
                let who = self.name(&call.peer);
                self.out.progress(&match name {
                    "outgoing_ringing" => format!("Ringing {who}…"),
                    "incoming_ringing" => format!("{who} is calling."),
                    "connecting" => "Connecting…".into(),
                    _ => format!("Connected with {who}."),
                });
                json!({
                    "type": "call_state",
                    "state": name,
                    "call_id": hex::encode(call.call_id.0),
                    "contact": call.peer.as_str(),
                })
            }
            CallEvent::Sas { call_id, sas } => {
                let [a, b] = sas.words();
                self.out.text(&format!("Authentication string: {a} {b}"));
                self.out.progress(
                    "  Read it aloud: the other side must see the same two words, or someone is in the middle.",
                );
                json!({"type": "sas", "call_id": hex::encode(call_id.0), "words": [a, b]})
            }
            CallEvent::MediaStarted { call_id, path } => {
                self.out.progress(&format!(
                    "Audio flows ({}; Opus over SRTP).",
                    path_name(*path)
                ));
                json!({"type": "media", "call_id": hex::encode(call_id.0), "path": path_name(*path)})
            }
            CallEvent::Ended {
                call,
                reason,
                media,
            } => {
                let seconds = self.connected_at.map(|t| t.elapsed().as_secs_f64());
                self.out
                    .text(&format!("Call ended: {}.", reason_text(*reason)));
                if let Some(media) = media {
                    self.out.progress(&media_line(media, seconds));
                }
                json!({
                    "type": "ended",
                    "call_id": hex::encode(call.call_id.0),
                    "reason": reason_name(*reason),
                    "connected_seconds": seconds,
                    "media": media.as_deref().map(media_json),
                })
            }
            CallEvent::Missed { peer, while_busy } => {
                let who = self.name(peer);
                self.out.progress(&format!(
                    "(missed a call from {who}{})",
                    if *while_busy { " during this call" } else { "" }
                ));
                json!({"type": "missed", "contact": peer.as_str(), "while_busy": while_busy})
            }
            _ => return,
        };
        self.out.json_line(&value);
    }

    fn name(&self, contact: &sotto_core::store::ContactId) -> String {
        self.account
            .contact(contact)
            .map(|c| c.name)
            .unwrap_or_else(|_| "?".into())
    }
}

pub(crate) fn path_name(path: PathKind) -> &'static str {
    match path {
        PathKind::Direct => "direct",
        PathKind::Relayed => "relayed",
    }
}

/// The name of an end reason in JSON.
pub(crate) fn reason_name(reason: EndReason) -> &'static str {
    match reason {
        EndReason::HungUpHere => "hung_up_here",
        EndReason::HungUpThere => "hung_up_there",
        EndReason::DeclinedHere => "declined_here",
        EndReason::DeclinedThere => "declined_there",
        EndReason::BusyThere => "busy_there",
        EndReason::NoAnswer => "no_answer",
        EndReason::Missed => "missed",
        EndReason::ConnectTimeout => "connect_timeout",
        EndReason::MediaFailed => "media_failed",
    }
}

fn reason_text(reason: EndReason) -> &'static str {
    match reason {
        EndReason::HungUpHere => "you hung up",
        EndReason::HungUpThere => "the other side hung up",
        EndReason::DeclinedHere => "you declined",
        EndReason::DeclinedThere => "the other side declined",
        EndReason::BusyThere => "the other side is busy",
        EndReason::NoAnswer => "no answer",
        EndReason::Missed => "missed",
        EndReason::ConnectTimeout => "the media did not connect in time",
        EndReason::MediaFailed => "the media path failed",
    }
}

/// The final counters as JSON.
fn media_json(media: &MediaStatus) -> Value {
    let stats = &media.stats;
    json!({
        "packets_sent": stats.packets_sent,
        "packets_received": stats.packets_received,
        "packets_rejected": stats.packets_rejected,
        "packets_lost": stats.local_cumulative_lost,
        "jitter_ms": stats.local_jitter_secs * 1000.0,
        "rtt_ms": stats.rtt_secs.map(|s| s * 1000.0),
        "bitrate": stats.bitrate,
        "concealed_frames": stats.jitter.concealed,
        "jitter_buffer_ms": stats.jitter.current_delay_ms,
    })
}

fn media_line(media: &MediaStatus, seconds: Option<f64>) -> String {
    let stats = &media.stats;
    let expected = stats.packets_received as i64 + stats.local_cumulative_lost.max(0);
    let loss = 100.0 * stats.local_cumulative_lost.max(0) as f64 / expected.max(1) as f64;
    format!(
        "  {:.1} s; {} packets sent, {} received, {loss:.1} % lost, {} rejected{}",
        seconds.unwrap_or(0.0),
        stats.packets_sent,
        stats.packets_received,
        stats.packets_rejected,
        stats
            .rtt_secs
            .map(|rtt| format!(", round trip {:.1} ms", rtt * 1000.0))
            .unwrap_or_default()
    )
}
