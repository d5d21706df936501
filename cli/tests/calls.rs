//! `sotto call` and `sotto answer` end to end: two `sotto` processes call
//! each other through a `sotto relay serve` process on loopback, talking
//! from WAV files and recording what they hear.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// Two accounts on a fresh relay that know each other as "Alice" and "Bob".
fn two_accounts(dir: &Path, relay: &Relay) -> TestResult<(Account, Account)> {
    let alice = Account::new(dir.join("alice"), Unlock::Passphrase("alice's words"));
    let bob = Account::new(dir.join("bob"), Unlock::Passphrase("bob's words"));
    let alice_invite = alice.init(&relay.invite)?;
    let bob_invite = bob.init(&relay.invite)?;
    alice
        .run(&["contact", "add", &bob_invite, "--name", "Bob"])?
        .ok()?;
    bob.run(&["contact", "add", &alice_invite, "--name", "Alice"])?
        .ok()?;
    Ok((alice, bob))
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[test]
fn a_call_carries_speech_both_ways_and_both_see_the_same_words() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    let (alice, bob) = two_accounts(dir.path(), &relay)?;
    // Alice talks longer: her input ending is what hangs the call up.
    let alice_says = speech_wav(
        dir.path(),
        "alice.wav",
        "Hello Bob. This call is encrypted end to end. Read me the two words on your screen.",
        3.0,
    )?;
    let bob_says = speech_wav(dir.path(), "bob.wav", "Loud and clear, Alice.", 1.5)?;
    let (alice_heard, bob_heard) = (
        dir.path().join("alice-heard.wav"),
        dir.path().join("bob-heard.wav"),
    );

    let bob_args = [
        "--json",
        "answer",
        "--timeout",
        "60",
        "--stay",
        "--input",
        path(&bob_says)?,
        "--output",
        path(&bob_heard)?,
    ]
    .map(str::to_owned);
    // The same account, for after the thread took `bob`.
    let bob_again = Account::new(bob.dir.clone(), Unlock::Passphrase("bob's words"));
    let answering = std::thread::spawn(move || {
        let args: Vec<&str> = bob_args.iter().map(String::as_str).collect();
        bob.run(&args).map_err(|e| e.to_string())
    });
    let caller = alice.run(&[
        "--json",
        "call",
        "Bob",
        "--input",
        path(&alice_says)?,
        "--output",
        path(&alice_heard)?,
    ])?;
    let answerer = answering.join().map_err(|_| "answer thread panicked")??;
    let caller = caller.ok()?.json_lines()?;
    let answerer = answerer.ok()?.json_lines()?;

    let words = |events: &[Value]| -> TestResult<Value> {
        Ok(of_type(events, "sas").first().ok_or("no sas")?["words"].clone())
    };
    assert_eq!(words(&caller)?, words(&answerer)?, "the same two words");
    let ended = |events: &[Value]| -> TestResult<Value> {
        Ok((*of_type(events, "ended").first().ok_or("no end")?).clone())
    };
    let (caller_end, answerer_end) = (ended(&caller)?, ended(&answerer)?);
    assert_eq!(caller_end["reason"], "hung_up_here");
    assert_eq!(answerer_end["reason"], "hung_up_there");
    assert_eq!(of_type(&caller, "media")[0]["path"], "direct");
    assert!(answerer_end["media"]["packets_received"].as_u64() > Some(0));
    assert_eq!(answerer_end["media"]["packets_rejected"], 0);

    let by_bob = heard_correlation(&alice_says, &bob_heard)?;
    let by_alice = heard_correlation(&bob_says, &alice_heard)?;
    eprintln!("correlation alice → bob {by_bob:.3}, bob → alice {by_alice:.3}");
    assert!(by_bob > 0.6, "Bob heard Alice: {by_bob}");
    assert!(by_alice > 0.6, "Alice heard Bob: {by_alice}");

    // Both call logs hold the call, connected, on the direct path.
    for (account, direction, reason, name) in [
        (&alice, "outgoing", "hung_up_here", "Bob"),
        (&bob_again, "incoming", "hung_up_there", "Alice"),
    ] {
        let log = account.run(&["--json", "calls"])?.ok()?.json()?;
        let calls = log["calls"].as_array().ok_or("calls")?;
        assert_eq!(calls.len(), 1, "{log}");
        let call = &calls[0];
        assert_eq!(call["direction"], direction);
        assert_eq!(call["end_reason"], reason);
        assert_eq!(call["contact"]["name"], name);
        assert_eq!(call["path"], "direct");
        assert_eq!(call["missed"], false);
        assert!(call["connected_at_ms"].as_u64().is_some(), "{call}");
        assert_eq!(log["next_before"], Value::Null);
    }
    relay.stop()
}

#[test]
fn a_relay_only_call_goes_through_the_relays_turn_server() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start_with_turn(&dir.path().join("relay"))?;
    let (alice, bob) = two_accounts(dir.path(), &relay)?;
    let says = speech_wav(dir.path(), "says.wav", "Through the relay, please.", 1.5)?;
    let heard = dir.path().join("heard.wav");
    let (input, output) = (path(&says)?.to_owned(), path(&heard)?.to_owned());
    let answering = std::thread::spawn(move || {
        bob.run(&[
            "--json",
            "answer",
            "--timeout",
            "60",
            "--stay",
            "--input",
            &input,
            "--output",
            &output,
        ])
        .map_err(|e| e.to_string())
    });
    let caller = alice.run(&[
        "--json",
        "call",
        "Bob",
        "--relay-only",
        "--input",
        path(&says)?,
        "--output",
        "/dev/null",
    ])?;
    let answerer = answering.join().map_err(|_| "answer thread panicked")??;
    let caller = caller.ok()?.json_lines()?;
    let answerer = answerer.ok()?.json_lines()?;
    assert_eq!(of_type(&caller, "media")[0]["path"], "relayed");
    assert_eq!(of_type(&answerer, "media")[0]["path"], "relayed");
    let by_bob = heard_correlation(&says, &heard)?;
    assert!(by_bob > 0.6, "Bob heard Alice through TURN: {by_bob}");
    relay.stop()
}

#[test]
fn a_declined_call_exits_12_for_the_caller() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    let (alice, bob) = two_accounts(dir.path(), &relay)?;
    let silence = speech_wav(dir.path(), "hello.wav", "Hello?", 1.0)?;
    let input = path(&silence)?.to_owned();
    // The same account, for after the thread took `bob`.
    let bob_again = Account::new(bob.dir.clone(), Unlock::Passphrase("bob's words"));
    let declining = std::thread::spawn(move || {
        bob.run(&[
            "--json",
            "answer",
            "--timeout",
            "60",
            "--decline",
            "--input",
            &input,
            "--output",
            "/dev/null",
        ])
        .map_err(|e| e.to_string())
    });
    let caller = alice.run(&[
        "--json",
        "call",
        "Bob",
        "--input",
        path(&silence)?,
        "--output",
        "/dev/null",
    ])?;
    let answerer = declining.join().map_err(|_| "answer thread panicked")??;
    assert_eq!(
        answerer.code(),
        0,
        "declining as asked succeeds: {}",
        answerer.stderr
    );
    assert_eq!(caller.code(), 12, "{}", caller.stderr);
    let error: Value = serde_json::from_str(caller.stderr.lines().last().ok_or("no error")?)?;
    assert_eq!(error["error"]["kind"], "declined");

    // Both logs hold the declined call; a page of one has a next page.
    let log = alice
        .run(&["--json", "calls", "--limit", "1"])?
        .ok()?
        .json()?;
    let call = &log["calls"][0];
    assert_eq!(call["direction"], "outgoing");
    assert_eq!(call["end_reason"], "declined_there");
    assert_eq!(call["connected_at_ms"], Value::Null);
    assert_eq!(call["duration_ms"], 0);
    assert_eq!(log["next_before"], call["started_at_ms"]);
    let next = alice
        .run(&[
            "--json",
            "calls",
            "--before",
            &log["next_before"].to_string(),
        ])?
        .ok()?
        .json()?;
    assert_eq!(next["calls"].as_array().map(Vec::len), Some(0));
    let log = bob_again.run(&["--json", "calls"])?.ok()?.json()?;
    assert_eq!(log["calls"][0]["direction"], "incoming");
    assert_eq!(log["calls"][0]["end_reason"], "declined_here");
    assert_eq!(log["calls"][0]["missed"], false);
    let text = bob_again.run(&["calls"])?.ok()?;
    assert!(
        text.stdout.contains("incoming") && text.stdout.contains("Alice"),
        "{}",
        text.stdout
    );
    relay.stop()
}

fn path(p: &Path) -> TestResult<&str> {
    Ok(p.to_str().ok_or("path")?)
}

#[test]
fn bench_call_times_set_up_through_a_relay() -> TestResult {
    let run = sotto(&["--json", "bench", "call", "--calls", "2"], &[], None)?.ok()?;
    let report = run.json()?;
    assert_eq!(report["calls"], 2);
    assert_eq!(report["path"], "direct");
    let rows = report["ms_from_dialling"].as_array().ok_or("rows")?;
    assert_eq!(rows.len(), 4);
    for row in rows {
        let (p50, max) = (row["p50"].as_f64(), row["max"].as_f64());
        assert!(p50 > Some(0.0) && p50 <= max, "{row}");
    }
    Ok(())
}

/// Needs the `device` feature (on by default): without it `sotto call`
/// refuses to run without --input at all.
#[cfg(feature = "device")]
#[test]
fn a_microphone_that_cannot_open_ends_the_call_with_a_clear_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    let (alice, bob) = two_accounts(dir.path(), &relay)?;
    let hello = speech_wav(dir.path(), "hello.wav", "Hello?", 1.0)?;
    let input = path(&hello)?.to_owned();
    let answering = std::thread::spawn(move || {
        bob.run(&[
            "--json",
            "answer",
            "--timeout",
            "60",
            "--stay",
            "--input",
            &input,
            "--output",
            "/dev/null",
        ])
        .map_err(|e| e.to_string())
    });
    // No --input: the microphone of a device that does not exist.
    let caller = alice.run(&[
        "--json",
        "call",
        "Bob",
        "--device",
        "alsa:sotto_no_such_device",
        "--output",
        "/dev/null",
    ])?;
    let _ = answering.join().map_err(|_| "answer thread panicked")??;
    assert_eq!(caller.code(), 12, "{}", caller.stderr);
    let error: Value = serde_json::from_str(caller.stderr.lines().last().ok_or("no error")?)?;
    assert_eq!(error["error"]["kind"], "audio_device", "{}", caller.stderr);
    relay.stop()
}
