//! A test shell around two phones' `CallController`s that performs their
//! actions for real: signals through Signal sessions (in-memory stores),
//! candidates gathered on loopback, connectivity checks, and the voice
//! pipeline (`call::start_media`) on the chosen path, talking from a
//! buffer and listening into one. A phone made with [`Phone::keys_only`]
//! runs no voice pipeline: it keeps the media keys and the path for the
//! test to use.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use sotto_core::call::{
    self, Action, CallController, CallId, CallState, CallTimeouts, EndReason, LocalCandidates,
    MediaHandle, MediaKeys, MediaOutcome, MediaPath, PathConfig, PathKind, UiEvent,
};
use sotto_core::messaging::{self, Received};
use sotto_core::store::InMemStore;
use sotto_core::Result;
use sotto_voice::audio::{BufferSink, BufferSource};
use sotto_voice::MediaConfig;

use super::Party;

/// Wall-clock milliseconds, as the controller wants them.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One phone: its controller and what the shell holds for it.
pub struct Phone {
    pub party: Party<InMemStore>,
    pub controller: CallController,
    gathered: HashMap<CallId, LocalCandidates>,
    /// The chosen path, until media takes it (kept by a keys-only phone).
    pub path: Option<MediaPath>,
    /// What this phone's microphone hears (48 kHz mono); `None` for a
    /// keys-only phone.
    pub talk: Option<Vec<i16>>,
    /// The media keys a keys-only phone was given.
    pub keys: Option<MediaKeys>,
    /// The running media, between `StartMedia` and `StopMedia`.
    pub media: Option<MediaHandle<BufferSink>>,
    /// What the media left when it stopped.
    pub stopped: Option<MediaOutcome<BufferSink>>,
    /// The kind of path the media ran on.
    pub path_kind: Option<PathKind>,
    pub sas: Option<String>,
    pub ended: Option<EndReason>,
}

impl Phone {
    pub fn new(party: Party<InMemStore>, talk: Vec<i16>) -> Self {
        Self::with_talk(party, Some(talk))
    }

    /// A phone that runs no voice pipeline: `StartMedia` only records the
    /// keys, and the path stays in [`Phone::path`].
    pub fn keys_only(party: Party<InMemStore>) -> Self {
        Self::with_talk(party, None)
    }

    fn with_talk(party: Party<InMemStore>, talk: Option<Vec<i16>>) -> Self {
        Self {
            party,
            controller: CallController::new(CallTimeouts::default()),
            gathered: HashMap::new(),
            path: None,
            talk,
            keys: None,
            media: None,
            stopped: None,
            path_kind: None,
            sas: None,
            ended: None,
        }
    }
}

/// Performs the actions of phone `at` (and all that follow from them on
/// both phones) until none are left; connects run on both phones at once,
/// as they must.
pub async fn run(
    phones: &mut [Phone; 2],
    at: usize,
    actions: Vec<Action>,
    rng: &mut StdRng,
) -> Result<()> {
    let mut queue: VecDeque<(usize, Action)> = actions.into_iter().map(|a| (at, a)).collect();
    let config = PathConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), None);
    let mut connects = Vec::new();
    for _ in 0..200 {
        while let Some((at, action)) = queue.pop_front() {
            let other = 1 - at;
            match action {
                Action::Send { signal, .. } => {
                    let out = {
                        let from = &mut phones[at].party;
                        call::send_signal(
                            &mut from.store,
                            &from.peer,
                            signal,
                            SystemTime::now(),
                            rng,
                        )?
                    };
                    let to = &mut phones[other];
                    let received = messaging::receive(
                        &mut to.party.store,
                        &to.party.peer,
                        &out.envelope.to_bytes(),
                        SystemTime::now(),
                        rng,
                    )?;
                    let Received::CallSignal(signal) = received else {
                        panic!("expected a call signal");
                    };
                    let from = to.party.peer.clone();
                    for action in
                        to.controller
                            .on_signal(&to.party.store, &from, signal, now_ms(), rng)?
                    {
                        queue.push_back((other, action));
                    }
                }
                Action::Gather(call_id) => {
                    let local = LocalCandidates::gather(&config).await?;
                    let candidates = local.candidates().to_vec();
                    phones[at].gathered.insert(call_id, local);
                    for action in phones[at]
                        .controller
                        .candidates_gathered(call_id, candidates)
                    {
                        queue.push_back((at, action));
                    }
                }
                Action::Connect {
                    call_id,
                    role,
                    remote,
                    path_key,
                } => {
                    let local = phones[at].gathered.remove(&call_id).expect("gathered");
                    let config = config.clone();
                    connects.push((
                        at,
                        call_id,
                        tokio::spawn(async move {
                            local.connect(&remote, role, &path_key, &config).await
                        }),
                    ));
                }
                Action::StartMedia { keys, .. } => {
                    let phone = &mut phones[at];
                    let Some(talk) = phone.talk.clone() else {
                        phone.keys = Some(keys);
                        continue;
                    };
                    let path = phone.path.take().expect("a path before media");
                    phone.path_kind = Some(path.kind());
                    phone.media = Some(call::start_media(
                        keys,
                        path,
                        MediaConfig::with_random_ssrc(),
                        BufferSource::new(talk),
                        BufferSink::default(),
                    )?);
                }
                Action::StopMedia(_) => {
                    let phone = &mut phones[at];
                    if let Some(media) = phone.media.take() {
                        phone.stopped = Some(media.stop().await?);
                    }
                    if let Some(path) = phone.path.take() {
                        path.close().await;
                    }
                }
                Action::ShowSas { sas, .. } => phones[at].sas = Some(sas.to_string()),
                Action::Ui(UiEvent::State(CallState::Ended { reason, .. })) => {
                    phones[at].ended = Some(reason)
                }
                Action::Ui(_) => {}
            }
        }
        if connects.is_empty() {
            return Ok(());
        }
        for (at, call_id, task) in connects.drain(..) {
            let result = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("connect is bounded")
                .expect("connect task");
            let actions = match result {
                Ok(path) => {
                    phones[at].path = Some(path);
                    phones[at]
                        .controller
                        .media_connected(call_id, now_ms(), rng)?
                }
                Err(_) => phones[at].controller.media_failed(call_id, now_ms(), rng)?,
            };
            queue.extend(actions.into_iter().map(|a| (at, a)));
        }
    }
    panic!("the phones did not settle");
}
