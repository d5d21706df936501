//! The production call shell: one task per [`Connection`](super::Connection)
//! that owns the account's [`CallController`] and performs its actions for
//! real.
//!
//! - Signals go out through the outbox, like texts: `call::send_signal`
//!   encrypts them in the Signal session and the relay agent sends them.
//!   That keeps one ordered, sealed-sender path to the peer (an offer can
//!   never overtake the candidates that follow it) and a signal queued
//!   while the relay is briefly away still goes out; stale offers are
//!   refused by the receiver (older than 60 s).
//! - Or by encrypted SMS, when that is all there is: the same sealed
//!   envelope, carried by the SMS bridge instead of the relay. One call's
//!   signals all take one way, chosen once per call ([`SignalWay`]): by
//!   SMS if its first signal came by SMS, or if [`route_to`] says
//!   encrypted SMS when we send its first one (no relay for the contact,
//!   or ours not logged in). The client hears [`Event::SmsWaiting`] and
//!   takes the SMS from the queue. Media still needs an IP path (direct
//!   UDP or TURN): SMS carries only the signalling.
//! - Signals come in from the connection's pump (relay) and from the SMS
//!   bridge (SMS), on two inboxes ([`Inboxes`]).
//! - Candidates are gathered with a [`PathConfig`] whose TURN server comes
//!   from the relay (`RelayConnection::turn_credentials`, fetched per call
//!   so they are always fresh); without TURN, a host candidate alone.
//! - Connectivity checks and gathering run on their own tasks and report
//!   back, so the shell keeps answering the user and the peer meanwhile.
//! - Media runs `call::start_media` with the [`CallAudio`] the user gave
//!   when placing or answering the call.
//! - Timeouts: the shell sleeps until the controller's next deadline and
//!   ticks it.
//!
//! It owns no call logic: every decision is the controller's.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_voice::audio::{FrameSink, FrameSource};
use sotto_voice::MediaConfig;
use tokio::sync::{mpsc, watch};

use super::call_log::CallRecorder;
use super::calls::{BoxedSink, BoxedSource, CallAudio, CallEvent, CallStatus, Command};
use super::connection::Event;
use super::sms::{carry_by_sms, route_to};
use super::Shared;
use crate::call::{
    self, Action, CallController, CallId, CallState, CallTimeouts, LocalCandidates, MediaHandle,
    MediaPath, MediaStatus, PathConfig, PathKind, PathPolicy, ReceivedSignal, Sas, TurnServer,
    UiEvent,
};
use crate::error::{Error, Result};
use crate::relay::client::Login;
use crate::sms::Route;
use crate::store::{ContactId, SottoStore};

/// How long gathering (the TURN credentials and allocation) may take.
const GATHER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long asking the relay for TURN credentials may take: a relay out of
/// reach (the reason signals go by SMS) must leave time in
/// [`GATHER_TIMEOUT`] for the host candidate alone.
const TURN_CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(4);

/// A signal from the connection's pump or the SMS bridge.
pub(super) type IncomingSignal = (ContactId, ReceivedSignal);

/// Where the shell's signals come from.
pub(super) struct Inboxes {
    /// Received through the relay (the connection's pump).
    pub(super) relay: mpsc::UnboundedReceiver<IncomingSignal>,
    /// Received by encrypted SMS (the SMS bridge).
    pub(super) sms: mpsc::UnboundedReceiver<IncomingSignal>,
}

/// How one call's signals travel: every signal of a call takes the same
/// way, so none overtakes another on a faster transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignalWay {
    Relay,
    Sms,
}

/// What a background task of the shell reports.
enum Done {
    Gathered(CallId, Result<(LocalCandidates, PathConfig)>),
    Connected(CallId, Result<MediaPath>),
}

/// The boxed source and sink, as `start_media` wants them.
struct Source(BoxedSource);
struct Sink(BoxedSink);

impl FrameSource for Source {
    fn read_frame(&mut self, frame: &mut [i16]) -> bool {
        self.0.read_frame(frame)
    }
}

impl FrameSink for Sink {
    fn write_frame(&mut self, frame: &[i16]) -> sotto_voice::Result<()> {
        self.0.write_frame(frame)
    }
}

struct Running {
    call_id: CallId,
    handle: MediaHandle<Sink>,
    path: PathKind,
}

/// The shell's state; see the module docs.
pub(super) struct CallShell {
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<Event>,
    controller: CallController,
    rng: StdRng,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    /// The audio for the call in progress, until media starts.
    audio: Option<CallAudio>,
    gathered: Option<(CallId, LocalCandidates, PathConfig)>,
    path: Option<(CallId, MediaPath)>,
    media: Option<Running>,
    sas: Option<(CallId, Sas)>,
    last_media: Option<(CallId, MediaStatus)>,
    muted: bool,
    speaker_gain: f32,
    policy: PathPolicy,
    /// The way the signals of the call in progress (or the last one)
    /// travel. Only a call in progress here sets it, so no one's signals
    /// for other calls can replace the live call's way.
    way: Option<(CallId, SignalWay)>,
    /// The call and way of the signal being handled, for the replies it
    /// makes (a busy answer to a second caller goes the way its offer came).
    incoming: Option<(CallId, SignalWay)>,
    /// Writes the call log from the events emitted.
    log: CallRecorder,
}

fn now_ms() -> u64 {
    crate::millis(SystemTime::now())
}

impl CallShell {
    pub(super) fn new(shared: Arc<Shared>, events: mpsc::UnboundedSender<Event>) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            events,
            controller: CallController::new(CallTimeouts::default()),
            rng: StdRng::from_os_rng(),
            done_tx,
            done_rx,
            audio: None,
            gathered: None,
            path: None,
            media: None,
            sas: None,
            last_media: None,
            muted: false,
            speaker_gain: 1.0,
            // "Always relay calls", as saved; `Calls::set_path_policy`
            // changes it for this connection.
            policy: if shared.settings().relay_only_calls {
                PathPolicy::RelayOnly
            } else {
                PathPolicy::All
            },
            shared,
            way: None,
            incoming: None,
            log: CallRecorder::default(),
        }
    }

    /// Runs until `stop`; then hangs up the call in progress, if any.
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut inboxes: Inboxes,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let deadline = self.controller.next_deadline_ms().map(|at| {
                tokio::time::Instant::now() + Duration::from_millis(at.saturating_sub(now_ms()))
            });
            tokio::select! {
                () = stopped(&mut stop) => break,
                Some(command) = commands.recv() => self.command(command).await,
                Some((from, signal)) = inboxes.relay.recv() => {
                    self.on_signal(from, signal, SignalWay::Relay).await;
                }
                Some((from, signal)) = inboxes.sms.recv() => {
                    self.on_signal(from, signal, SignalWay::Sms).await;
                }
                Some(done) = self.done_rx.recv() => self.done(done).await,
                call_id = media_failed(&mut self.media) => {
                    let actions = self.controller.media_failed(call_id, now_ms(), &mut self.rng);
                    // An error was logged by `perform_result`.
                    let _ = self.perform_result(actions).await;
                    // Whatever the controller made of it, the media is
                    // gone: never watch a dead driver twice.
                    self.release(Some(call_id)).await;
                }
                _ = sleep_until(deadline) => {
                    let actions = self.controller.tick(now_ms(), &mut self.rng);
                    // An error was logged by `perform_result`.
                    let _ = self.perform_result(actions).await;
                }
            }
        }
        if self.controller.state().active_call().is_some() {
            let actions = self.controller.hang_up(now_ms(), &mut self.rng);
            // An error was logged by `perform_result`.
            let _ = self.perform_result(actions).await;
        }
        self.release(None).await;
    }

    /// A signal from `from` that came `way`: the first signal of the call
    /// in progress fixes the way its answers take. The way is kept only
    /// once the controller made the call the one in progress; replies to
    /// any other signal go the way it came.
    async fn on_signal(&mut self, from: ContactId, signal: ReceivedSignal, way: SignalWay) {
        let call_id = signal.signal.call_id;
        self.incoming = Some((call_id, way));
        let actions = {
            let store = self.shared.store();
            self.controller
                .on_signal(&*store, &from, signal, now_ms(), &mut self.rng)
        };
        // An error was logged by `perform_result`.
        let _ = self.perform_result(actions).await;
        self.incoming = None;
        if self.active_call_id() == Some(call_id) {
            self.remember_way(call_id, way);
        }
    }

    /// The way `call_id`'s signals travel, if it is fixed yet.
    fn way_of(&self, call_id: CallId) -> Option<SignalWay> {
        self.way
            .filter(|(id, _)| *id == call_id)
            .map(|(_, way)| way)
    }

    /// Fixes the way of `call_id`'s signals unless it is fixed already.
    /// Only for the call in progress (see `way`).
    fn remember_way(&mut self, call_id: CallId, way: SignalWay) {
        if self.way_of(call_id).is_none() {
            self.way = Some((call_id, way));
        }
    }

    async fn command(&mut self, command: Command) {
        let ringing = matches!(self.controller.state(), CallState::IncomingRinging { .. });
        let active = self.controller.state().active_call().is_some();
        match command {
            Command::Place {
                contact,
                audio,
                reply,
            } => {
                if active {
                    let _ = reply.send(Err(Error::CallInProgress));
                    return;
                }
                self.audio = Some(audio);
                let actions = self.controller.dial(contact, now_ms(), &mut self.rng);
                let call_id = self.active_call_id();
                let result = self.perform_result(actions).await;
                if result.is_err() {
                    self.audio = None;
                }
                let _ = reply.send(result.and_then(|()| call_id.ok_or(Error::NoSuchCall)));
            }
            Command::Answer { audio, reply } => {
                if !ringing {
                    let _ = reply.send(Err(Error::NoSuchCall));
                    return;
                }
                let call_id = self.active_call_id();
                self.audio = Some(audio);
                let actions = self.controller.accept(now_ms(), &mut self.rng);
                let result = self.perform_result(actions).await;
                let _ = reply.send(result.and_then(|()| call_id.ok_or(Error::NoSuchCall)));
            }
            Command::Reject(reply) => {
                if !ringing {
                    let _ = reply.send(Err(Error::NoSuchCall));
                    return;
                }
                let actions = self.controller.decline(now_ms(), &mut self.rng);
                let _ = reply.send(self.perform_result(actions).await);
            }
            Command::HangUp(reply) => {
                if !active {
                    let _ = reply.send(Err(Error::NoSuchCall));
                    return;
                }
                let actions = self.controller.hang_up(now_ms(), &mut self.rng);
                let _ = reply.send(self.perform_result(actions).await);
            }
            Command::SetMuted(muted) => {
                self.muted = muted;
                if let Some(media) = &self.media {
                    media.handle.set_muted(muted);
                }
            }
            Command::SetSpeakerGain(gain) => {
                self.speaker_gain = gain;
                if let Some(media) = &self.media {
                    media.handle.set_playout_gain(gain);
                }
            }
            Command::SetPathPolicy(policy) => self.policy = policy,
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn status(&self) -> CallStatus {
        let current = self
            .controller
            .state()
            .active_call()
            .or(match self.controller.state() {
                CallState::Ended { call, .. } => Some(call),
                _ => None,
            })
            .map(|call| call.call_id);
        CallStatus {
            state: self.controller.state().clone(),
            sas: self
                .sas
                .as_ref()
                .filter(|(id, _)| Some(*id) == current)
                .map(|(_, sas)| sas.clone()),
            path: self.media.as_ref().map(|m| m.path),
            media: match &self.media {
                Some(media) => Some(media.handle.status()),
                None => self
                    .last_media
                    .as_ref()
                    .filter(|(id, _)| Some(*id) == current)
                    .map(|(_, status)| *status),
            },
            muted: self.muted,
            speaker_gain: self.speaker_gain,
        }
    }

    fn active_call_id(&self) -> Option<CallId> {
        self.controller.state().active_call().map(|c| c.call_id)
    }

    async fn done(&mut self, done: Done) {
        let now = now_ms();
        match done {
            Done::Gathered(call_id, Ok((local, config))) => {
                if self.active_call_id() != Some(call_id) {
                    local.close().await;
                    return;
                }
                let candidates = local.candidates().to_vec();
                if let Some((_, stale, _)) = self.gathered.replace((call_id, local, config)) {
                    stale.close().await;
                }
                let actions = self.controller.candidates_gathered(call_id, candidates);
                self.perform(actions).await;
            }
            Done::Connected(call_id, Ok(path)) => {
                if let Some((_, stale)) = self.path.replace((call_id, path)) {
                    stale.close().await;
                }
                let actions = self.controller.media_connected(call_id, now, &mut self.rng);
                let _ = self.perform_result(actions).await;
                // Not taken by `StartMedia`: the call ended meanwhile.
                if let Some((_, path)) = self.path.take() {
                    path.close().await;
                }
            }
            Done::Gathered(call_id, Err(error)) | Done::Connected(call_id, Err(error)) => {
                tracing::info!(%error, "no media path for the call");
                let actions = self.controller.media_failed(call_id, now, &mut self.rng);
                // An error was logged by `perform_result`.
                let _ = self.perform_result(actions).await;
            }
        }
    }

    /// Performs `actions` if the controller made them; its error (a store
    /// failure, a key agreement that failed) is logged and returned.
    async fn perform_result(&mut self, actions: Result<Vec<Action>>) -> Result<()> {
        match actions {
            Ok(actions) => {
                self.perform(actions).await;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "the call controller refused an input");
                Err(error)
            }
        }
    }

    /// Performs `actions` and everything that follows from them at once.
    async fn perform(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { peer, signal } => self.send(&peer, signal),
                Action::Gather(call_id) => self.gather(call_id),
                Action::Connect {
                    call_id,
                    role,
                    remote,
                    path_key,
                } => match self.gathered.take() {
                    Some((id, local, config)) if id == call_id => {
                        let done = self.done_tx.clone();
                        tokio::spawn(async move {
                            let path = local.connect(&remote, role, &path_key, &config).await;
                            let _ = done.send(Done::Connected(call_id, path));
                        });
                    }
                    other => {
                        if let Some((_, local, _)) = other {
                            local.close().await;
                        }
                        let now = now_ms();
                        let actions = self.controller.media_failed(call_id, now, &mut self.rng);
                        queue.extend(actions.unwrap_or_default());
                    }
                },
                Action::StartMedia { call_id, keys } => {
                    if let Err(error) = self.start_media(call_id, keys) {
                        tracing::info!(%error, "the call's media did not start");
                        let now = now_ms();
                        let actions = self.controller.media_failed(call_id, now, &mut self.rng);
                        queue.extend(actions.unwrap_or_default());
                    }
                }
                Action::StopMedia(call_id) => self.release(Some(call_id)).await,
                Action::ShowSas { call_id, sas } => {
                    self.sas = Some((call_id, sas.clone()));
                    self.emit(CallEvent::Sas { call_id, sas });
                }
                Action::Ui(UiEvent::State(CallState::Ended { call, reason })) => {
                    let media = self
                        .last_media
                        .as_ref()
                        .filter(|(id, _)| *id == call.call_id)
                        .map(|(_, status)| Box::new(*status));
                    self.audio = None;
                    self.muted = false;
                    self.speaker_gain = 1.0;
                    self.emit(CallEvent::Ended {
                        call,
                        reason,
                        media,
                    });
                }
                Action::Ui(UiEvent::State(state)) => self.emit(CallEvent::State(state)),
                Action::Ui(UiEvent::Missed { peer, while_busy }) => {
                    self.emit(CallEvent::Missed { peer, while_busy })
                }
            }
        }
    }

    fn emit(&mut self, event: CallEvent) {
        self.log.observe(&self.shared, &event, now_ms());
        // A client that stopped listening does not stop the calls.
        let _ = self.events.send(Event::Call(event));
    }

    fn send(&mut self, peer: &ContactId, signal: call::CallSignal) {
        let call_id = signal.call_id;
        let came = self
            .incoming
            .filter(|(id, _)| *id == call_id)
            .map(|(_, way)| way);
        let way = match self.way_of(call_id).or(came) {
            Some(way) => way,
            None => match route_to(&self.shared, peer) {
                Ok(Route::EncryptedSms) => SignalWay::Sms,
                // The relay now or later; a contact that can be
                // reached neither way gets the signal queued for the
                // relay, and the call times out.
                _ => SignalWay::Relay,
            },
        };
        if self.active_call_id() == Some(call_id) {
            self.remember_way(call_id, way);
        }
        let queued = call::send_signal(
            &mut *self.shared.store(),
            peer,
            signal,
            SystemTime::now(),
            &mut self.rng,
        );
        let outgoing = match queued {
            Ok(outgoing) => outgoing,
            // The call times out on the other side, or here.
            Err(error) => {
                tracing::warn!(%error, "could not queue a call signal");
                return;
            }
        };
        if way == SignalWay::Sms {
            match carry_by_sms(&self.shared, peer, &outgoing) {
                Ok(()) => {
                    // A client that stopped listening does not stop calls.
                    let _ = self.events.send(Event::SmsWaiting);
                    return;
                }
                // Still in the relay's outbox: it goes when the relay is
                // back, if the call has not timed out by then.
                Err(error) => tracing::warn!(%error, "could not send a call signal by SMS"),
            }
        }
        self.shared.outbox_changed.notify_one();
    }

    fn gather(&self, call_id: CallId) {
        let shared = self.shared.clone();
        let done = self.done_tx.clone();
        let policy = self.policy;
        tokio::spawn(async move {
            let gathered = tokio::time::timeout(GATHER_TIMEOUT, gather(&shared, policy))
                .await
                .unwrap_or(Err(Error::NoMediaPath));
            let _ = done.send(Done::Gathered(call_id, gathered));
        });
    }

    fn start_media(&mut self, call_id: CallId, keys: call::MediaKeys) -> Result<()> {
        if !matches!(&self.path, Some((id, _)) if *id == call_id) {
            return Err(Error::NoMediaPath);
        }
        // The audio first: if the microphone cannot be opened, the path
        // stays for `release` to close properly.
        let audio = self.audio.take().ok_or(Error::NoMediaPath)?;
        let (source, sink) = audio.open()?;
        let Some((_, path)) = self.path.take() else {
            return Err(Error::NoMediaPath);
        };
        let kind = path.kind();
        let handle = call::start_media(
            keys,
            path,
            MediaConfig::with_random_ssrc(),
            Source(source),
            Sink(sink),
        )?;
        handle.set_muted(self.muted);
        handle.set_playout_gain(self.speaker_gain);
        self.media = Some(Running {
            call_id,
            handle,
            path: kind,
        });
        self.emit(CallEvent::MediaStarted {
            call_id,
            path: kind,
        });
        Ok(())
    }

    /// Stops the media and releases the sockets of `call_id` (of any call
    /// with `None`), keeping the media's final counters.
    async fn release(&mut self, call_id: Option<CallId>) {
        let ours = |id: &CallId| call_id.is_none_or(|c| c == *id);
        if let Some(media) = self.media.take_if(|m| ours(&m.call_id)) {
            let id = media.call_id;
            match media.handle.stop().await {
                Ok(outcome) => self.last_media = Some((id, outcome.status)),
                Err(error) => tracing::info!(%error, "the call's media stopped badly"),
            }
        }
        if let Some((_, path)) = self.path.take_if(|(id, _)| ours(id)) {
            path.close().await;
        }
        if let Some((_, local, _)) = self.gathered.take_if(|(id, _, _)| ours(id)) {
            local.close().await;
        }
    }
}

/// Resolves with the call id when the running media failed on its own;
/// never without media.
async fn media_failed(media: &mut Option<Running>) -> CallId {
    match media {
        Some(running) => {
            running.handle.failed().await;
            running.call_id
        }
        None => std::future::pending().await,
    }
}

/// Resolves once the connection stops (or its owner is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The candidates of this side, with TURN when the relay offers it.
async fn gather(shared: &Shared, policy: PathPolicy) -> Result<(LocalCandidates, PathConfig)> {
    let settings = shared.settings();
    let turn = tokio::time::timeout(TURN_CREDENTIALS_TIMEOUT, turn_servers(shared))
        .await
        .unwrap_or(Err(Error::RelayTimeout));
    let turn = match turn {
        Ok(servers) => servers.into_iter().next(),
        Err(error) => {
            // Not every relay runs TURN; a direct path may still do.
            tracing::info!(%error, "no TURN server for this call");
            None
        }
    };
    let local_ip = route_to_relay(&settings.relay.host, settings.relay.port).await;
    let mut config = PathConfig::new(local_ip, turn);
    config.policy = policy;
    if settings.socks5.is_some() {
        // Behind a proxy (Tor) the peer must not learn this device's
        // address: media through TURN only.
        config.policy = PathPolicy::RelayOnly;
    }
    let local = LocalCandidates::gather(&config).await?;
    Ok((local, config))
}

/// Short-lived TURN servers from the account's relay.
async fn turn_servers(shared: &Shared) -> Result<Vec<TurnServer>> {
    let settings = shared.settings();
    let account = shared.store().local_account()?.ok_or(Error::NoAccount)?;
    let login = Login {
        identity: &account.identity,
        registration_id: account.registration_id,
    };
    let mut relay = super::open_relay(&settings, Some(login)).await?;
    relay.turn_credentials().await
}

/// The local address of the interface that routes to the relay (no packet
/// is sent): the host candidate's address. The unspecified address if
/// there is no route, which lets `PathConfig` route to TURN instead.
async fn route_to_relay(host: &str, port: u16) -> IpAddr {
    let fallback = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let Ok(mut addresses) = tokio::net::lookup_host((host, port)).await else {
        return fallback;
    };
    let Some(relay) = addresses.next() else {
        return fallback;
    };
    let bind = match relay {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    };
    let Ok(probe) = tokio::net::UdpSocket::bind(bind).await else {
        return fallback;
    };
    if probe.connect(relay).await.is_err() {
        return fallback;
    }
    probe.local_addr().map(|a| a.ip()).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Account, StoreKey};
    use crate::call::{CallSignal, KeyCommitment, SignalKind};
    use crate::prekeys::PreKeyPolicy;
    use crate::relay::invite::RelayInvite;
    use crate::store::{Contact, DatabaseKey};

    fn received(call_id: CallId, kind: SignalKind) -> ReceivedSignal {
        ReceivedSignal {
            signal: CallSignal { call_id, kind },
            sent_at_ms: now_ms(),
        }
    }

    #[tokio::test]
    async fn other_calls_signals_never_push_out_the_live_calls_way() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let relay = RelayInvite {
            host: "127.0.0.1".into(),
            port: 7443,
            trust_root: libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key,
        };
        let policy = PreKeyPolicy {
            batch: 5,
            low_water: 2,
            ..PreKeyPolicy::default()
        };
        let key = StoreKey::Raw(DatabaseKey::from_bytes([1; 32]));
        let account = Account::create_with_policy(dir.path(), &key, relay, &policy)?;
        let mut rng = rand::rng();
        let (caller, stranger) = (ContactId::random(&mut rng), ContactId::random(&mut rng));
        for (id, name) in [(&caller, "Caller"), (&stranger, "Stranger")] {
            account.shared.store().save_contact(&Contact {
                id: id.clone(),
                name: name.into(),
                relay: None,
            })?;
        }
        let (events, _listening) = mpsc::unbounded_channel();
        let mut shell = CallShell::new(account.shared.clone(), events);

        // A call rings, its offer having come by SMS.
        let live = CallId::random(&mut rng);
        let offer = SignalKind::Offer(KeyCommitment([7; 32]));
        shell
            .on_signal(caller, received(live, offer), SignalWay::Sms)
            .await;
        assert_eq!(shell.active_call_id(), Some(live));
        assert_eq!(shell.way_of(live), Some(SignalWay::Sms));

        // Someone else's signals for calls of their own, by relay, offers
        // answered busy among them.
        for n in 0..16 {
            let kind = if n % 2 == 0 {
                SignalKind::Offer(KeyCommitment([n as u8; 32]))
            } else {
                SignalKind::Hangup
            };
            let other = CallId::random(&mut rng);
            shell
                .on_signal(stranger.clone(), received(other, kind), SignalWay::Relay)
                .await;
            assert_eq!(shell.way_of(other), None, "not a call in progress here");
        }
        assert_eq!(shell.active_call_id(), Some(live), "still ringing");
        assert_eq!(shell.way_of(live), Some(SignalWay::Sms));
        Ok(())
    }
}
