//! Three accounts in a group through `sotto relay serve`, every step a
//! separate `sotto` process: create, each member sends, the others receive
//! with `listen`; the group's list and texts; removing a member; naming
//! groups that do not exist or fit several. Loopback only.

mod support;

use serde_json::Value;
use support::*;

/// The group texts among `events`, as (sender id or null, text).
fn group_texts(events: &[Value]) -> Vec<(Value, String)> {
    events
        .iter()
        .filter(|e| e["type"] == "group_message")
        .filter_map(|e| {
            let text = e["message"]["text"].as_str()?.to_owned();
            Some((e["message"]["sender"].clone(), text))
        })
        .collect()
}

/// `listen` until `count` texts came (at most 30 s).
fn listen(account: &Account, count: usize) -> TestResult<Vec<Value>> {
    account
        .run(&[
            "--json",
            "listen",
            "--count",
            &count.to_string(),
            "--timeout",
            "30",
        ])?
        .ok()?
        .json_lines()
}

fn contact_id(account: &Account, name: &str) -> TestResult<String> {
    let contacts = account.run(&["--json", "contacts"])?.ok()?.json()?;
    contacts
        .as_array()
        .ok_or("contacts")?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["id"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("no contact named {name}").into())
}

#[test]
fn three_accounts_talk_in_a_group() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    // Key files: no Argon2 on every command, so the many processes stay quick.
    let account = |name: &str| {
        Account::new(
            dir.path().join(name),
            Unlock::KeyFile(dir.path().join(format!("{name}.key"))),
        )
    };
    let (alice, bob, carol) = (account("alice"), account("bob"), account("carol"));
    let alice_invite = alice.init(&relay.invite)?;
    let bob_invite = bob.init(&relay.invite)?;
    let carol_invite = carol.init(&relay.invite)?;
    // Alice knows both; Bob and Carol know only Alice, and meet in the group.
    alice
        .run(&["contact", "add", &bob_invite, "--name", "Bob"])?
        .ok()?;
    alice
        .run(&["contact", "add", &carol_invite, "--name", "Carol"])?
        .ok()?;
    bob.run(&["contact", "add", &alice_invite, "--name", "Alice"])?
        .ok()?;
    carol
        .run(&["contact", "add", &alice_invite, "--name", "Alice"])?
        .ok()?;

    let created = alice
        .run(&["--json", "group", "create", "Climbing", "Bob", "carol"])?
        .ok()?
        .json()?;
    assert_eq!(created["name"], "Climbing");
    assert_eq!(created["active"], true);
    assert_eq!(created["members"].as_array().map(Vec::len), Some(2));
    let group_id = created["id"].as_str().ok_or("group id")?.to_owned();
    assert_eq!(group_id.len(), 32);

    // Alice writes first; Bob and Carol learn of the group and read it.
    let sent = alice
        .run(&["--json", "group", "send", "Climbing", "Wall at six?"])?
        .ok()?
        .json()?;
    assert_eq!(sent["state"], "sent");
    assert_eq!(sent["group"].as_str(), Some(group_id.as_str()));
    assert_eq!(sent["unreached"], Value::Array(vec![]));
    let alice_at_bob = contact_id(&bob, "Alice")?;
    for member in [&bob, &carol] {
        let heard = listen(member, 1)?;
        let joined = heard
            .iter()
            .find(|e| e["type"] == "group_changed")
            .ok_or("no group_changed event")?;
        assert_eq!(joined["joined"], true);
        assert_eq!(joined["group"]["name"], "Climbing");
        assert_eq!(joined["group"]["id"].as_str(), Some(group_id.as_str()));
        let texts = group_texts(&heard);
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[0].1, "Wall at six?");
        let message = heard
            .iter()
            .find(|e| e["type"] == "group_message")
            .ok_or("no group message")?;
        assert_eq!(message["sender"]["name"], "Alice");
        assert_eq!(message["group"]["name"], "Climbing");
    }

    // Bob answers by a prefix of the group's id: a session with Carol,
    // whom he met in the group, is started on the way.
    bob.run(&["group", "send", &group_id[..6], "Six works"])?
        .ok()?;
    // Carol answers from stdin, naming the group in other case.
    carol
        .run_with_stdin(&["group", "send", "climbing", "-"], Some("See you there\n"))?
        .ok()?;

    let at_alice = group_texts(&listen(&alice, 2)?);
    let mut texts: Vec<&str> = at_alice.iter().map(|(_, t)| t.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(texts, ["See you there", "Six works"]);
    let at_bob = group_texts(&listen(&bob, 1)?);
    assert_eq!(at_bob.len(), 1);
    assert_eq!(at_bob[0].1, "See you there");
    let at_carol = group_texts(&listen(&carol, 1)?);
    assert_eq!(at_carol.len(), 1);
    assert_eq!(at_carol[0].1, "Six works");

    // Bob's list: the group with Alice and Carol (a "Group member" contact).
    let groups = bob.run(&["--json", "groups"])?.ok()?.json()?;
    let groups = groups.as_array().ok_or("groups")?;
    assert_eq!(groups.len(), 1);
    let mut names: Vec<&str> = groups[0]["members"]
        .as_array()
        .ok_or("members")?
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Alice", "Group member"]);

    // Bob's stored texts: all three, newest first, one his own.
    let page = bob
        .run(&["--json", "group", "messages", "Climbing"])?
        .ok()?
        .json()?;
    let messages = page["messages"].as_array().ok_or("messages")?;
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[2]["text"], "Wall at six?");
    assert_eq!(messages[2]["sender"].as_str(), Some(alice_at_bob.as_str()));
    let own: Vec<&Value> = messages
        .iter()
        .filter(|m| m["direction"] == "outgoing")
        .collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["text"], "Six works");
    assert_eq!(own[0]["sender"], Value::Null);
    // In text mode too.
    let shown = bob.run(&["group", "messages", "Climbing"])?.ok()?;
    assert!(shown.stdout.contains("you in Climbing: Six works"));

    // Alice removes Carol; Bob sees it, Carol learns she is out.
    let after = alice
        .run(&["--json", "group", "remove", "Climbing", "Carol"])?
        .ok()?
        .json()?;
    assert_eq!(after["members"].as_array().map(Vec::len), Some(1));
    alice
        .run(&["group", "send", "Climbing", "Just us two"])?
        .ok()?;
    let heard = listen(&bob, 1)?;
    let change = heard
        .iter()
        .find(|e| e["type"] == "group_changed")
        .ok_or("no group_changed at Bob")?;
    assert_eq!(change["removed"].as_array().map(Vec::len), Some(1));
    assert_eq!(group_texts(&heard)[0].1, "Just us two");
    let heard = carol
        .run(&["--json", "listen", "--timeout", "10"])?
        .ok()?
        .json_lines()?;
    assert!(heard
        .iter()
        .any(|e| e["type"] == "group_changed" && e["left"] == true));
    assert!(group_texts(&heard).is_empty(), "Carol reads no more");
    let refused = carol.run(&["--json", "group", "send", "Climbing", "hello?"])?;
    assert_eq!(refused.code(), 7, "{}", refused.stderr);

    // Alice adds Carol back; Carol is in again and reads what follows.
    let back = alice
        .run(&["--json", "group", "add", "Climbing", "Carol"])?
        .ok()?
        .json()?;
    assert_eq!(back["members"].as_array().map(Vec::len), Some(2));
    alice
        .run(&["group", "send", "Climbing", "Welcome back"])?
        .ok()?;
    let heard = listen(&carol, 1)?;
    assert!(heard
        .iter()
        .any(|e| e["type"] == "group_changed" && e["joined"] == true));
    assert_eq!(group_texts(&heard)[0].1, "Welcome back");
    let shown = alice.run(&["groups"])?.ok()?;
    assert!(
        shown.stdout.contains("Climbing  (Bob, Carol)"),
        "{}",
        shown.stdout
    );

    // Bob leaves; his copy stays, marked inactive.
    let left = bob
        .run(&["--json", "group", "leave", "Climbing"])?
        .ok()?
        .json()?;
    assert_eq!(left["active"], false);

    relay.stop()
}

#[test]
fn groups_are_named_unambiguously() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = Relay::start(&dir.path().join("relay"), 0)?;
    let account = |name: &str| {
        Account::new(
            dir.path().join(name),
            Unlock::KeyFile(dir.path().join(format!("{name}.key"))),
        )
    };
    let (alice, bob) = (account("alice"), account("bob"));
    alice.init(&relay.invite)?;
    let bob_invite = bob.init(&relay.invite)?;
    alice
        .run(&["contact", "add", &bob_invite, "--name", "Bob"])?
        .ok()?;

    let missing = alice.run(&["--json", "group", "send", "Nowhere", "hi"])?;
    assert_eq!(missing.code(), 8);
    let error: Value = serde_json::from_str(missing.stderr.trim())?;
    assert_eq!(error["error"]["kind"], "unknown_group");

    let first = alice
        .run(&["--json", "group", "create", "Twins", "Bob"])?
        .ok()?
        .json()?;
    let second = alice
        .run(&["--json", "group", "create", "twins", "Bob"])?
        .ok()?
        .json()?;
    let ambiguous = alice.run(&["--json", "group", "messages", "Twins"])?;
    assert_eq!(ambiguous.code(), 8);
    let error: Value = serde_json::from_str(ambiguous.stderr.trim())?;
    assert_eq!(error["error"]["kind"], "ambiguous_group");
    // The full id always names one group.
    for group in [&first, &second] {
        let id = group["id"].as_str().ok_or("id")?;
        let page = alice
            .run(&["--json", "group", "messages", id])?
            .ok()?
            .json()?;
        assert_eq!(page["group"]["id"].as_str(), Some(id));
    }
    // No members is a usage error (clap), an unknown contact exit 8.
    assert_eq!(alice.run(&["group", "create", "Solo"])?.code(), 2);
    assert_eq!(alice.run(&["group", "create", "X", "Nobody"])?.code(), 8);
    relay.stop()
}
