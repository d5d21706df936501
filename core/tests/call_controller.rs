//! Two phones' `CallController`s, with a small shell around each that
//! performs their actions for real: signals through Signal sessions
//! (in-memory stores), candidates gathered on loopback, connectivity
//! checks, and datagrams over the resulting path.

mod support;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use sotto_core::call::{
    Action, CallController, CallId, CallState, CallTimeouts, EndReason, LocalCandidates, MediaKeys,
    MediaPath, PathConfig, UiEvent,
};
use sotto_core::messaging::{self, Received};
use sotto_core::store::InMemStore;
use sotto_core::Result;
use support::*;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct Phone {
    party: Party<InMemStore>,
    controller: CallController,
    gathered: HashMap<CallId, LocalCandidates>,
    path: Option<MediaPath>,
    media: Option<MediaKeys>,
    sas: Option<String>,
    ended: Option<EndReason>,
}

impl Phone {
    fn new(party: Party<InMemStore>) -> Self {
        Self {
            party,
            controller: CallController::new(CallTimeouts::default()),
            gathered: HashMap::new(),
            path: None,
            media: None,
            sas: None,
            ended: None,
        }
    }
}

/// Which phone an action belongs to.
type Queue = VecDeque<(usize, Action)>;

/// Performs actions until none are left; connects run on both phones at
/// once, as they must.
async fn run(phones: &mut [Phone; 2], mut queue: Queue, rng: &mut StdRng) -> Result<()> {
    let config = PathConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), None);
    let mut connects = Vec::new();
    for _ in 0..200 {
        while let Some((at, action)) = queue.pop_front() {
            let other = 1 - at;
            match action {
                Action::Send { signal, .. } => {
                    let out = {
                        let from = &mut phones[at].party;
                        sotto_core::call::send_signal(
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
                Action::StartMedia { keys, .. } => phones[at].media = Some(keys),
                Action::StopMedia(_) => {
                    if let Some(path) = phones[at].path.take() {
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

#[tokio::test]
async fn two_controllers_set_up_a_call_and_carry_media() -> Result<()> {
    let mut rng = rng(91);
    let (alice, bob) = in_memory_pair(&mut rng)?;
    let mut phones = [Phone::new(alice), Phone::new(bob)];
    let peer = phones[0].party.peer.clone();
    let dial = phones[0].controller.dial(peer, now_ms(), &mut rng)?;
    run(
        &mut phones,
        dial.into_iter().map(|a| (0, a)).collect(),
        &mut rng,
    )
    .await?;
    assert!(matches!(
        phones[1].controller.state(),
        CallState::IncomingRinging { .. }
    ));
    let accept = phones[1].controller.accept(now_ms(), &mut rng)?;
    run(
        &mut phones,
        accept.into_iter().map(|a| (1, a)).collect(),
        &mut rng,
    )
    .await?;

    for phone in &phones {
        assert!(
            matches!(phone.controller.state(), CallState::Connected { .. }),
            "{:?}",
            phone.controller.state()
        );
    }
    let (a, b) = (&phones[0], &phones[1]);
    assert_eq!(a.sas, b.sas);
    assert!(a.sas.is_some());
    let (a_keys, b_keys) = (
        a.media.as_ref().expect("alice's media"),
        b.media.as_ref().expect("bob's media"),
    );
    assert!(same_key(&a_keys.send, &b_keys.receive));
    assert!(same_key(&a_keys.receive, &b_keys.send));
    let (a_path, b_path) = (
        a.path.as_ref().expect("alice's path"),
        b.path.as_ref().expect("bob's path"),
    );
    let mut buf = [0u8; 64];
    let payload = [0x80, 111, 0, 1];
    let n = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            a_path.send(&payload).await?;
            if let Ok(got) =
                tokio::time::timeout(Duration::from_millis(100), b_path.recv(&mut buf)).await
            {
                return got;
            }
        }
    })
    .await
    .expect("a datagram in time")?;
    assert_eq!(&buf[..n], &payload);

    // Alice hangs up: both end, and both close their paths.
    let hang_up = phones[0].controller.hang_up(now_ms(), &mut rng)?;
    run(
        &mut phones,
        hang_up.into_iter().map(|a| (0, a)).collect(),
        &mut rng,
    )
    .await?;
    assert_eq!(phones[0].ended, Some(EndReason::HungUpHere));
    assert_eq!(phones[1].ended, Some(EndReason::HungUpThere));
    assert!(phones[0].path.is_none() && phones[1].path.is_none());
    Ok(())
}
