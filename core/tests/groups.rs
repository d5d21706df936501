//! Group conversations at the protocol level: three or four accounts whose
//! envelopes are carried by a small in-test "relay" (each outbox entry is
//! handed to the store of the account holding the recipient's identity).
//! Sender keys, membership changes with key rotation, introductions of
//! members through the group, the SMS fan-out, and persistence on disk.

mod support;

use libsignal_protocol::{IdentityKey, KeyPair};
use rand::rngs::StdRng;
use sotto_core::groups::{self, GroupChange};
use sotto_core::message::{Body, EnvelopeKind, GroupMemberInfo, GroupUpdate};
use sotto_core::messaging::{self, Received};
use sotto_core::prekeys;
use sotto_core::relay::invite::RelayInvite;
use sotto_core::session;
use sotto_core::sms::{PhoneNumber, SmsBody, SmsConfig, SmsEndpoint, SmsEvent};
use sotto_core::store::{Contact, ContactId, GroupId, InMemStore, SottoStore, SqlCipherStore};
use sotto_core::{Error, Result};
use support::*;

fn relay(rng: &mut StdRng) -> RelayInvite {
    RelayInvite {
        host: "relay.test".into(),
        port: 7443,
        trust_root: KeyPair::generate(rng).public_key,
    }
}

struct Node<S> {
    name: &'static str,
    store: S,
    identity: IdentityKey,
    /// What this node received, in order.
    got: Vec<Received>,
}

impl<S: SottoStore> Node<S> {
    fn new(name: &'static str, store: S, rng: &mut StdRng) -> Result<Self> {
        let store = with_account(store, rng)?;
        let identity = *store
            .local_account()?
            .expect("account")
            .identity
            .identity_key();
        Ok(Self {
            name,
            store,
            identity,
            got: Vec::new(),
        })
    }

    /// How this node knows `other` (a contact with its identity trusted).
    fn contact_for(&self, other: &IdentityKey) -> Result<Option<ContactId>> {
        self.store.contact_by_identity(other)
    }

    fn group_texts(&self) -> Vec<String> {
        self.got
            .iter()
            .filter_map(|r| match r {
                Received::GroupText(m) => Some(m.body.clone()),
                _ => None,
            })
            .collect()
    }

    fn changes(&self) -> Vec<GroupChange> {
        self.got
            .iter()
            .filter_map(|r| match r {
                Received::GroupChanged(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Makes `a` know `b` as a contact on `relay`, trusting its identity, with
/// a session from `a` to `b` started from one of `b`'s bundles.
fn introduce_one_way<A: SottoStore, B: SottoStore>(
    a: &mut Node<A>,
    b: &mut Node<B>,
    relay: &RelayInvite,
    rng: &mut StdRng,
) -> Result<ContactId> {
    let id = match a.contact_for(&b.identity)? {
        Some(id) => id,
        None => {
            let id = ContactId::random(rng);
            a.store.save_contact(&Contact {
                id: id.clone(),
                name: b.name.into(),
                relay: Some(relay.clone()),
            })?;
            a.store.trust_identity(&id, &b.identity)?;
            id
        }
    };
    if !session::has_session(&a.store, &id, now())? {
        let bundle = prekeys::take_prekey_bundle(&mut b.store)?;
        session::start_session(&mut a.store, &id, &bundle, now(), rng)?;
    }
    Ok(id)
}

/// Carries every outbox entry of every node to its recipient (as the relay
/// would), until all outboxes are empty. Returns how many were carried.
/// How `node` knows the sender `identity`; a first message from an unknown
/// identity makes a contact, as a sealed relay delivery does.
fn sender_contact(
    node: &mut Node<InMemStore>,
    identity: &IdentityKey,
    rng: &mut StdRng,
) -> Result<ContactId> {
    if let Some(known) = node.contact_for(identity)? {
        return Ok(known);
    }
    let id = ContactId::random(rng);
    node.store.save_contact(&Contact {
        id: id.clone(),
        name: "Unknown sender".into(),
        relay: None,
    })?;
    node.store.trust_identity(&id, identity)?;
    Ok(id)
}

/// Carries the outbox entries of `from` meant for `to` only.
fn deliver_to(
    from: &mut Node<InMemStore>,
    to: &mut Node<InMemStore>,
    rng: &mut StdRng,
) -> Result<()> {
    let sender = sender_contact(to, &from.identity, rng)?;
    for entry in from.store.outbox()? {
        let recipient = from
            .store
            .identity_record(&entry.contact)?
            .expect("key")
            .key;
        if recipient != to.identity {
            continue;
        }
        messaging::mark_sent(&mut from.store, entry.id)?;
        let received = messaging::receive(
            &mut to.store,
            &sender,
            &entry.envelope.to_bytes(),
            now(),
            rng,
        )?;
        to.got.push(received);
    }
    Ok(())
}

fn deliver_all(nodes: &mut [&mut Node<InMemStore>], rng: &mut StdRng) -> Result<usize> {
    let mut carried = 0;
    loop {
        let mut moved = false;
        for from in 0..nodes.len() {
            for entry in nodes[from].store.outbox()? {
                let recipient = nodes[from]
                    .store
                    .identity_record(&entry.contact)?
                    .expect("recipient identity")
                    .key;
                let sender = nodes[from].identity;
                messaging::mark_sent(&mut nodes[from].store, entry.id)?;
                let to = nodes
                    .iter()
                    .position(|n| n.identity == recipient)
                    .expect("recipient node");
                let node = &mut *nodes[to];
                let contact = sender_contact(node, &sender, rng)?;
                let received = messaging::receive(
                    &mut node.store,
                    &contact,
                    &entry.envelope.to_bytes(),
                    now(),
                    rng,
                )?;
                node.got.push(received);
                carried += 1;
                moved = true;
            }
        }
        if !moved {
            return Ok(carried);
        }
    }
}

/// Alice, Bob and Carol; Alice knows Bob and Carol, who do not know each
/// other. Alice makes a group of the three.
struct Trio {
    alice: Node<InMemStore>,
    bob: Node<InMemStore>,
    carol: Node<InMemStore>,
    group: GroupId,
    relay: RelayInvite,
}

fn trio(rng: &mut StdRng) -> Result<Trio> {
    let relay = relay(rng);
    let mut alice = Node::new("Alice", InMemStore::new(), rng)?;
    let mut bob = Node::new("Bob", InMemStore::new(), rng)?;
    let mut carol = Node::new("Carol", InMemStore::new(), rng)?;
    let alice_bob = introduce_one_way(&mut alice, &mut bob, &relay, rng)?;
    let alice_carol = introduce_one_way(&mut alice, &mut carol, &relay, rng)?;
    // Bob and Carol know Alice (as they would from her invite).
    introduce_one_way(&mut bob, &mut alice, &relay, rng)?;
    introduce_one_way(&mut carol, &mut alice, &relay, rng)?;
    let group = groups::create_group(
        &mut alice.store,
        "Choir",
        &[alice_bob, alice_carol],
        Some(&relay),
        now(),
        rng,
    )?;
    deliver_all(&mut [&mut alice, &mut bob, &mut carol], rng)?;
    Ok(Trio {
        group: group.id,
        alice,
        bob,
        carol,
        relay,
    })
}

/// Starts the sessions a member needs with the other members (the facade
/// fetches their bundles from the relay; here they come from their stores).
fn sessions_with_members(trio: &mut Trio, rng: &mut StdRng) -> Result<()> {
    let relay = trio.relay.clone();
    introduce_one_way(&mut trio.bob, &mut trio.carol, &relay, rng)?;
    introduce_one_way(&mut trio.carol, &mut trio.bob, &relay, rng)?;
    Ok(())
}

#[test]
fn members_learn_the_group_and_each_other() -> Result<()> {
    let mut rng = rng(1);
    let t = trio(&mut rng)?;
    for member in [&t.bob, &t.carol] {
        let changes = member.changes();
        assert_eq!(changes.len(), 1, "{} got the group once", member.name);
        assert!(changes[0].joined);
        let group = member.store.group(&t.group)?.expect("group stored");
        assert_eq!(group.name, "Choir");
        assert_eq!(group.members.len(), 2, "the two others");
        assert!(group.active);
        // Alice's sender key arrived too.
        assert!(member
            .got
            .iter()
            .any(|r| matches!(r, Received::GroupSenderKey { group } if *group == t.group)));
    }
    // Bob now knows Carol: introduced by the group, identity as Alice said.
    let carol_at_bob = t.bob.contact_for(&t.carol.identity)?.expect("introduced");
    let contact = t.bob.store.contact(&carol_at_bob)?.expect("contact");
    assert_eq!(contact.name, groups::GROUP_MEMBER_NAME);
    assert_eq!(contact.relay, Some(t.relay.clone()));
    Ok(())
}

#[test]
fn each_members_text_reaches_the_other_two_exactly_once() -> Result<()> {
    let mut rng = rng(2);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    let mut sent = Vec::new();
    for (who, text) in [(0, "from alice"), (1, "from bob"), (2, "from carol")] {
        let node = [&mut t.alice, &mut t.bob, &mut t.carol]
            .into_iter()
            .nth(who);
        let node = node.expect("node");
        let out = groups::send_group_text(&mut node.store, &t.group, text, &[], now(), &mut rng)?;
        assert_eq!(out.relay.len(), 2, "two sender-key copies");
        assert!(out.sms.is_empty() && out.unreached.is_empty());
        sent.push(out);
        deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    }
    // The copies of one text are one ciphertext, encrypted once.
    let alice = &t.alice.store;
    assert!(alice.outbox()?.is_empty());
    for (node, own) in [
        (&t.alice, "from alice"),
        (&t.bob, "from bob"),
        (&t.carol, "from carol"),
    ] {
        let mut texts = node.group_texts();
        texts.sort();
        let mut expected: Vec<String> = ["from alice", "from bob", "from carol"]
            .into_iter()
            .filter(|t| *t != own)
            .map(String::from)
            .collect();
        expected.sort();
        assert_eq!(texts, expected, "{} got each other text once", node.name);
        let stored = node.store.group_messages(&t.group, 10, None)?;
        assert_eq!(stored.len(), 3, "{} stores all three", node.name);
        assert_eq!(
            stored.iter().filter(|m| m.sender.is_none()).count(),
            1,
            "one of them its own"
        );
    }
    Ok(())
}

#[test]
fn a_replayed_group_ciphertext_is_a_duplicate() -> Result<()> {
    let mut rng = rng(3);
    let mut t = trio(&mut rng)?;
    groups::send_group_text(&mut t.alice.store, &t.group, "once", &[], now(), &mut rng)?;
    let entry = t.alice.store.outbox()?.into_iter().next().expect("queued");
    assert_eq!(entry.envelope.kind, EnvelopeKind::SenderKey);
    let recipient = t
        .alice
        .store
        .identity_record(&entry.contact)?
        .expect("key")
        .key;
    let node = if recipient == t.bob.identity {
        &mut t.bob
    } else {
        &mut t.carol
    };
    let alice = node.contact_for(&t.alice.identity)?.expect("known");
    let bytes = entry.envelope.to_bytes();
    let first = messaging::receive(&mut node.store, &alice, &bytes, now(), &mut rng)?;
    assert!(matches!(first, Received::GroupText(ref m) if m.body == "once"));
    let again = messaging::receive(&mut node.store, &alice, &bytes, now(), &mut rng)?;
    assert_eq!(again, Received::Duplicate);
    assert_eq!(node.store.group_messages(&t.group, 10, None)?.len(), 1);
    Ok(())
}

#[test]
fn a_removed_member_gets_nothing_and_cannot_decrypt_what_follows() -> Result<()> {
    let mut rng = rng(4);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    // Everyone has spoken once, so everyone holds everyone's old key.
    for node in [&mut t.alice, &mut t.bob, &mut t.carol] {
        groups::send_group_text(&mut node.store, &t.group, "before", &[], now(), &mut rng)?;
    }
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    let old_distribution = t
        .alice
        .store
        .group(&t.group)?
        .expect("group")
        .distribution_id;

    let carol_at_alice = t.alice.contact_for(&t.carol.identity)?.expect("known");
    let group = groups::remove_members(
        &mut t.alice.store,
        &t.group,
        std::slice::from_ref(&carol_at_alice),
        Some(&t.relay),
        now(),
        &mut rng,
    )?;
    assert_ne!(group.distribution_id, old_distribution, "keys rotate");
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    let left = t.carol.changes().pop().expect("told");
    assert!(left.left);
    assert!(!t.carol.store.group(&t.group)?.expect("kept").active);
    let bob_change = t.bob.changes().pop().expect("told");
    assert_eq!(bob_change.removed.len(), 1);

    // After the removal: Alice's and Bob's texts go to the remaining two only.
    let carol_before = t.carol.got.len();
    let from_alice =
        groups::send_group_text(&mut t.alice.store, &t.group, "after", &[], now(), &mut rng)?;
    assert_eq!(from_alice.relay.len(), 1);
    let envelope = t.alice.store.outbox()?.pop().expect("queued").envelope;
    let from_bob = groups::send_group_text(
        &mut t.bob.store,
        &t.group,
        "after too",
        &[],
        now(),
        &mut rng,
    )?;
    assert_eq!(from_bob.relay.len(), 1);
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    assert_eq!(t.carol.got.len(), carol_before, "nothing reached Carol");
    assert_eq!(
        t.bob.group_texts().last().map(String::as_str),
        Some("after")
    );
    assert_eq!(
        t.alice.group_texts().last().map(String::as_str),
        Some("after too")
    );

    // Were Alice's ciphertext to reach Carol anyway, she has no key for it.
    let alice_at_carol = t.carol.contact_for(&t.alice.identity)?.expect("known");
    let attempt = messaging::receive(
        &mut t.carol.store,
        &alice_at_carol,
        &envelope.to_bytes(),
        now(),
        &mut rng,
    );
    assert!(
        matches!(attempt, Err(Error::Undecryptable(_))),
        "got {attempt:?}"
    );
    // Carol can no longer send to the group, and a text she forges in her
    // 1:1 session with Bob is refused.
    assert!(matches!(
        groups::send_group_text(&mut t.carol.store, &t.group, "hi", &[], now(), &mut rng),
        Err(Error::NotGroupMember)
    ));
    let bob_at_carol = t.carol.contact_for(&t.bob.identity)?.expect("known");
    let forged = messaging::send_body(
        &mut t.carol.store,
        &bob_at_carol,
        Body::GroupText {
            group: t.group,
            text: "let me in".into(),
        },
        now(),
        &mut rng,
    )?;
    let carol_at_bob = t.bob.contact_for(&t.carol.identity)?.expect("known");
    let refused = messaging::receive(
        &mut t.bob.store,
        &carol_at_bob,
        &forged.envelope.to_bytes(),
        now(),
        &mut rng,
    );
    // Bob cannot tell a removed member from one whose addition is still on
    // its way, so the text is held, never filed.
    assert_eq!(refused?, Received::GroupTextHeld { group: t.group });
    assert!(!t
        .bob
        .store
        .group_messages(&t.group, 100, None)?
        .iter()
        .any(|m| m.body == "let me in"));
    Ok(())
}

#[test]
fn an_added_member_reads_texts_from_everyone_after_joining() -> Result<()> {
    let mut rng = rng(5);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    for node in [&mut t.alice, &mut t.bob, &mut t.carol] {
        groups::send_group_text(&mut node.store, &t.group, "early", &[], now(), &mut rng)?;
    }
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;

    let mut dave = Node::new("Dave", InMemStore::new(), &mut rng)?;
    let relay = t.relay.clone();
    let dave_at_alice = introduce_one_way(&mut t.alice, &mut dave, &relay, &mut rng)?;
    introduce_one_way(&mut dave, &mut t.alice, &relay, &mut rng)?;
    groups::add_members(
        &mut t.alice.store,
        &t.group,
        &[dave_at_alice],
        Some(&relay),
        now(),
        &mut rng,
    )?;
    // Dave hears of the group first and writes at once; his text reaches
    // Bob before Alice's news of Dave does.
    deliver_to(&mut t.alice, &mut dave, &mut rng)?;
    assert!(dave.changes().pop().expect("told").joined);
    introduce_one_way(&mut dave, &mut t.bob, &relay, &mut rng)?;
    let eager = groups::send_group_text(&mut dave.store, &t.group, "hi all", &[], now(), &mut rng)?;
    assert_eq!(eager.relay.len(), 2, "Alice and Bob");
    assert_eq!(eager.unreached.len(), 1, "Carol: no session yet");
    deliver_to(&mut dave, &mut t.bob, &mut rng)?;
    assert!(t
        .bob
        .got
        .iter()
        .any(|r| matches!(r, Received::GroupTextHeld { group } if *group == t.group)));
    deliver_all(
        &mut [&mut t.alice, &mut t.bob, &mut t.carol, &mut dave],
        &mut rng,
    )?;
    let news = t.bob.changes().pop().expect("told");
    assert_eq!(news.added.len(), 1);
    let released: Vec<&str> = news.released.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(released, ["hi all"], "filed once Dave is a member");
    // Bob and Carol start sessions with Dave (from the relay, in the app).
    for node in [&mut t.bob, &mut t.carol] {
        introduce_one_way(node, &mut dave, &relay, &mut rng)?;
        introduce_one_way(&mut dave, node, &relay, &mut rng)?;
    }
    for (node, text) in [(&mut t.alice, "a"), (&mut t.bob, "b"), (&mut t.carol, "c")] {
        groups::send_group_text(&mut node.store, &t.group, text, &[], now(), &mut rng)?;
    }
    deliver_all(
        &mut [&mut t.alice, &mut t.bob, &mut t.carol, &mut dave],
        &mut rng,
    )?;
    let mut texts = dave.group_texts();
    texts.sort();
    assert_eq!(texts, ["a", "b", "c"], "the new member reads everyone");
    Ok(())
}

#[test]
fn a_member_who_leaves_is_dropped_by_the_others_and_keys_rotate() -> Result<()> {
    let mut rng = rng(9);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    let before = t
        .alice
        .store
        .group(&t.group)?
        .expect("group")
        .distribution_id;
    let left = groups::leave_group(&mut t.bob.store, &t.group, now(), &mut rng)?;
    assert!(!left.active);
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    let bob_at_alice = t.alice.contact_for(&t.bob.identity)?.expect("known");
    for node in [&t.alice, &t.carol] {
        let change = node.changes().pop().expect("told");
        assert_eq!(change.removed.len(), 1, "{} dropped Bob", node.name);
        let group = node.store.group(&t.group)?.expect("group");
        assert_eq!(group.members.len(), 1);
        assert_ne!(group.distribution_id, before, "keys rotate");
    }
    let sent = groups::send_group_text(
        &mut t.alice.store,
        &t.group,
        "bye bob",
        &[],
        now(),
        &mut rng,
    )?;
    assert_eq!(sent.relay.len(), 1);
    assert!(sent.relay.iter().all(|(c, _)| *c != bob_at_alice));
    assert!(matches!(
        groups::send_group_text(&mut t.bob.store, &t.group, "wait", &[], now(), &mut rng),
        Err(Error::NotGroupMember)
    ));
    Ok(())
}

#[test]
fn updates_from_non_members_and_stale_revisions_change_nothing() -> Result<()> {
    let mut rng = rng(6);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    let carol_at_alice = t.alice.contact_for(&t.carol.identity)?.expect("known");
    groups::remove_members(
        &mut t.alice.store,
        &t.group,
        &[carol_at_alice],
        Some(&t.relay),
        now(),
        &mut rng,
    )?;
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    let before = t.bob.store.group(&t.group)?.expect("group");

    // Carol, removed, sends Bob a newer state that puts her back.
    let members = [t.alice.identity, t.bob.identity, t.carol.identity]
        .into_iter()
        .map(|identity| GroupMemberInfo {
            identity,
            relay: None,
        })
        .collect();
    let forged = |revision| {
        Body::GroupUpdate(GroupUpdate {
            group: t.group,
            revision,
            name: "Mine now".into(),
            members,
            distribution_id: uuid::Uuid::from_bytes([1; 16]),
        })
    };
    let bob_at_carol = t.carol.contact_for(&t.bob.identity)?.expect("known");
    let out = messaging::send_body(
        &mut t.carol.store,
        &bob_at_carol,
        forged(before.revision + 1),
        now(),
        &mut rng,
    )?;
    let carol_at_bob = t.bob.contact_for(&t.carol.identity)?.expect("known");
    let refused = messaging::receive(
        &mut t.bob.store,
        &carol_at_bob,
        &out.envelope.to_bytes(),
        now(),
        &mut rng,
    );
    assert!(
        matches!(refused, Err(Error::NotGroupMember)),
        "got {refused:?}"
    );
    assert_eq!(t.bob.store.group(&t.group)?.expect("group"), before);

    // Alice (a member) sending an old revision changes nothing either.
    let bob_at_alice = t.alice.contact_for(&t.bob.identity)?.expect("known");
    let stale = GroupUpdate {
        group: t.group,
        revision: 1,
        name: "Old name".into(),
        members: vec![
            GroupMemberInfo {
                identity: t.alice.identity,
                relay: None,
            },
            GroupMemberInfo {
                identity: t.bob.identity,
                relay: None,
            },
        ],
        distribution_id: uuid::Uuid::from_bytes([2; 16]),
    };
    let out = messaging::send_body(
        &mut t.alice.store,
        &bob_at_alice,
        Body::GroupUpdate(stale),
        now(),
        &mut rng,
    )?;
    let alice_at_bob = t.bob.contact_for(&t.alice.identity)?.expect("known");
    let ignored = messaging::receive(
        &mut t.bob.store,
        &alice_at_bob,
        &out.envelope.to_bytes(),
        now(),
        &mut rng,
    )?;
    assert_eq!(ignored, Received::Duplicate);
    assert_eq!(t.bob.store.group(&t.group)?.expect("group"), before);

    // A state for a group Bob is not in, and never was, is refused and
    // leaves nothing behind (no group, no contacts for its members).
    let stranger = GroupUpdate {
        group: GroupId([0xAB; 16]),
        revision: 1,
        name: "Not yours".into(),
        members: vec![
            GroupMemberInfo {
                identity: t.alice.identity,
                relay: None,
            },
            GroupMemberInfo {
                identity: *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key(),
                relay: None,
            },
        ],
        distribution_id: uuid::Uuid::from_bytes([3; 16]),
    };
    let contacts_before = t.bob.store.contacts()?.len();
    let out = messaging::send_body(
        &mut t.alice.store,
        &bob_at_alice,
        Body::GroupUpdate(stranger),
        now(),
        &mut rng,
    )?;
    let refused = messaging::receive(
        &mut t.bob.store,
        &alice_at_bob,
        &out.envelope.to_bytes(),
        now(),
        &mut rng,
    );
    assert!(
        matches!(refused, Err(Error::NotGroupMember)),
        "got {refused:?}"
    );
    assert!(t.bob.store.group(&GroupId([0xAB; 16]))?.is_none());
    assert_eq!(t.bob.store.contacts()?.len(), contacts_before);
    Ok(())
}

#[test]
fn a_member_can_neither_freeze_the_revision_nor_remove_without_new_keys() -> Result<()> {
    let mut rng = rng(7);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    let before = t.bob.store.group(&t.group)?.expect("group");
    let bob_at_carol = t.carol.contact_for(&t.bob.identity)?.expect("known");
    let carol_at_bob = t.bob.contact_for(&t.carol.identity)?.expect("known");
    let everyone = [t.alice.identity, t.bob.identity, t.carol.identity];
    let state = |revision, members: &[IdentityKey], distribution: [u8; 16]| {
        Body::GroupUpdate(GroupUpdate {
            group: t.group,
            revision,
            name: "Climbing".into(),
            members: members
                .iter()
                .map(|identity| GroupMemberInfo {
                    identity: *identity,
                    relay: None,
                })
                .collect(),
            distribution_id: uuid::Uuid::from_bytes(distribution),
        })
    };
    let mut carol_sends = |body| -> Result<std::result::Result<Received, Error>> {
        let out = messaging::send_body(&mut t.carol.store, &bob_at_carol, body, now(), &mut rng)?;
        Ok(messaging::receive(
            &mut t.bob.store,
            &carol_at_bob,
            &out.envelope.to_bytes(),
            now(),
            &mut rng,
        ))
    };

    // Carol, a member, jumps the revision to the end of the range: were it
    // taken, no later state (her removal included) could ever be newer.
    let frozen = carol_sends(state(u64::MAX >> 1, &everyone, before.distribution_id))?;
    assert!(
        matches!(frozen, Err(Error::MalformedContent(_))),
        "got {frozen:?}"
    );
    // Carol removes Alice but keeps the sender keys Alice holds.
    let without_alice = [t.bob.identity, t.carol.identity];
    let unrotated = carol_sends(state(
        before.revision + 1,
        &without_alice,
        before.distribution_id,
    ))?;
    assert!(
        matches!(unrotated, Err(Error::MalformedContent(_))),
        "got {unrotated:?}"
    );
    // A small step with new keys is an ordinary change.
    let rotated = carol_sends(state(before.revision + 2, &without_alice, [9; 16]))?;
    assert!(
        matches!(rotated, Ok(Received::GroupChanged(_))),
        "got {rotated:?}"
    );
    // Only that last state was taken.
    let after = t.bob.store.group(&t.group)?.expect("group");
    assert_eq!(after.revision, before.revision + 2);
    assert_eq!(after.distribution_id, [9; 16]);
    Ok(())
}

fn phone(n: &str) -> PhoneNumber {
    PhoneNumber::parse(n, "CH").expect("valid number")
}

/// A member reachable only by SMS gets the group text in their 1:1 session,
/// as SMS, and files it in the group.
#[test]
fn sms_only_members_get_the_text_by_per_recipient_fan_out() -> Result<()> {
    let mut rng = rng(7);
    let mut t = trio(&mut rng)?;
    let carol_phone = phone("+41 79 123 45 67");
    let alice_phone = phone("+41 79 765 43 21");
    // Alice reaches Carol by SMS only: no relay, a phone number.
    let carol_at_alice = t.alice.contact_for(&t.carol.identity)?.expect("known");
    let mut contact = t.alice.store.contact(&carol_at_alice)?.expect("contact");
    contact.relay = None;
    t.alice.store.save_contact(&contact)?;
    t.alice.store.link_phone(&carol_phone, &carol_at_alice)?;
    let alice_at_carol = t.carol.contact_for(&t.alice.identity)?.expect("known");
    t.carol.store.link_phone(&alice_phone, &alice_at_carol)?;

    let sent =
        groups::send_group_text(&mut t.alice.store, &t.group, "by sms", &[], now(), &mut rng)?;
    assert_eq!(sent.relay.len(), 1, "Bob by sender key");
    assert_eq!(sent.sms.len(), 1, "Carol one to one");
    assert_ne!(sent.sms[0].1.envelope.kind, EnvelopeKind::SenderKey);

    let mut alice_sms = SmsEndpoint::new(SmsConfig::default());
    let step = alice_sms.send_group_fanout(&mut t.alice.store, &sent.sms, now())?;
    assert!(!step.outgoing.is_empty());
    for id in &step.outbox_ids {
        messaging::mark_sent(&mut t.alice.store, *id)?;
    }
    let mut carol_sms = SmsEndpoint::new(SmsConfig::default());
    let mut events = Vec::new();
    for sms in &step.outgoing {
        assert_eq!(sms.to, carol_phone);
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS by default")
        };
        let got =
            carol_sms.receive_text(&mut t.carol.store, &alice_phone, text, now(), &mut rng)?;
        events.extend(got.events);
    }
    let filed = events.iter().any(|e| {
        matches!(e, SmsEvent::Received { received: Received::GroupText(m), .. }
            if m.body == "by sms" && m.group == t.group && m.id == sent.message_id)
    });
    assert!(filed, "Carol filed it in the group: {events:?}");
    // The same text reached Bob over the "relay" under the same id.
    deliver_all(&mut [&mut t.alice, &mut t.bob], &mut rng)?;
    let at_bob = t.bob.store.group_messages(&t.group, 10, None)?;
    assert!(at_bob.iter().any(|m| m.id == sent.message_id));

    // A re-send over SMS reuses the stored text and its id.
    let again = groups::fan_out_again(
        &mut t.alice.store,
        &t.group,
        &sent.message_id,
        std::slice::from_ref(&carol_at_alice),
        now(),
        &mut rng,
    )?;
    assert_eq!(again.len(), 1);
    Ok(())
}

/// Sender keys, groups and group texts survive closing and reopening the
/// encrypted store: a member keeps reading after either side restarts.
#[test]
fn sender_keys_and_groups_survive_a_reopen() -> Result<()> {
    let mut rng = rng(8);
    let dir = tempfile::tempdir()?;
    let relay = relay(&mut rng);
    let open = |name: &str, k: u8| SqlCipherStore::open(&db_path(dir.path(), name), &key(k));
    let mut alice = Node::new("Alice", open("alice", 1)?, &mut rng)?;
    let mut bob = Node::new("Bob", open("bob", 2)?, &mut rng)?;
    let bob_at_alice = introduce_one_way(&mut alice, &mut bob, &relay, &mut rng)?;
    introduce_one_way(&mut bob, &mut alice, &relay, &mut rng)?;
    let group = groups::create_group(
        &mut alice.store,
        "Pair",
        &[bob_at_alice],
        Some(&relay),
        now(),
        &mut rng,
    )?;
    let carry = |from: &mut Node<SqlCipherStore>,
                 to: &mut Node<SqlCipherStore>,
                 rng: &mut StdRng|
     -> Result<Vec<Received>> {
        let sender = to.contact_for(&from.identity)?.expect("known");
        let mut got = Vec::new();
        for entry in from.store.outbox()? {
            messaging::mark_sent(&mut from.store, entry.id)?;
            got.push(messaging::receive(
                &mut to.store,
                &sender,
                &entry.envelope.to_bytes(),
                now(),
                rng,
            )?);
        }
        Ok(got)
    };
    carry(&mut alice, &mut bob, &mut rng)?;
    groups::send_group_text(&mut alice.store, &group.id, "one", &[], now(), &mut rng)?;
    carry(&mut alice, &mut bob, &mut rng)?;

    // Both restart.
    let (alice_identity, bob_identity) = (alice.identity, bob.identity);
    drop(alice);
    drop(bob);
    let mut alice = Node {
        name: "Alice",
        store: open("alice", 1)?,
        identity: alice_identity,
        got: Vec::new(),
    };
    let mut bob = Node {
        name: "Bob",
        store: open("bob", 2)?,
        identity: bob_identity,
        got: Vec::new(),
    };
    assert_eq!(alice.store.group(&group.id)?.expect("kept"), group);
    groups::send_group_text(&mut alice.store, &group.id, "two", &[], now(), &mut rng)?;
    let got = carry(&mut alice, &mut bob, &mut rng)?;
    // Only the text: Alice's sender key was not sent again.
    assert_eq!(got.len(), 1);
    assert!(matches!(&got[0], Received::GroupText(m) if m.body == "two"));
    let texts: Vec<String> = bob
        .store
        .group_messages(&group.id, 10, None)?
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(texts, ["two", "one"]);
    Ok(())
}

#[test]
fn sender_keys_no_group_vouches_for_stay_bounded_per_sender() -> Result<()> {
    let mut rng = rng(12);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    let bob_at_carol = t.carol.contact_for(&t.bob.identity)?.expect("known");
    let carol_at_bob = t.bob.contact_for(&t.carol.identity)?.expect("known");
    // Carol's key for the real group reaches Bob with her first text.
    groups::send_group_text(&mut t.carol.store, &t.group, "first", &[], now(), &mut rng)?;
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    let real = t.bob.store.group(&t.group)?.expect("group").distribution_id;

    // Then keys for made-up groups, each with a distribution of its own.
    let own = libsignal_protocol::ProtocolAddress::new("made-up".into(), sotto_core::DEVICE_ID);
    for n in 0..3 * groups::MAX_PENDING_SENDER_KEYS {
        let tag = u8::try_from(n).expect("small");
        let distribution = futures::executor::block_on(
            libsignal_protocol::create_sender_key_distribution_message(
                &own,
                uuid::Uuid::from_bytes([tag; 16]),
                &mut t.carol.store,
                &mut rng,
            ),
        )?;
        let out = messaging::send_body(
            &mut t.carol.store,
            &bob_at_carol,
            Body::GroupSenderKey {
                group: GroupId([tag.wrapping_add(100); 16]),
                distribution: distribution.serialized().to_vec(),
            },
            now(),
            &mut rng,
        )?;
        messaging::receive(
            &mut t.bob.store,
            &carol_at_bob,
            &out.envelope.to_bytes(),
            now(),
            &mut rng,
        )?;
    }
    let kept = t.bob.store.sender_key_distributions(&carol_at_bob)?;
    assert!(kept.contains(&real), "the key the group vouches for stays");
    assert!(
        kept.len() <= groups::MAX_PENDING_SENDER_KEYS + 1,
        "kept {} keys",
        kept.len()
    );

    // Carol's texts in the real group still read.
    groups::send_group_text(&mut t.carol.store, &t.group, "second", &[], now(), &mut rng)?;
    deliver_all(&mut [&mut t.alice, &mut t.bob, &mut t.carol], &mut rng)?;
    assert_eq!(t.bob.group_texts(), ["first", "second"]);
    Ok(())
}

#[test]
fn one_senders_group_states_introduce_a_bounded_number_of_contacts() -> Result<()> {
    let mut rng = rng(13);
    let mut t = trio(&mut rng)?;
    sessions_with_members(&mut t, &mut rng)?;
    let bob_at_carol = t.carol.contact_for(&t.bob.identity)?.expect("known");
    let carol_at_bob = t.bob.contact_for(&t.carol.identity)?.expect("known");
    let contacts_before = t.bob.store.contacts()?.len();
    let full = sotto_core::message::MAX_GROUP_MEMBERS - 2;
    let mut outcomes = Vec::new();
    // Carol makes up full groups of strangers, with Bob and herself in.
    for n in 0..3u8 {
        let mut members = vec![
            GroupMemberInfo {
                identity: t.bob.identity,
                relay: None,
            },
            GroupMemberInfo {
                identity: t.carol.identity,
                relay: None,
            },
        ];
        for _ in 0..full {
            members.push(GroupMemberInfo {
                identity: *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key(),
                relay: None,
            });
        }
        let update = GroupUpdate {
            group: GroupId([0xC0 + n; 16]),
            revision: 1,
            name: "Crowd".into(),
            members,
            distribution_id: uuid::Uuid::from_bytes([0xD0 + n; 16]),
        };
        let out = messaging::send_body(
            &mut t.carol.store,
            &bob_at_carol,
            Body::GroupUpdate(update),
            now(),
            &mut rng,
        )?;
        outcomes.push(messaging::receive(
            &mut t.bob.store,
            &carol_at_bob,
            &out.envelope.to_bytes(),
            now(),
            &mut rng,
        ));
    }
    assert!(matches!(outcomes[0], Ok(Received::GroupChanged(_))));
    assert!(matches!(outcomes[1], Ok(Received::GroupChanged(_))));
    assert!(
        matches!(outcomes[2], Err(Error::MalformedContent(_))),
        "got {:?}",
        outcomes[2]
    );
    assert!(t.bob.store.group(&GroupId([0xC2; 16]))?.is_none());
    assert_eq!(t.bob.store.contacts()?.len(), contacts_before + 2 * full);
    Ok(())
}
