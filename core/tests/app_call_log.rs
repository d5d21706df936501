//! The call log through the application facade: calls between accounts on
//! a relay in this process (see `app_calls.rs`), and the entries each side
//! keeps of them — direction, end reason, connection time, path — paged,
//! deleted, kept across a reopen, and left out for "keep no history".

mod support;

use sotto_core::app::{
    Account, CallAudio, CallDirection, CallEvent, CallLogEntry, Connection, RecordingSink, StoreKey,
};
use sotto_core::call::{CallState, EndReason, PathKind};
use sotto_core::store::{ConversationSettings, DatabaseKey, SottoStore};
use sotto_core::Result;
use sotto_voice::audio::BufferSource;
use support::app_relay::{account, befriend, call_event, start_relay};

fn connect(account: &Account) -> Result<Connection> {
    account.connect(&tokio::runtime::Handle::current())
}

fn silence() -> CallAudio {
    CallAudio::new(BufferSource::new(Vec::new()), RecordingSink::new())
}

fn incoming(event: &CallEvent) -> bool {
    matches!(event, CallEvent::State(CallState::IncomingRinging { .. }))
}

fn connected(event: &CallEvent) -> bool {
    matches!(event, CallEvent::State(CallState::Connected { .. }))
}

fn ended(event: &CallEvent) -> bool {
    matches!(event, CallEvent::Ended { .. })
}

fn reasons(log: &[CallLogEntry]) -> Vec<Option<EndReason>> {
    log.iter().map(|entry| entry.end_reason).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answered_call_is_logged_on_both_sides_and_survives_a_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let (bob_for_alice, alice_for_bob) = befriend(&alice, &bob)?;
    // "Always relay calls", saved before the connection starts.
    let mut settings = alice.settings();
    settings.relay_only_calls = true;
    alice.save_settings(settings)?;
    // Bob's conversation with Alice disappears after a minute: so does the
    // call's entry at Bob's.
    bob.with_store(|store| {
        store.save_conversation_settings(
            &alice_for_bob,
            &ConversationSettings {
                expire_timer_secs: 60,
                keep_no_history: false,
            },
        )
    })?;
    let (mut alice_conn, mut bob_conn) = (connect(&alice)?, connect(&bob)?);
    let (mut alice_seen, mut bob_seen) = (Vec::new(), Vec::new());

    let call_id = alice_conn.calls().place(&bob_for_alice, silence()).await?;
    call_event(&mut bob_conn, &mut bob_seen, incoming).await?;
    bob_conn.calls().answer(silence()).await?;
    call_event(&mut alice_conn, &mut alice_seen, connected).await?;
    call_event(&mut bob_conn, &mut bob_seen, connected).await?;
    alice_conn.calls().hang_up().await?;
    call_event(&mut alice_conn, &mut alice_seen, ended).await?;
    call_event(&mut bob_conn, &mut bob_seen, ended).await?;
    alice_conn.close().await;
    bob_conn.close().await;

    let check = |alice: &Account, bob: &Account| -> Result<()> {
        let alice_log = alice.call_log(10, None)?;
        let bob_log = bob.call_log(10, None)?;
        assert_eq!(alice_log.len(), 1, "{alice_log:?}");
        assert_eq!(bob_log.len(), 1, "{bob_log:?}");
        let (ours, theirs) = (&alice_log[0], &bob_log[0]);
        assert_eq!(ours.call_id, Some(call_id));
        assert_eq!(theirs.call_id, Some(call_id));
        assert_eq!(ours.contact, bob_for_alice);
        assert_eq!(theirs.contact, alice_for_bob);
        assert_eq!(ours.direction, CallDirection::Outgoing);
        assert_eq!(theirs.direction, CallDirection::Incoming);
        assert_eq!(ours.end_reason, Some(EndReason::HungUpHere));
        assert_eq!(theirs.end_reason, Some(EndReason::HungUpThere));
        assert_eq!(ours.expires_at_ms, None, "Alice set no timer");
        assert_eq!(theirs.expires_at_ms, Some(theirs.ended_at_ms + 60_000));
        for entry in [ours, theirs] {
            let at = entry.connected_at_ms.expect("the call connected");
            assert!(entry.started_at_ms <= at && at <= entry.ended_at_ms);
            assert!(!entry.is_missed() && !entry.while_busy);
            // Alice's saved setting made the call go through TURN.
            assert_eq!(entry.path, Some(PathKind::Relayed));
        }
        Ok(())
    };
    check(&alice, &bob)?;

    // Both reopened: the log and the setting are in the store.
    drop((alice, bob));
    let reopen = |name: &str, key: u8| {
        Account::open(
            &dir.path().join(name),
            &StoreKey::Raw(DatabaseKey::from_bytes([key; 32])),
        )
    };
    let (alice, bob) = (reopen("alice", 1)?, reopen("bob", 2)?);
    assert!(alice.settings().relay_only_calls);
    assert!(!bob.settings().relay_only_calls);
    check(&alice, &bob)?;

    // Deleting one entry, then clearing.
    let entry = alice.call_log(1, None)?.remove(0);
    assert!(alice.delete_call_log_entry(entry.id)?);
    assert!(!alice.delete_call_log_entry(entry.id)?, "already gone");
    assert!(alice.call_log(10, None)?.is_empty());
    // Bob's entry goes when its timer runs out, not before.
    let expires = bob.call_log(1, None)?[0].expires_at_ms.unwrap_or(0);
    let at = |ms: u64| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    assert_eq!(bob.delete_expired_calls(at(expires - 1))?, 0);
    assert_eq!(bob.delete_expired_calls(at(expires))?, 1);
    assert!(bob.call_log(10, None)?.is_empty());
    assert_eq!(bob.clear_call_log(None)?, 0);
    relay.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declined_busy_and_missed_calls_are_logged_and_paged_newest_first() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = start_relay(&dir.path().join("relay")).await?;
    let alice = account(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = account(dir.path(), "bob", 2, &relay.invite).await?;
    let carol = account(dir.path(), "carol", 3, &relay.invite).await?;
    let (bob_for_alice, alice_for_bob) = befriend(&alice, &bob)?;
    let (bob_for_carol, carol_for_bob) = befriend(&carol, &bob)?;
    let mut alice_conn = connect(&alice)?;
    let mut bob_conn = connect(&bob)?;
    let mut carol_conn = connect(&carol)?;
    let (mut alice_seen, mut bob_seen, mut carol_seen) = (Vec::new(), Vec::new(), Vec::new());

    // Alice calls; Bob declines.
    alice_conn.calls().place(&bob_for_alice, silence()).await?;
    call_event(&mut bob_conn, &mut bob_seen, incoming).await?;
    bob_conn.calls().reject().await?;
    call_event(&mut bob_conn, &mut bob_seen, ended).await?;
    call_event(&mut alice_conn, &mut alice_seen, ended).await?;

    // Alice calls again; Carol's call meanwhile is answered busy; then
    // Alice gives up before Bob answers.
    alice_conn.calls().place(&bob_for_alice, silence()).await?;
    call_event(&mut bob_conn, &mut bob_seen, incoming).await?;
    carol_conn.calls().place(&bob_for_carol, silence()).await?;
    call_event(&mut carol_conn, &mut carol_seen, ended).await?;
    call_event(&mut bob_conn, &mut bob_seen, |e| {
        matches!(e, CallEvent::Missed { .. })
    })
    .await?;
    alice_conn.calls().hang_up().await?;
    call_event(&mut bob_conn, &mut bob_seen, ended).await?;
    call_event(&mut alice_conn, &mut alice_seen, ended).await?;

    // Bob: Carol's call not rung (busy), Alice's missed, Alice's declined.
    let bob_log = bob.call_log(10, None)?;
    assert_eq!(
        reasons(&bob_log),
        [None, Some(EndReason::Missed), Some(EndReason::DeclinedHere)]
    );
    assert_eq!(bob_log[0].contact, carol_for_bob);
    assert!(bob_log[0].while_busy && bob_log[0].is_missed());
    assert_eq!(bob_log[0].call_id, None);
    assert!(bob_log[1].is_missed() && !bob_log[1].while_busy);
    assert!(!bob_log[2].is_missed(), "a declined call is not missed");
    for entry in &bob_log {
        assert_eq!(entry.direction, CallDirection::Incoming);
        assert_eq!(entry.connected_at_ms, None);
        assert_eq!(entry.duration_ms(), 0);
    }
    assert_eq!(bob_log[1].contact, alice_for_bob);
    assert_eq!(bob_log[2].contact, alice_for_bob);

    // Alice: the call she cancelled, the call Bob declined.
    let alice_log = alice.call_log(10, None)?;
    assert_eq!(
        reasons(&alice_log),
        [Some(EndReason::HungUpHere), Some(EndReason::DeclinedThere)]
    );
    assert!(alice_log
        .iter()
        .all(|e| e.direction == CallDirection::Outgoing && !e.is_missed()));
    // Carol: busy.
    let carol_log = carol.call_log(10, None)?;
    assert_eq!(reasons(&carol_log), [Some(EndReason::BusyThere)]);
    assert_eq!(carol_log[0].direction, CallDirection::Outgoing);

    // Pages of two: the next page starts before the last entry shown.
    let first = bob.call_log(2, None)?;
    assert_eq!(first, bob_log[..2]);
    let second = bob.call_log(2, Some(first[1].started_at_ms))?;
    assert_eq!(second, bob_log[2..]);

    // Keep no history for Carol: her entries go, her next call is not kept.
    bob.set_keep_no_history(&carol_for_bob, true)?;
    assert_eq!(bob.call_log(10, None)?, bob_log[1..]);
    carol_conn.calls().place(&bob_for_carol, silence()).await?;
    call_event(&mut bob_conn, &mut bob_seen, incoming).await?;
    bob_conn.calls().reject().await?;
    call_event(&mut bob_conn, &mut bob_seen, ended).await?;
    call_event(&mut carol_conn, &mut carol_seen, ended).await?;
    assert_eq!(bob.call_log(10, None)?, bob_log[1..]);
    assert_eq!(carol.call_log(10, None)?.len(), 2, "Carol keeps hers");

    for connection in [alice_conn, bob_conn, carol_conn] {
        connection.close().await;
    }
    relay.stop().await;
    Ok(())
}
