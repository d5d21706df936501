//! Two accounts talk through `sotto relay serve`, every step a separate
//! `sotto` process: init, invite, contact add, send, listen (bounded with
//! --count and --timeout), chat, receipts, verify. Loopback only.

mod support;

use serde_json::Value;
use support::*;

fn texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "message")
        .filter_map(|e| e["message"]["text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn two_accounts_talk_both_ways_with_receipts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    // Alice unlocks with a passphrase from the environment, Bob with a key
    // file that `init` creates.
    let alice = Account::new(
        dir.path().join("alice"),
        Unlock::Passphrase("alice's words"),
    );
    let bob = Account::new(
        dir.path().join("bob"),
        Unlock::KeyFile(dir.path().join("bob.key")),
    );
    let alice_invite = alice.init(&relay.invite)?;
    let bob_invite = bob.init(&relay.invite)?;
    assert!(
        dir.path().join("bob.key").is_file(),
        "init made the key file"
    );

    // `invite` prints the same invite again (and a QR code in text mode).
    let shown = alice.run(&["invite"])?.ok()?;
    assert!(shown.stdout.starts_with(&alice_invite));
    assert!(shown.stdout.contains('█'), "a QR code is drawn");

    alice
        .run(&["contact", "add", &bob_invite, "--name", "Bob"])?
        .ok()?;
    // From stdin, wrapped across lines as a mail client might.
    let wrapped = format!("{}\n{}\n", &alice_invite[..50], &alice_invite[50..]);
    bob.run_with_stdin(&["contact", "add", "-", "--name", "Alice"], Some(&wrapped))?
        .ok()?;

    // Alice → Bob.
    let sent = alice
        .run(&["--json", "send", "Bob", "Hello Bob, over the relay"])?
        .ok()?
        .json()?;
    assert_eq!(sent["state"], "sent");
    let hello_id = sent["message_id"].as_str().ok_or("message id")?.to_owned();
    let heard = bob
        .run(&["--json", "listen", "--count", "1", "--timeout", "30"])?
        .ok()?
        .json_lines()?;
    assert_eq!(texts(&heard), ["Hello Bob, over the relay"]);
    let message = heard
        .iter()
        .find(|e| e["type"] == "message")
        .ok_or("no message event")?;
    assert_eq!(message["contact"]["name"], "Alice");
    assert_eq!(message["new_contact"], false);
    assert_eq!(message["message"]["id"].as_str(), Some(hello_id.as_str()));

    // Bob → Alice, by a chat session fed from stdin; Alice also gets the
    // delivery receipt Bob's listen sent for her first text.
    bob.run_with_stdin(
        &["chat", "alice"],
        Some("Hi Alice, got it\nSecond line from chat\n/quit\n"),
    )?
    .ok()?;
    let heard = alice
        .run(&["--json", "listen", "--count", "2", "--timeout", "30"])?
        .ok()?
        .json_lines()?;
    assert_eq!(texts(&heard), ["Hi Alice, got it", "Second line from chat"]);
    let receipt = heard
        .iter()
        .find(|e| e["type"] == "receipt")
        .ok_or("no delivery receipt")?;
    assert_eq!(receipt["state"], "delivered");
    assert_eq!(receipt["message_ids"][0].as_str(), Some(hello_id.as_str()));

    // The stored conversation agrees.
    let page = alice
        .run(&["--json", "messages", "Bob", "--limit", "10"])?
        .ok()?
        .json()?;
    let messages = page["messages"].as_array().ok_or("messages")?;
    assert_eq!(messages.len(), 3);
    let hello = messages
        .iter()
        .find(|m| m["id"].as_str() == Some(hello_id.as_str()))
        .ok_or("hello is stored")?;
    assert_eq!(hello["direction"], "outgoing");
    assert_eq!(hello["state"], "delivered");

    let conversations = bob.run(&["--json", "conversations"])?.ok()?.json()?;
    assert_eq!(conversations[0]["contact"]["name"], "Alice");
    assert_eq!(
        conversations[0]["last_message"]["text"],
        "Second line from chat"
    );

    // Safety numbers match on both sides; verify --mark marks the contact.
    let a = alice
        .run(&["--json", "verify", "Bob", "--mark"])?
        .ok()?
        .json()?;
    let b = bob.run(&["--json", "verify", "Alice"])?.ok()?.json()?;
    assert_eq!(a["safety_number"], b["safety_number"]);
    assert_eq!(a["safety_number"].as_str().map(str::len), Some(60));
    assert_eq!(a["verified"], true);
    assert_eq!(
        b["verified"], false,
        "no --mark and no terminal: not marked"
    );
    let contacts = alice.run(&["--json", "contacts"])?.ok()?.json()?;
    assert_eq!(contacts[0]["name"], "Bob");
    assert_eq!(contacts[0]["verified"], true);
    assert_eq!(contacts[0]["reach"], "our_relay");

    relay.stop()
}

#[test]
fn a_first_text_from_a_stranger_makes_a_contact_on_our_relay() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    let alice = Account::new(
        dir.path().join("alice"),
        Unlock::KeyFile(dir.path().join("alice.key")),
    );
    let bob = Account::new(
        dir.path().join("bob"),
        Unlock::KeyFile(dir.path().join("bob.key")),
    );
    let alice_invite = alice.init(&relay.invite)?;
    bob.init(&relay.invite)?;
    // Only Bob adds Alice.
    bob.run(&["contact", "add", &alice_invite, "--name", "Alice"])?
        .ok()?;
    bob.run(&["send", "Alice", "You don't know me yet"])?.ok()?;

    let heard = alice
        .run(&["--json", "listen", "--count", "1", "--timeout", "30"])?
        .ok()?
        .json_lines()?;
    let message = heard
        .iter()
        .find(|e| e["type"] == "message")
        .ok_or("no message")?;
    assert_eq!(message["new_contact"], true);
    assert_eq!(message["contact"]["name"], "Unknown sender");
    // Their certificate came from our relay: they are reachable there.
    assert_eq!(message["contact"]["reach"], "our_relay");
    let stranger = message["contact"]["id"]
        .as_str()
        .ok_or("contact id")?
        .to_owned();

    // Alice names them and answers over the session the first text built.
    alice.run(&["contact", "rename", &stranger, "Bob"])?.ok()?;
    alice.run(&["send", "Bob", "Now I do"])?.ok()?;
    let heard = bob
        .run(&["--json", "listen", "--count", "1", "--timeout", "30"])?
        .ok()?
        .json_lines()?;
    assert_eq!(texts(&heard), ["Now I do"]);
    relay.stop()
}

#[test]
fn a_text_queued_while_the_relay_is_down_goes_out_later() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay_dir = dir.path().join("relay");
    let relay = Relay::start(&relay_dir, 0)?;
    let port = relay.port;
    let alice = Account::new(
        dir.path().join("alice"),
        Unlock::KeyFile(dir.path().join("alice.key")),
    );
    let bob = Account::new(
        dir.path().join("bob"),
        Unlock::KeyFile(dir.path().join("bob.key")),
    );
    let alice_invite = alice.init(&relay.invite)?;
    let bob_invite = bob.init(&relay.invite)?;
    alice
        .run(&["contact", "add", &bob_invite, "--name", "Bob"])?
        .ok()?;
    bob.run(&["contact", "add", &alice_invite, "--name", "Alice"])?
        .ok()?;
    alice.run(&["send", "Bob", "first"])?.ok()?;

    relay.stop()?;
    // The session exists, so the text is encrypted and queued; the relay
    // cannot take it.
    let down = alice.run(&[
        "--json",
        "send",
        "Bob",
        "while it was down",
        "--timeout",
        "3",
    ])?;
    assert!(
        [10, 11].contains(&down.code()),
        "network or timeout exit code, got {}: {}",
        down.code(),
        down.stderr
    );
    assert!(down.stderr.contains("stays queued"), "{}", down.stderr);

    // Same keys, same port: the same invite.
    let relay = Relay::start(&relay_dir, port)?;
    // The next connection flushes the queue, oldest first.
    alice.run(&["send", "Bob", "after the restart"])?.ok()?;
    let heard = bob
        .run(&["--json", "listen", "--count", "3", "--timeout", "30"])?
        .ok()?
        .json_lines()?;
    assert_eq!(
        texts(&heard),
        ["first", "while it was down", "after the restart"]
    );
    relay.stop()
}
