//! Bad input gets a clear error, a documented exit code, and changes
//! nothing; errors carry no user data.

mod support;

use support::*;

#[test]
fn bad_input_and_wrong_keys_get_their_exit_codes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    let alice = Account::new(dir.path().join("alice"), Unlock::Passphrase("open sesame"));
    let bob = Account::new(
        dir.path().join("bob"),
        Unlock::KeyFile(dir.path().join("bob.key")),
    );

    // No account yet.
    let run = alice.run(&["contacts"])?;
    assert_eq!(run.code(), 3, "{}", run.stderr);
    assert!(run.stderr.contains("sotto init"), "says what to do next");

    // A malformed relay invite.
    let run = alice.run(&["init", "--relay", "sotto-relay:2/nonsense"])?;
    assert_eq!(run.code(), 7, "{}", run.stderr);
    assert!(!dir.path().join("alice").join("sotto.db").exists());

    let alice_invite = alice.init(&relay.invite)?;
    let bob_invite = bob.init(&relay.invite)?;

    // An invite naming the relay's address with another trust root: the
    // relay is not trusted, so no account is tied to it, and the error
    // says why.
    let root_end = relay.invite.len() - 1;
    let flipped = if relay.invite.ends_with('0') {
        "1"
    } else {
        "0"
    };
    let elsewhere = format!("{}{flipped}", &relay.invite[..root_end]);
    let carol = Account::new(dir.path().join("carol"), Unlock::Passphrase("x"));
    let run = carol.run(&["--json", "init", "--relay", &elsewhere])?;
    assert_ne!(run.code(), 0);
    assert!(
        run.stderr
            .contains("not vouched for by the invite's trust root"),
        "{}",
        run.stderr
    );
    // Nothing was made: the right invite still creates the account.
    let run = carol
        .run(&["--json", "init", "--relay", &relay.invite])?
        .ok()?;
    assert_eq!(run.json()?["registered"], true, "{}", run.stderr);

    // Twice.
    assert_eq!(alice.run(&["init", "--relay", &relay.invite])?.code(), 3);

    // Wrong passphrase, wrong key file, missing key file.
    let wrong = Account::new(alice.dir.clone(), Unlock::Passphrase("open barley"));
    let run = wrong.run(&["--json", "contacts"])?;
    assert_eq!(run.code(), 4);
    let error: serde_json::Value = serde_json::from_str(
        run.stderr
            .lines()
            .find(|l| l.starts_with('{'))
            .ok_or("a JSON error on stderr")?,
    )?;
    assert_eq!(error["error"]["kind"], "wrong_key");
    assert_eq!(error["error"]["code"], 4);
    assert!(!run.stderr.contains("open barley"));
    std::fs::write(dir.path().join("other.key"), "11".repeat(32))?;
    let other = Account::new(
        bob.dir.clone(),
        Unlock::KeyFile(dir.path().join("other.key")),
    );
    assert_eq!(other.run(&["contacts"])?.code(), 4);
    let missing = Account::new(
        bob.dir.clone(),
        Unlock::KeyFile(dir.path().join("missing.key")),
    );
    assert_eq!(missing.run(&["contacts"])?.code(), 4);

    // Malformed contact invites, with the reason.
    for (invite, reason) in [
        ("garbage", "does not start with sotto-contact:"),
        (relay.invite.as_str(), "relay invite"),
        (&bob_invite[..bob_invite.len() - 3], "check digits"),
        (alice_invite.as_str(), "own invite"),
    ] {
        let run = alice.run(&["contact", "add", invite, "--name", "X"])?;
        assert_eq!(run.code(), 7, "{}", run.stderr);
        assert!(run.stderr.contains(reason), "{}", run.stderr);
    }
    // A bad name.
    let run = alice.run(&["contact", "add", &bob_invite, "--name", "  "])?;
    assert_eq!(run.code(), 7);
    // Nothing was added by any of that.
    let contacts = alice.run(&["--json", "contacts"])?.ok()?.json()?;
    assert_eq!(contacts.as_array().map(Vec::len), Some(0));

    // Unknown contact; empty text.
    alice
        .run(&["contact", "add", &bob_invite, "--name", "Bob"])?
        .ok()?;
    let run = alice.run(&["send", "Carol", "hello"])?;
    assert_eq!(run.code(), 8);
    assert_eq!(alice.run(&["send", "Bob", "   "])?.code(), 7);
    // Nothing to trust.
    assert_eq!(alice.run(&["trust", "Bob"])?.code(), 7);

    // There is no way to put a secret on the command line.
    let run = alice.run(&["--passphrase", "x", "contacts"])?;
    assert_eq!(run.code(), 2);

    // Listening for a text that never comes ends at the timeout.
    let run = alice.run(&["listen", "--count", "1", "--timeout", "1"])?;
    assert_eq!(run.code(), 11);

    relay.stop()
}

#[test]
fn help_has_examples_for_every_command() -> TestResult {
    let run = sotto(&["--help"], &[], None)?.ok()?;
    for command in [
        "init", "invite", "contact", "contacts", "send", "listen", "chat", "verify", "relay",
        "bench", "demo",
    ] {
        assert!(run.stdout.contains(command), "--help lists {command}");
    }
    assert!(run.stdout.contains("Examples:"));
    for command in [["send", "--help"], ["listen", "--help"], ["init", "--help"]] {
        let run = sotto(&command, &[], None)?.ok()?;
        assert!(run.stdout.contains("Example"), "{command:?} has examples");
    }
    Ok(())
}

#[test]
fn bench_relay_runs_a_small_bounded_load() -> TestResult {
    let run = sotto(
        &[
            "--json",
            "bench",
            "relay",
            "--clients",
            "20",
            "--senders",
            "4",
            "--messages",
            "400",
            "--timeout",
            "60",
        ],
        &[],
        None,
    )?
    .ok()?;
    let report = run.json()?;
    assert_eq!(report["sent"], 400);
    assert_eq!(report["delivered"], 400);
    assert_eq!(report["clients"], 20);
    assert!(report["p99_ms"].as_f64().is_some());
    Ok(())
}
