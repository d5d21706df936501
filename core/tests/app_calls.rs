//! Calls through the application facade: `app::Account`s connected to a
//! real relay in this process (TLS on loopback, with its embedded TURN
//! server), their connections' call shells performing everything — signals
//! sealed through the relay, candidates with TURN credentials from the
//! relay, connectivity checks, and the voice pipeline fed from buffers.

mod support;

use std::time::Duration;

use sotto_core::app::{Account, CallAudio, CallEvent, Connection, RecordingSink};
use sotto_core::call::{CallState, EndReason, PathKind, PathPolicy, Sas};
use sotto_core::{Error, Result};
use sotto_voice::audio::BufferSource;
use support::app_relay::{account, befriend, call_event, start_relay, DEADLINE};
use support::speech::{segmental_correlation, speech};

/// Lags searched when comparing what was said with what was heard
/// (0.5 s at 48 kHz): set-up and jitter-buffer delay.
const MAX_LAG: usize = 24_000;

fn connect(account: &Account) -> Result<Connection> {
    account.connect(&tokio::runtime::Handle::current())
}

fn talking(says: &[i16], heard: &RecordingSink) -> CallAudio {
    CallAudio::new(BufferSource::new(says.to_vec()), heard.clone())
}

/// Waits (bounded) until `sink` holds `samples` samples: the speech had
/// time to play out.
async fn until_heard(sink: &RecordingSink, samples: usize) -> Result<()> {
    let wait = async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        while sink.len() < samples {
            poll.tick().await;
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .map_err(|_| Error::RelayTimeout)
}

fn is_state(event: &CallEvent, wanted: fn(&CallState) -> bool) -> bool {
    matches!(event, CallEvent::State(state) if wanted(state))
}

fn ended_reason(event: &CallEvent) -> Option<EndReason> {
    match event {
        CallEvent::Ended { reason, .. } => Some(*reason),
        _ => None,
    }
}

fn sas_of(seen: &[CallEvent]) -> Option<Sas> {
    seen.iter().find_map(|event| match event {
        CallEvent::Sas { sas, .. } => Some(sas.clone()),
        _ => None,
    })
}

/// One call, `policy` on the caller's side: both hear each other, both see
/// the same authentication string, the caller hangs up and both end.
async fn speech_both_ways(policy: PathPolicy, expected_path: PathKind) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let (bob_for_alice, _) = befriend(&alice, &bob)?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice)?, connect(&bob)?);

    let alice_says = speech(
        "Can you hear me, Bob? This call is encrypted.",
        dir.path(),
        1,
    );
    let bob_says = speech(
        "Loud and clear, Alice. Read me the two words.",
        dir.path(),
        2,
    );
    let (heard_by_alice, heard_by_bob) = (RecordingSink::new(), RecordingSink::new());

    alice_conn.calls().set_path_policy(policy)?;
    let call_id = alice_conn
        .calls()
        .place(&bob_for_alice, talking(&alice_says, &heard_by_alice))
        .await?;
    let (mut alice_seen, mut bob_seen) = (Vec::new(), Vec::new());
    let ringing = call_event(&mut bob_conn, &mut bob_seen, |e| {
        is_state(e, |s| matches!(s, CallState::IncomingRinging { .. }))
    })
    .await?;
    let CallEvent::State(CallState::IncomingRinging { call, .. }) = ringing else {
        unreachable!("filtered above");
    };
    assert_eq!(call.call_id, call_id, "Bob rings with Alice's call");
    bob_conn
        .calls()
        .answer(talking(&bob_says, &heard_by_bob))
        .await?;

    let connected = |e: &CallEvent| is_state(e, |s| matches!(s, CallState::Connected { .. }));
    call_event(&mut alice_conn, &mut alice_seen, connected).await?;
    call_event(&mut bob_conn, &mut bob_seen, connected).await?;
    for seen in [&alice_seen, &bob_seen] {
        let path = seen.iter().find_map(|e| match e {
            CallEvent::MediaStarted { path, .. } => Some(*path),
            _ => None,
        });
        assert_eq!(
            path,
            Some(expected_path),
            "media started on the expected path"
        );
    }
    let alice_sas = sas_of(&alice_seen).ok_or(Error::NoSuchCall)?;
    let bob_sas = sas_of(&bob_seen).ok_or(Error::NoSuchCall)?;
    assert_eq!(alice_sas, bob_sas, "both phones show the same two words");
    let status = alice_conn.calls().status().await?;
    assert_eq!(status.sas, Some(alice_sas));
    assert_eq!(status.path, Some(expected_path));

    // Let each side's speech play out, plus a second for the pipeline.
    let enough = alice_says.len().max(bob_says.len()) + 48_000;
    until_heard(&heard_by_alice, enough).await?;
    until_heard(&heard_by_bob, enough).await?;

    alice_conn.calls().hang_up().await?;
    let is_ended = |e: &CallEvent| ended_reason(e).is_some();
    let alice_end = call_event(&mut alice_conn, &mut alice_seen, is_ended).await?;
    let bob_end = call_event(&mut bob_conn, &mut bob_seen, is_ended).await?;
    assert_eq!(ended_reason(&alice_end), Some(EndReason::HungUpHere));
    assert_eq!(ended_reason(&bob_end), Some(EndReason::HungUpThere));
    let CallEvent::Ended {
        media: Some(media), ..
    } = &bob_end
    else {
        panic!("Bob's call ended without media counters: {bob_end:?}");
    };
    assert!(media.stats.packets_received > 0);
    assert_eq!(
        media.stats.packets_rejected, 0,
        "no forged or replayed packets"
    );

    let by_bob = segmental_correlation(&alice_says, &heard_by_bob.samples(), MAX_LAG);
    let by_alice = segmental_correlation(&bob_says, &heard_by_alice.samples(), MAX_LAG);
    eprintln!("{expected_path:?}: correlation alice → bob {by_bob:.3}, bob → alice {by_alice:.3}");
    assert!(by_bob > 0.6, "Bob heard Alice: correlation {by_bob}");
    assert!(by_alice > 0.6, "Alice heard Bob: correlation {by_alice}");
    // A call that is over cannot be hung up again.
    assert!(matches!(
        alice_conn.calls().hang_up().await,
        Err(Error::NoSuchCall)
    ));

    alice_conn.close().await;
    bob_conn.close().await;
    relay.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_direct_call_carries_speech_both_ways_and_hangs_up_on_both_sides() -> Result<()> {
    speech_both_ways(PathPolicy::All, PathKind::Direct).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_only_call_goes_through_the_relays_turn_server() -> Result<()> {
    speech_both_ways(PathPolicy::RelayOnly, PathKind::Relayed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declined_call_ends_on_both_sides_and_a_second_caller_gets_busy() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let carol = account(dir.path(), "carol", 3, &relay.invite).await?;
    let (bob_for_alice, _) = befriend(&alice, &bob)?;
    let (bob_for_carol, _) = befriend(&carol, &bob)?;
    let mut alice_conn = connect(&alice)?;
    let mut bob_conn = connect(&bob)?;
    let mut carol_conn = connect(&carol)?;
    let silence = || CallAudio::new(BufferSource::new(Vec::new()), RecordingSink::new());
    let (mut alice_seen, mut bob_seen, mut carol_seen) = (Vec::new(), Vec::new(), Vec::new());
    let incoming = |e: &CallEvent| is_state(e, |s| matches!(s, CallState::IncomingRinging { .. }));
    let is_ended = |e: &CallEvent| ended_reason(e).is_some();

    // Nothing rings yet: nothing to answer or decline.
    assert!(matches!(
        bob_conn.calls().answer(silence()).await,
        Err(Error::NoSuchCall)
    ));
    assert!(matches!(
        bob_conn.calls().reject().await,
        Err(Error::NoSuchCall)
    ));

    // Alice calls; Bob declines.
    alice_conn.calls().place(&bob_for_alice, silence()).await?;
    call_event(&mut bob_conn, &mut bob_seen, incoming).await?;
    bob_conn.calls().reject().await?;
    let bob_end = call_event(&mut bob_conn, &mut bob_seen, is_ended).await?;
    let alice_end = call_event(&mut alice_conn, &mut alice_seen, is_ended).await?;
    assert_eq!(ended_reason(&bob_end), Some(EndReason::DeclinedHere));
    assert_eq!(ended_reason(&alice_end), Some(EndReason::DeclinedThere));

    // Alice calls again and Bob's phone rings; Carol's call meanwhile is
    // answered busy, and Bob hears of it as missed.
    alice_conn.calls().place(&bob_for_alice, silence()).await?;
    call_event(&mut bob_conn, &mut bob_seen, incoming).await?;
    assert!(matches!(
        alice_conn.calls().place(&bob_for_alice, silence()).await,
        Err(Error::CallInProgress)
    ));
    carol_conn.calls().place(&bob_for_carol, silence()).await?;
    let carol_end = call_event(&mut carol_conn, &mut carol_seen, is_ended).await?;
    assert_eq!(ended_reason(&carol_end), Some(EndReason::BusyThere));
    let missed = call_event(&mut bob_conn, &mut bob_seen, |e| {
        matches!(e, CallEvent::Missed { .. })
    })
    .await?;
    assert!(matches!(
        missed,
        CallEvent::Missed {
            while_busy: true,
            ..
        }
    ));
    // Alice's call still rings at Bob's: Alice gives up.
    let status = bob_conn.calls().status().await?;
    assert!(matches!(status.state, CallState::IncomingRinging { .. }));
    alice_conn.calls().hang_up().await?;
    let bob_end = call_event(&mut bob_conn, &mut bob_seen, is_ended).await?;
    assert_eq!(ended_reason(&bob_end), Some(EndReason::Missed));

    for connection in [alice_conn, bob_conn, carol_conn] {
        connection.close().await;
    }
    relay.stop().await;
    Ok(())
}

fn rms(samples: &[i16]) -> f64 {
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    (energy / samples.len().max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mute_and_speaker_gain_reach_the_running_call() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let (bob_for_alice, _) = befriend(&alice, &bob)?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice)?, connect(&bob)?);
    // Both talk all the time: a steady speech-like signal.
    let talk = sotto_voice::audio::synth::SpeechLikeSource::generate(30.0, 5);
    let (heard_by_alice, heard_by_bob) = (RecordingSink::new(), RecordingSink::new());
    let (mut alice_seen, mut bob_seen) = (Vec::new(), Vec::new());
    alice_conn
        .calls()
        .place(&bob_for_alice, talking(&talk, &heard_by_alice))
        .await?;
    call_event(&mut bob_conn, &mut bob_seen, |e| {
        is_state(e, |s| matches!(s, CallState::IncomingRinging { .. }))
    })
    .await?;
    bob_conn
        .calls()
        .answer(talking(&talk, &heard_by_bob))
        .await?;
    let connected = |e: &CallEvent| is_state(e, |s| matches!(s, CallState::Connected { .. }));
    call_event(&mut alice_conn, &mut alice_seen, connected).await?;
    call_event(&mut bob_conn, &mut bob_seen, connected).await?;

    // A second of the call as it is: both hear each other.
    until_heard(&heard_by_alice, 96_000).await?;
    until_heard(&heard_by_bob, 96_000).await?;
    let tail = |sink: &RecordingSink| {
        let samples = sink.samples();
        rms(&samples[samples.len() - 24_000..])
    };
    let (before_alice, before_bob) = (tail(&heard_by_alice), tail(&heard_by_bob));
    assert!(
        before_alice > 500.0 && before_bob > 500.0,
        "{before_alice} {before_bob}"
    );

    // Bob mutes his microphone; Alice turns her speaker off.
    bob_conn.calls().set_muted(true)?;
    alice_conn.calls().set_speaker_gain(0.0)?;
    let (alice_at, bob_at) = (heard_by_alice.len(), heard_by_bob.len());
    // A second later (past the jitter buffer), Alice hears nothing and Bob
    // still hears Alice.
    until_heard(&heard_by_alice, alice_at + 96_000).await?;
    until_heard(&heard_by_bob, bob_at + 96_000).await?;
    assert!(tail(&heard_by_alice) < 1.0, "Alice's speaker is off");
    assert!(tail(&heard_by_bob) > 500.0, "Bob still hears Alice");
    let bob_status = bob_conn.calls().status().await?;
    assert!(bob_status.muted);
    let alice_status = alice_conn.calls().status().await?;
    assert_eq!(alice_status.speaker_gain, 0.0);

    // Alice's speaker back on: what she hears now is Bob's muted microphone.
    alice_conn.calls().set_speaker_gain(1.0)?;
    let alice_at = heard_by_alice.len();
    until_heard(&heard_by_alice, alice_at + 96_000).await?;
    assert!(
        tail(&heard_by_alice) < before_alice / 10.0,
        "Bob is muted: {}",
        tail(&heard_by_alice)
    );
    let media = alice_conn
        .calls()
        .status()
        .await?
        .media
        .ok_or(Error::NoSuchCall)?;
    assert!(
        media.stats.packets_received > 0,
        "media still flows from Bob"
    );

    bob_conn.calls().hang_up().await?;
    let is_ended = |e: &CallEvent| ended_reason(e).is_some();
    let alice_end = call_event(&mut alice_conn, &mut alice_seen, is_ended).await?;
    assert_eq!(ended_reason(&alice_end), Some(EndReason::HungUpThere));
    alice_conn.close().await;
    bob_conn.close().await;
    relay.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audio_that_cannot_open_ends_the_call_on_both_sides() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let (bob_for_alice, _) = befriend(&alice, &bob)?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice)?, connect(&bob)?);
    let (mut alice_seen, mut bob_seen) = (Vec::new(), Vec::new());
    alice_conn
        .calls()
        .place(&bob_for_alice, talking(&[], &RecordingSink::new()))
        .await?;
    call_event(&mut bob_conn, &mut bob_seen, |e| {
        is_state(e, |s| matches!(s, CallState::IncomingRinging { .. }))
    })
    .await?;
    // Bob's microphone cannot be opened (here: an opener that fails, as
    // a missing device does).
    let broken = CallAudio::opened_by(|| Err(Error::NoMediaPath));
    bob_conn.calls().answer(broken).await?;
    let is_ended = |e: &CallEvent| ended_reason(e).is_some();
    let bob_end = call_event(&mut bob_conn, &mut bob_seen, is_ended).await?;
    let alice_end = call_event(&mut alice_conn, &mut alice_seen, is_ended).await?;
    assert_eq!(ended_reason(&bob_end), Some(EndReason::MediaFailed));
    assert_eq!(ended_reason(&alice_end), Some(EndReason::HungUpThere));
    alice_conn.close().await;
    bob_conn.close().await;
    relay.stop().await;
    Ok(())
}

/// The bindings will hold `Calls` on other threads and run its futures on
/// a multi-threaded runtime.
#[tokio::test]
async fn calls_and_their_futures_can_cross_threads() -> Result<()> {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let connection = connect(&alice)?;
    let calls = connection.calls();
    send_sync(&calls);
    let contact = sotto_core::store::ContactId::from_string("00".into());
    let silence = CallAudio::new(BufferSource::new(Vec::new()), RecordingSink::new());
    send(&silence);
    send(&calls.place(&contact, silence));
    send(&calls.status());
    send(&calls.hang_up());
    connection.close().await;
    relay.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_both_dial_at_once_one_call_connects_on_both_sides() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let (bob_for_alice, alice_for_bob) = befriend(&alice, &bob)?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice)?, connect(&bob)?);
    let silence = || CallAudio::new(BufferSource::new(Vec::new()), RecordingSink::new());
    // A session each way first, so that neither offer waits on a bundle.
    alice.send_text(&bob_for_alice, "call me").await?;
    bob.send_text(&alice_for_bob, "calling").await?;
    let (alice_calls, bob_calls) = (alice_conn.calls(), bob_conn.calls());
    let (alice_id, bob_id) = tokio::join!(
        alice_calls.place(&bob_for_alice, silence()),
        bob_calls.place(&alice_for_bob, silence()),
    );
    let survivor = alice_id?.min(bob_id?);
    let (mut alice_seen, mut bob_seen) = (Vec::new(), Vec::new());
    let connected = |e: &CallEvent| is_state(e, |s| matches!(s, CallState::Connected { .. }));
    let alice_connected = call_event(&mut alice_conn, &mut alice_seen, connected).await?;
    let bob_connected = call_event(&mut bob_conn, &mut bob_seen, connected).await?;
    for event in [alice_connected, bob_connected] {
        let CallEvent::State(CallState::Connected { call, .. }) = event else {
            unreachable!("filtered above");
        };
        assert_eq!(
            call.call_id, survivor,
            "the smaller call id survives on both"
        );
    }
    assert_eq!(sas_of(&alice_seen), sas_of(&bob_seen));
    assert!(sas_of(&alice_seen).is_some());
    alice_conn.calls().hang_up().await?;
    let is_ended = |e: &CallEvent| ended_reason(e).is_some();
    let bob_end = call_event(&mut bob_conn, &mut bob_seen, is_ended).await?;
    assert_eq!(ended_reason(&bob_end), Some(EndReason::HungUpThere));
    alice_conn.close().await;
    bob_conn.close().await;
    relay.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_is_placed_or_answered_through_a_proxy() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let (bob_for_alice, _) = befriend(&alice, &bob)?;
    // Behind Tor, a call's UDP media would show this device's address.
    let mut settings = alice.settings();
    settings.socks5 = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9050)));
    alice.save_settings(settings)?;
    let alice_conn = connect(&alice)?;
    let talk = sotto_voice::audio::synth::SpeechLikeSource::generate(1.0, 5);
    let placed = alice_conn
        .calls()
        .place(&bob_for_alice, talking(&talk, &RecordingSink::new()))
        .await;
    assert!(
        matches!(placed, Err(sotto_core::Error::CallsThroughProxy)),
        "got {placed:?}"
    );
    let answered = alice_conn
        .calls()
        .answer(talking(&talk, &RecordingSink::new()))
        .await;
    assert!(
        matches!(answered, Err(sotto_core::Error::CallsThroughProxy)),
        "got {answered:?}"
    );
    alice_conn.close().await;
    Ok(())
}
