//! Group conversations end to end through the application facade and a
//! real relay on loopback: three accounts, a group of three, texts from
//! each reach the other two exactly once; a removed member gets nothing
//! afterwards; after every account restarts, the stored sender keys still
//! decrypt.

mod support;

use std::path::Path;
use std::time::Duration;

use sotto_core::app::{Account as AppAccount, Connection, Event, StoreKey};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::{DatabaseKey, GroupId};
use support::{RelayProcess, TestResult};

fn key(byte: u8) -> StoreKey {
    StoreKey::Raw(DatabaseKey::from_bytes([byte; 32]))
}

struct Member {
    name: &'static str,
    account: AppAccount,
    connection: Connection,
    /// Events seen while waiting for others, kept for later assertions.
    seen: Vec<Event>,
}

impl Member {
    async fn open(dir: &Path, name: &'static str, byte: u8) -> TestResult<Self> {
        let account = AppAccount::open(&dir.join(name), &key(byte))?;
        Self::connect(name, account).await
    }

    async fn connect(name: &'static str, account: AppAccount) -> TestResult<Self> {
        let connection = account.connect(&tokio::runtime::Handle::current())?;
        let mut member = Self {
            name,
            account,
            connection,
            seen: Vec::new(),
        };
        member.wait_for(|e| matches!(e, Event::Connected)).await?;
        Ok(member)
    }

    /// The next event matching `wanted` (bounded wait); events before it
    /// are kept in `seen`.
    async fn wait_for(&mut self, wanted: impl Fn(&Event) -> bool) -> TestResult<Event> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let event = tokio::time::timeout_at(deadline, self.connection.next_event())
                .await
                .map_err(|_| format!("{} waited too long", self.name))?
                .ok_or("connection stopped")?;
            if let Event::Dropped(error) = &event {
                return Err(format!("{} dropped a delivery: {error}", self.name).into());
            }
            if wanted(&event) {
                return Ok(event);
            }
            self.seen.push(event);
        }
    }

    /// Waits for `count` group texts of `group`; returns their bodies.
    async fn group_texts(&mut self, group: GroupId, count: usize) -> TestResult<Vec<String>> {
        let mut texts = Vec::new();
        while texts.len() < count {
            let event = self
                .wait_for(
                    |e| matches!(e, Event::GroupMessage { message } if message.group == group),
                )
                .await?;
            if let Event::GroupMessage { message } = event {
                texts.push(message.body);
            }
        }
        texts.sort();
        Ok(texts)
    }

    fn stored_texts(&self, group: &GroupId) -> TestResult<Vec<String>> {
        let mut texts: Vec<String> = self
            .account
            .group_messages(group, 100, None)?
            .into_iter()
            .map(|m| m.body)
            .collect();
        texts.sort();
        Ok(texts)
    }

    fn group_events_seen(&self) -> usize {
        self.seen
            .iter()
            .filter(|e| matches!(e, Event::GroupMessage { .. }))
            .count()
    }

    async fn close(self) -> AppAccount {
        self.connection.close().await;
        self.account
    }
}

async fn create(dir: &Path, name: &str, byte: u8, relay: &RelayInvite) -> TestResult<AppAccount> {
    let account = AppAccount::create(&dir.join(name), &key(byte), relay.clone())?;
    account.register().await?;
    Ok(account)
}

fn sorted(texts: &[&str]) -> Vec<String> {
    let mut texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    texts.sort();
    texts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_three_over_a_real_relay() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let alice = create(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = create(dir.path(), "bob", 2, &relay.invite).await?;
    let carol = create(dir.path(), "carol", 3, &relay.invite).await?;
    // Alice knows Bob and Carol; they know Alice but not each other.
    let bob_at_alice = alice.add_contact(&bob.contact_invite(), "Bob")?;
    let carol_at_alice = alice.add_contact(&carol.contact_invite(), "Carol")?;
    bob.add_contact(&alice.contact_invite(), "Alice")?;
    carol.add_contact(&alice.contact_invite(), "Alice")?;

    let mut alice = Member::connect("alice", alice).await?;
    let mut bob = Member::connect("bob", bob).await?;
    let mut carol = Member::connect("carol", carol).await?;

    let group = alice
        .account
        .create_group("Choir", &[bob_at_alice.clone(), carol_at_alice.clone()])
        .await?
        .id;
    for member in [&mut bob, &mut carol] {
        member
            .wait_for(|e| matches!(e, Event::GroupChanged(c) if c.group == group && c.joined))
            .await?;
        assert_eq!(member.account.group(&group)?.name, "Choir");
    }

    // A text from each reaches the other two exactly once.
    for member in [&alice, &bob, &carol] {
        let sent = member
            .account
            .send_group_text(&group, &format!("hello from {}", member.name))
            .await?;
        assert_eq!(
            sent.relay.len(),
            2,
            "{} reached both over the relay",
            member.name
        );
        assert!(sent.sms.is_empty() && sent.unreached.is_empty());
    }
    let all = ["hello from alice", "hello from bob", "hello from carol"];
    for member in [&mut alice, &mut bob, &mut carol] {
        let own = format!("hello from {}", member.name);
        let others: Vec<&str> = all.iter().copied().filter(|t| *t != own).collect();
        assert_eq!(member.group_texts(group, 2).await?, sorted(&others));
        assert_eq!(member.stored_texts(&group)?, sorted(&all));
    }

    // Carol is removed: she is told, and nothing later reaches her.
    alice
        .account
        .remove_group_members(&group, std::slice::from_ref(&carol_at_alice))
        .await?;
    carol
        .wait_for(|e| matches!(e, Event::GroupChanged(c) if c.group == group && c.left))
        .await?;
    bob.wait_for(|e| matches!(e, Event::GroupChanged(c) if c.removed.len() == 1))
        .await?;
    let from_alice = alice
        .account
        .send_group_text(&group, "without carol")
        .await?;
    let from_bob = bob
        .account
        .send_group_text(&group, "still without carol")
        .await?;
    assert_eq!(from_alice.relay.len(), 1);
    assert_eq!(from_bob.relay.len(), 1);
    assert_eq!(bob.group_texts(group, 1).await?, ["without carol"]);
    assert_eq!(alice.group_texts(group, 1).await?, ["still without carol"]);
    // Markers sent 1:1 after the group texts: once Carol has both, anything
    // the relay had for her from Alice and Bob has arrived.
    let carol_at_bob = bob
        .account
        .contacts()?
        .into_iter()
        .find(|c| c.name == "Group member")
        .ok_or("Bob knows Carol through the group")?
        .id;
    alice
        .account
        .send_text(&carol_at_alice, "marker from alice")
        .await?;
    bob.account
        .send_text(&carol_at_bob, "marker from bob")
        .await?;
    for _ in 0..2 {
        carol
            .wait_for(|e| matches!(e, Event::Message { message, .. } if message.body.starts_with("marker")))
            .await?;
    }
    assert_eq!(carol.group_events_seen(), 0, "no group text reached Carol");
    assert_eq!(carol.stored_texts(&group)?, sorted(&all));
    assert!(carol
        .account
        .send_group_text(&group, "let me in")
        .await
        .is_err());

    // Everyone restarts; the sender keys in the stores still decrypt.
    let (alice, bob, carol) = (alice.close().await, bob.close().await, carol.close().await);
    drop((alice, bob, carol));
    let mut alice = Member::open(dir.path(), "alice", 1).await?;
    let mut bob = Member::open(dir.path(), "bob", 2).await?;
    bob.account
        .send_group_text(&group, "after the restart")
        .await?;
    alice
        .account
        .send_group_text(&group, "after the restart too")
        .await?;
    assert_eq!(alice.group_texts(group, 1).await?, ["after the restart"]);
    assert_eq!(bob.group_texts(group, 1).await?, ["after the restart too"]);
    assert_eq!(alice.stored_texts(&group)?.len(), 7);
    alice.close().await;
    bob.close().await;
    relay.stop()?;
    Ok(())
}

/// A member who is not the creator adds someone the creator never met; the
/// newcomer and the creator find each other through the group. Then the
/// newcomer leaves and gets nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_by_anyone_and_members_who_leave() -> TestResult {
    let dir = tempfile::tempdir()?;
    let relay = RelayProcess::start(&dir.path().join("relay"))?;
    let alice = create(dir.path(), "alice", 1, &relay.invite).await?;
    let bob = create(dir.path(), "bob", 2, &relay.invite).await?;
    let carol = create(dir.path(), "carol", 3, &relay.invite).await?;
    let bob_at_alice = alice.add_contact(&bob.contact_invite(), "Bob")?;
    bob.add_contact(&alice.contact_invite(), "Alice")?;
    let carol_at_bob = bob.add_contact(&carol.contact_invite(), "Carol")?;
    carol.add_contact(&bob.contact_invite(), "Bob")?;
    let mut alice = Member::connect("alice", alice).await?;
    let mut bob = Member::connect("bob", bob).await?;
    let mut carol = Member::connect("carol", carol).await?;

    let group = alice
        .account
        .create_group("Hikers", std::slice::from_ref(&bob_at_alice))
        .await?
        .id;
    bob.wait_for(|e| matches!(e, Event::GroupChanged(c) if c.joined))
        .await?;
    bob.account
        .add_group_members(&group, std::slice::from_ref(&carol_at_bob))
        .await?;
    carol
        .wait_for(|e| matches!(e, Event::GroupChanged(c) if c.joined))
        .await?;
    alice
        .wait_for(|e| matches!(e, Event::GroupChanged(c) if c.added.len() == 1))
        .await?;

    carol
        .account
        .send_group_text(&group, "hi, I am new")
        .await?;
    assert_eq!(alice.group_texts(group, 1).await?, ["hi, I am new"]);
    assert_eq!(bob.group_texts(group, 1).await?, ["hi, I am new"]);
    alice.account.send_group_text(&group, "welcome").await?;
    assert_eq!(carol.group_texts(group, 1).await?, ["welcome"]);
    assert_eq!(bob.group_texts(group, 1).await?, ["welcome"]);

    carol.account.leave_group(&group).await?;
    alice
        .wait_for(|e| matches!(e, Event::GroupChanged(c) if c.removed.len() == 1))
        .await?;
    bob.wait_for(|e| matches!(e, Event::GroupChanged(c) if c.removed.len() == 1))
        .await?;
    let sent = alice.account.send_group_text(&group, "she left").await?;
    assert_eq!(sent.relay.len(), 1, "Bob only");
    assert_eq!(bob.group_texts(group, 1).await?, ["she left"]);
    // A 1:1 marker after the group text: once Carol has it, the group text
    // would have arrived before it, had it been sent to her.
    let carol_at_alice = alice
        .account
        .contacts()?
        .into_iter()
        .find(|c| c.name == "Group member")
        .ok_or("Alice knows Carol through the group")?
        .id;
    alice.account.send_text(&carol_at_alice, "marker").await?;
    carol
        .wait_for(|e| matches!(e, Event::Message { message, .. } if message.body == "marker"))
        .await?;
    assert_eq!(carol.group_events_seen(), 0);
    assert_eq!(
        carol.stored_texts(&group)?,
        sorted(&["hi, I am new", "welcome"])
    );
    for member in [alice, bob, carol] {
        member.close().await;
    }
    relay.stop()?;
    Ok(())
}
