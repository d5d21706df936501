//! One suite, run against every `SottoStore`: the in-memory store and the
//! SQLCipher store must behave the same.

mod support;

use libsignal_protocol::KeyPair;
use sotto_core::message::{Envelope, EnvelopeKind, MessageId};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::sms::PhoneNumber;
use sotto_core::store::{
    Attachment, Contact, ContactId, ConversationSettings, DeliveryState, Direction, Group, GroupId,
    GroupMessage, HeldSmsPart, InMemStore, NewPlainMessage, PlainState, SentSms, SottoStore,
    SqlCipherStore, StoredMessage,
};
use sotto_core::{Error, Result};
use std::time::Duration;
use support::*;

fn message(contact: &ContactId, n: u8, direction: Direction, stored_at_ms: u64) -> StoredMessage {
    StoredMessage {
        id: MessageId([n; 16]),
        contact: contact.clone(),
        direction,
        body: format!("message {n}"),
        sent_at_ms: stored_at_ms,
        stored_at_ms,
        state: if direction == Direction::Outgoing {
            DeliveryState::Pending
        } else {
            DeliveryState::Received
        },
        expires_at_ms: None,
    }
}

fn contact<S: SottoStore>(store: &mut S, name: &str) -> Result<ContactId> {
    let id = ContactId::random(&mut rand::rng());
    store.save_contact(&Contact {
        id: id.clone(),
        name: name.into(),
        relay: None,
    })?;
    Ok(id)
}

fn account_is_created_once<S: SottoStore>(mut store: S) -> Result<()> {
    let mut rng = rng(10);
    assert!(store.local_account()?.is_none());
    prekeys::create_account(&mut store, &small_policy(), now(), &mut rng)?;
    assert!(store.local_account()?.is_some());
    assert!(matches!(
        prekeys::create_account(&mut store, &small_policy(), now(), &mut rng),
        Err(Error::AccountExists)
    ));
    assert_eq!(store.one_time_prekey_ids()?.len(), 5);
    assert_eq!(store.one_time_kyber_prekey_ids()?.len(), 5);
    assert_eq!(store.signed_prekey_ids()?.len(), 1);
    assert_eq!(store.last_resort_kyber_prekey_ids()?.len(), 1);
    Ok(())
}

fn one_time_prekeys_are_handed_out_once_then_replenished<S: SottoStore>(store: S) -> Result<()> {
    let mut rng = rng(11);
    let mut store = with_account(store, &mut rng)?;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let bundle = prekeys::take_prekey_bundle(&mut store)?;
        let ec = bundle.pre_key_id()?.expect("one-time EC prekey left");
        assert!(seen.insert(u32::from(ec)));
        assert!(seen.insert(1_000_000 + u32::from(bundle.kyber_pre_key_id()?)));
    }
    // Run dry: no EC one-time key, the Kyber last-resort key instead.
    let dry = prekeys::take_prekey_bundle(&mut store)?;
    assert!(dry.pre_key_id()?.is_none());
    let last_resort = store.last_resort_kyber_prekey_ids()?;
    assert_eq!(last_resort, vec![u32::from(dry.kyber_pre_key_id()?)]);

    let report = prekeys::maintain_prekeys(&mut store, &small_policy(), now(), &mut rng)?;
    assert_eq!(report.new_one_time, 5);
    assert_eq!(report.new_one_time_kyber, 5);
    let fresh = prekeys::take_prekey_bundle(&mut store)?;
    assert!(!seen.contains(&u32::from(fresh.pre_key_id()?.expect("replenished"))));
    Ok(())
}

fn signed_prekeys_rotate_keeping_the_previous_one<S: SottoStore>(store: S) -> Result<()> {
    let mut rng = rng(12);
    let mut store = with_account(store, &mut rng)?;
    let policy = PreKeyPolicy {
        batch: 5,
        low_water: 0,
        ..PreKeyPolicy::default()
    };
    let quiet = prekeys::maintain_prekeys(&mut store, &policy, now(), &mut rng)?;
    assert!(!quiet.changed());
    let later = now() + Duration::from_secs(31 * 24 * 3600);
    let report = prekeys::maintain_prekeys(&mut store, &policy, later, &mut rng)?;
    assert!(report.rotated_signed && report.rotated_last_resort);
    assert_eq!(store.signed_prekey_ids()?.len(), 2);
    assert_eq!(store.last_resort_kyber_prekey_ids()?.len(), 2);
    let much_later = later + Duration::from_secs(31 * 24 * 3600);
    prekeys::maintain_prekeys(&mut store, &policy, much_later, &mut rng)?;
    assert_eq!(store.signed_prekey_ids()?.len(), 2);
    assert_eq!(store.last_resort_kyber_prekey_ids()?.len(), 2);
    Ok(())
}

fn contact_relay_round_trips<S: SottoStore>(mut store: S) -> Result<()> {
    let relay = RelayInvite {
        host: "relay.example".into(),
        port: 7443,
        trust_root: KeyPair::generate(&mut rng(2)).public_key,
    };
    let with_relay = Contact {
        id: ContactId::random(&mut rng(3)),
        name: "Erin".into(),
        relay: Some(relay),
    };
    store.save_contact(&with_relay)?;
    assert_eq!(store.contact(&with_relay.id)?, Some(with_relay.clone()));
    let sms_only = Contact {
        relay: None,
        ..with_relay.clone()
    };
    store.save_contact(&sms_only)?;
    assert_eq!(store.contacts()?, vec![sms_only]);
    Ok(())
}

fn rollback_undoes_everything<S: SottoStore>(mut store: S) -> Result<()> {
    let c = contact(&mut store, "Carol")?;
    store.begin()?;
    assert!(matches!(store.begin(), Err(Error::NestedTransaction)));
    store.insert_message(&message(&c, 1, Direction::Incoming, 10))?;
    store.save_contact(&Contact {
        id: ContactId::random(&mut rng(1)),
        name: "Dan".into(),
        relay: None,
    })?;
    store.rollback()?;
    assert!(store.messages(&c, 10, None)?.is_empty());
    assert_eq!(store.contacts()?.len(), 1);
    store.begin()?;
    store.insert_message(&message(&c, 1, Direction::Incoming, 10))?;
    store.commit()?;
    assert_eq!(store.messages(&c, 10, None)?.len(), 1);
    assert!(matches!(store.commit(), Err(Error::NoTransaction)));
    Ok(())
}

fn messages_page_newest_first<S: SottoStore>(mut store: S) -> Result<()> {
    let c = contact(&mut store, "Carol")?;
    let other = contact(&mut store, "Eve")?;
    for n in 0..20u8 {
        store.insert_message(&message(&c, n, Direction::Incoming, 100 + u64::from(n)))?;
    }
    store.insert_message(&message(&other, 99, Direction::Incoming, 500))?;
    // Cursors beyond what SQLite's integers hold are clamped, not refused.
    assert_eq!(store.messages(&c, 1, Some(u64::MAX))?.len(), 1);
    let page = store.messages(&c, 5, None)?;
    let ids: Vec<u8> = page.iter().map(|m| m.id.0[0]).collect();
    assert_eq!(ids, vec![19, 18, 17, 16, 15]);
    let next = store.messages(&c, 5, Some(page[4].stored_at_ms))?;
    assert_eq!(next[0].id.0[0], 14);
    assert!(matches!(
        store.insert_message(&message(&c, 3, Direction::Incoming, 1)),
        Err(Error::AlreadyStored)
    ));
    // The same id in the other direction is a different message.
    store.insert_message(&message(&c, 3, Direction::Outgoing, 1))?;

    // Messages stored in one millisecond: paging by the last message's
    // time still reaches every one of them, each once.
    let dave = contact(&mut store, "Dave")?;
    for n in 20..25 {
        store.insert_message(&message(&dave, n, Direction::Incoming, 500))?;
    }
    let mut seen = Vec::new();
    let mut before = None;
    for _page in 0..5 {
        let page = store.messages(&dave, 2, before)?;
        let Some(last) = page.last() else { break };
        before = Some(last.stored_at_ms);
        seen.extend(page.iter().map(|m| m.id));
    }
    seen.sort();
    assert_eq!(
        seen,
        (20..25).map(|n| MessageId([n; 16])).collect::<Vec<_>>()
    );
    Ok(())
}

fn delivery_state_only_moves_forward<S: SottoStore>(mut store: S) -> Result<()> {
    let c = contact(&mut store, "Carol")?;
    store.insert_message(&message(&c, 1, Direction::Outgoing, 1))?;
    store.insert_message(&message(&c, 2, Direction::Incoming, 2))?;
    let id = MessageId([1; 16]);
    assert!(store.advance_delivery_state(&c, &id, DeliveryState::Delivered)?);
    assert!(!store.advance_delivery_state(&c, &id, DeliveryState::Sent)?);
    assert!(store.advance_delivery_state(&c, &id, DeliveryState::Read)?);
    // Receipts never touch incoming messages.
    assert!(!store.advance_delivery_state(&c, &MessageId([2; 16]), DeliveryState::Read)?);
    Ok(())
}

fn expiry_and_settings<S: SottoStore>(mut store: S) -> Result<()> {
    let c = contact(&mut store, "Carol")?;
    assert_eq!(
        store.conversation_settings(&c)?,
        ConversationSettings::default()
    );
    let settings = ConversationSettings {
        expire_timer_secs: 60,
        keep_no_history: true,
    };
    store.save_conversation_settings(&c, &settings)?;
    assert_eq!(store.conversation_settings(&c)?, settings);
    let mut expiring = message(&c, 1, Direction::Incoming, 1);
    expiring.expires_at_ms = Some(1_000);
    store.insert_message(&expiring)?;
    store.insert_message(&message(&c, 2, Direction::Incoming, 2))?;
    assert_eq!(store.delete_expired_messages(999)?, 0);
    assert_eq!(store.delete_expired_messages(1_000)?, 1);
    assert_eq!(store.messages(&c, 10, None)?.len(), 1);
    assert_eq!(store.delete_conversation_messages(&c)?, 1);
    store.checkpoint()?;
    Ok(())
}

fn received_ids_outbox_and_held<S: SottoStore>(mut store: S) -> Result<()> {
    let c = contact(&mut store, "Carol")?;
    let id = MessageId([5; 16]);
    assert!(store.record_received_id(&c, &id, 1)?);
    assert!(!store.record_received_id(&c, &id, 2)?);
    let envelope = Envelope {
        kind: EnvelopeKind::Signal,
        ciphertext: vec![1, 2, 3],
    };
    let first = store.push_outbox(&c, &id, &envelope)?;
    let second = store.push_outbox(&c, &MessageId([6; 16]), &envelope)?;
    let queued = store.outbox()?;
    assert_eq!(
        queued.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![first, second]
    );
    assert_eq!(store.take_outbox(first)?.map(|e| e.message_id), Some(id));
    assert_eq!(store.take_outbox(first)?, None);
    // An id handed to a transport never comes back for another envelope,
    // even after the newest entry was taken.
    let third = store.push_outbox(&c, &MessageId([7; 16]), &envelope)?;
    assert!(store.take_outbox(third)?.is_some());
    let fourth = store.push_outbox(&c, &MessageId([8; 16]), &envelope)?;
    assert!(fourth > third);
    let held = store.hold_envelope(&c, &envelope, None)?;
    assert_eq!(store.held_envelopes(&c)?.len(), 1);
    assert_eq!(store.held_envelope_count(&c)?, 1);
    store.remove_held_envelope(held)?;
    assert_eq!(store.held_envelope_count(&c)?, 0);
    assert!(store.held_envelopes(&c)?.is_empty());
    Ok(())
}

fn identity_trust_records<S: SottoStore>(store: S) -> Result<()> {
    let mut rng = rng(13);
    let (mut alice, _bob) = introduce(
        with_account(store, &mut rng)?,
        with_account(InMemStore::new(), &mut rng)?,
        &mut rng,
    )?;
    let record = alice
        .store
        .identity_record(&alice.peer)?
        .expect("trusted on first use");
    assert!(!record.verified);
    alice.store.set_identity_verified(&alice.peer, true)?;
    assert!(
        alice
            .store
            .identity_record(&alice.peer)?
            .expect("known")
            .verified
    );
    let other = *another_account(&mut rng).identity.identity_key();
    alice.store.trust_identity(&alice.peer, &other)?;
    let replaced = alice.store.identity_record(&alice.peer)?.expect("known");
    assert_eq!(replaced.key, other);
    assert!(!replaced.verified, "a new key starts unverified");
    Ok(())
}

fn another_account(rng: &mut rand::rngs::StdRng) -> sotto_core::store::LocalAccount {
    let mut store = InMemStore::new();
    prekeys::create_account(&mut store, &small_policy(), now(), rng).expect("account")
}

/// A sender-key group session from `sender` (whose keys are in `sending`)
/// to one member (whose keys are in `receiving`): distribution, then three
/// messages.
fn group_exchange(
    sending: &mut dyn libsignal_protocol::SenderKeyStore,
    receiving: &mut dyn libsignal_protocol::SenderKeyStore,
    sender: &libsignal_protocol::ProtocolAddress,
    distribution: uuid::Uuid,
    rng: &mut rand::rngs::StdRng,
) -> Result<()> {
    use futures::executor::block_on;
    use libsignal_protocol::{
        create_sender_key_distribution_message, group_decrypt, group_encrypt,
        process_sender_key_distribution_message,
    };
    let skdm = block_on(create_sender_key_distribution_message(
        sender,
        distribution,
        sending,
        rng,
    ))?;
    block_on(process_sender_key_distribution_message(
        sender, &skdm, receiving,
    ))?;
    for n in 0..3u8 {
        let message = block_on(group_encrypt(sending, sender, distribution, &[n; 40], rng))?;
        let plain = block_on(group_decrypt(message.serialized(), receiving, sender))?;
        assert_eq!(plain, vec![n; 40]);
    }
    Ok(())
}

fn sender_keys_round_trip<S: SottoStore>(mut store: S) -> Result<()> {
    use futures::executor::block_on;
    use libsignal_protocol::ProtocolAddress;
    let mut rng = rng(14);
    let distribution = uuid::Uuid::from_bytes([7; 16]);
    let me = ProtocolAddress::new("me".into(), sotto_core::DEVICE_ID);
    let them = ProtocolAddress::new("them".into(), sotto_core::DEVICE_ID);
    let mut other = InMemStore::new();
    // The store under test as the sender, then as the receiver.
    group_exchange(&mut store, &mut other, &me, distribution, &mut rng)?;
    group_exchange(&mut other, &mut store, &them, distribution, &mut rng)?;
    assert!(block_on(store.load_sender_key(&me, distribution))?.is_some());
    assert!(block_on(store.load_sender_key(&them, distribution))?.is_some());
    assert!(block_on(store.load_sender_key(&them, uuid::Uuid::nil()))?.is_none());

    // A contact's keys are listed and forgotten by distribution.
    let contact = ContactId::random(&mut rng);
    let address = ProtocolAddress::new(contact.as_str().to_owned(), sotto_core::DEVICE_ID);
    group_exchange(
        &mut other,
        &mut store,
        &address,
        uuid::Uuid::from_bytes([9; 16]),
        &mut rng,
    )?;
    group_exchange(&mut other, &mut store, &address, distribution, &mut rng)?;
    assert_eq!(
        store.sender_key_distributions(&contact)?,
        [[7; 16], [9; 16]]
    );
    store.forget_sender_key(&contact, &[9; 16])?;
    assert_eq!(store.sender_key_distributions(&contact)?, [[7; 16]]);
    assert!(
        block_on(store.load_sender_key(&them, distribution))?.is_some(),
        "other senders' keys stay"
    );
    Ok(())
}

fn phone(text: &str) -> PhoneNumber {
    PhoneNumber::parse(text, "DE").expect("valid number")
}

fn plain(to: &PhoneNumber, at_ms: u64, body: &str, external: Option<&str>) -> NewPlainMessage {
    NewPlainMessage {
        phone: to.clone(),
        direction: Direction::Incoming,
        body: body.into(),
        parts: 1,
        at_ms,
        state: PlainState::Received,
        attachments: Vec::new(),
        external_id: external.map(str::to_owned),
    }
}

fn phones_link_to_one_contact<S: SottoStore>(mut store: S) -> Result<()> {
    let alice = contact(&mut store, "Alice")?;
    let bob = contact(&mut store, "Bob")?;
    let (home, work) = (phone("+4930901820"), phone("+4930901821"));
    assert_eq!(store.contact_by_phone(&home)?, None);
    store.link_phone(&home, &alice)?;
    store.link_phone(&work, &alice)?;
    assert_eq!(store.contact_by_phone(&home)?, Some(alice.clone()));
    assert_eq!(store.phones_of(&alice)?, vec![home.clone(), work.clone()]);
    // A number belongs to one contact: linking it again moves it.
    store.link_phone(&work, &bob)?;
    assert_eq!(store.phones_of(&alice)?, vec![home]);
    assert_eq!(store.contact_by_phone(&work)?, Some(bob));
    Ok(())
}

fn plain_threads_page_and_dedupe<S: SottoStore>(mut store: S) -> Result<()> {
    let (a, b) = (phone("+4930901820"), phone("87121"));
    for (i, (to, at)) in [(&a, 10), (&b, 20), (&a, 30), (&a, 40)]
        .into_iter()
        .enumerate()
    {
        let external = format!("sms:{i}");
        assert!(store
            .insert_plain_message(&plain(to, at, "hi", Some(&external)))?
            .is_some());
    }
    // The same platform message again is not stored twice.
    assert_eq!(
        store.insert_plain_message(&plain(&a, 10, "hi", Some("sms:0")))?,
        None
    );
    // Messages without an external id never collide.
    store.insert_plain_message(&plain(&b, 50, "later", None))?;
    store.insert_plain_message(&plain(&b, 50, "later", None))?;
    let threads = store.plain_threads()?;
    assert_eq!(
        threads
            .iter()
            .map(|t| (t.phone.clone(), t.last_at_ms, t.messages))
            .collect::<Vec<_>>(),
        vec![(b.clone(), 50, 3), (a.clone(), 40, 3)]
    );
    let page = store.plain_messages(&a, 2, None)?;
    assert_eq!(
        page.iter().map(|m| m.at_ms).collect::<Vec<_>>(),
        vec![40, 30]
    );
    let older = store.plain_messages(&a, 2, Some(30))?;
    assert_eq!(older.iter().map(|m| m.at_ms).collect::<Vec<_>>(), vec![10]);
    assert!(page.iter().all(|m| !m.encrypted() && m.phone == a));
    Ok(())
}

fn plain_states_and_attachments<S: SottoStore>(mut store: S) -> Result<()> {
    let to = phone("+4930901820");
    let mms = NewPlainMessage {
        direction: Direction::Outgoing,
        state: PlainState::Pending,
        attachments: vec![
            Attachment {
                mime: "image/jpeg".into(),
                data: vec![0xFF, 0xD8, 0xFF, 0xE0],
            },
            Attachment {
                mime: "text/vcard".into(),
                data: b"BEGIN:VCARD".to_vec(),
            },
        ],
        ..plain(&to, 5, "look", None)
    };
    let id = store.insert_plain_message(&mms)?.expect("stored");
    assert_eq!(store.plain_attachments(id)?, mms.attachments);
    assert_eq!(store.plain_messages(&to, 10, None)?[0].attachment_count, 2);
    assert!(store.set_plain_state(id, PlainState::Sent)?);
    assert!(!store.set_plain_state(id, PlainState::Pending)?);
    assert!(store.set_plain_state(id, PlainState::Failed)?);
    assert!(
        store.set_plain_state(id, PlainState::Pending)?,
        "a failed message may be retried"
    );
    assert!(store.set_plain_state(id, PlainState::Delivered)?);
    assert!(!store.set_plain_state(id, PlainState::Failed)?);
    assert!(!store.set_plain_state(id + 1000, PlainState::Sent)?);
    assert_eq!(
        store.plain_messages(&to, 10, None)?[0].state,
        PlainState::Delivered
    );
    // Rolled back with everything else.
    store.begin()?;
    store.insert_plain_message(&plain(&to, 6, "gone", None))?;
    store.link_phone(&to, &ContactId::random(&mut rand::rng()))?;
    store.rollback()?;
    assert_eq!(store.plain_messages(&to, 10, None)?.len(), 1);
    assert_eq!(store.contact_by_phone(&to)?, None);
    Ok(())
}

fn sms_parts_are_held_and_released<S: SottoStore>(mut store: S) -> Result<()> {
    let (a, b) = (phone("+4930901820"), phone("+4930901821"));
    let part = |p: &PhoneNumber, wire_id: u32, n: u8| HeldSmsPart {
        id: 0,
        phone: p.clone(),
        wire_id,
        count: 3,
        data: n % 2 == 1,
        body: vec![n; 10],
        received_at_ms: u64::from(n),
    };
    let ids = [
        store.hold_sms_part(&part(&a, 7, 0))?,
        store.hold_sms_part(&part(&a, 7, 1))?,
        store.hold_sms_part(&part(&b, 7, 2))?,
        store.hold_sms_part(&part(&a, 8, 3))?,
    ];
    let held = store.held_sms_parts()?;
    assert_eq!(held.iter().map(|p| p.id).collect::<Vec<_>>(), ids);
    assert_eq!(
        held[1],
        HeldSmsPart {
            id: ids[1],
            ..part(&a, 7, 1)
        }
    );
    assert_eq!(store.release_sms_parts(&a, 7, 3)?, 2);
    assert_eq!(store.release_sms_parts(&a, 7, 4)?, 0);
    let left: Vec<u32> = store.held_sms_parts()?.iter().map(|p| p.wire_id).collect();
    assert_eq!(left, vec![7, 8]);
    Ok(())
}

fn app_settings_round_trip_and_roll_back<S: SottoStore>(mut store: S) -> Result<()> {
    assert_eq!(store.app_setting("relay")?, None);
    store.begin()?;
    store.save_app_setting("relay", "first")?;
    store.save_app_setting("read_receipts", "false")?;
    store.commit()?;
    assert_eq!(store.app_setting("relay")?.as_deref(), Some("first"));
    store.begin()?;
    store.save_app_setting("relay", "second")?;
    store.rollback()?;
    assert_eq!(store.app_setting("relay")?.as_deref(), Some("first"));
    store.begin()?;
    store.save_app_setting("relay", "third")?;
    store.commit()?;
    assert_eq!(store.app_setting("relay")?.as_deref(), Some("third"));
    assert_eq!(
        store.app_setting("read_receipts")?.as_deref(),
        Some("false")
    );
    assert_eq!(store.app_setting("Relay")?, None, "keys are exact");
    Ok(())
}

fn group(id: u8, members: &[ContactId], key_sent_to: &[ContactId], name: &str) -> Group {
    Group {
        id: GroupId([id; 16]),
        name: name.into(),
        revision: u64::from(id),
        distribution_id: [id + 100; 16],
        members: members.to_vec(),
        key_sent_to: key_sent_to.to_vec(),
        active: true,
    }
}

fn group_message(group: u8, sender: Option<&ContactId>, n: u8, stored_at_ms: u64) -> GroupMessage {
    GroupMessage {
        id: MessageId([n; 16]),
        group: GroupId([group; 16]),
        sender: sender.cloned(),
        body: format!("group text {n}"),
        sent_at_ms: stored_at_ms - 1,
        stored_at_ms,
    }
}

fn groups_round_trip_and_roll_back<S: SottoStore>(mut store: S) -> Result<()> {
    let mut members = vec![contact(&mut store, "a")?, contact(&mut store, "b")?];
    members.sort();
    assert!(store.group(&GroupId([1; 16]))?.is_none());
    let choir = group(1, &members, &members[..1], "Choir");
    let band = group(2, &members[1..], &[], "Band");
    store.save_group(&choir)?;
    store.save_group(&band)?;
    assert_eq!(store.group(&choir.id)?, Some(choir.clone()));
    assert_eq!(
        store.groups()?,
        vec![band.clone(), choir.clone()],
        "by name"
    );

    // Saving again replaces members and who has our key.
    let mut changed = choir.clone();
    changed.members = members[1..].to_vec();
    changed.key_sent_to = Vec::new();
    changed.revision = 5;
    changed.active = false;
    store.save_group(&changed)?;
    assert_eq!(store.group(&choir.id)?, Some(changed.clone()));

    store.begin()?;
    store.save_group(&group(3, &members, &[], "Gone"))?;
    store.save_group(&choir)?;
    store.rollback()?;
    assert!(store.group(&GroupId([3; 16]))?.is_none());
    assert_eq!(store.group(&choir.id)?, Some(changed));
    Ok(())
}

fn group_messages_page_newest_first_and_dedupe<S: SottoStore>(mut store: S) -> Result<()> {
    let a = contact(&mut store, "a")?;
    let b = contact(&mut store, "b")?;
    assert!(store.insert_group_message(&group_message(1, None, 1, 100))?);
    assert!(store.insert_group_message(&group_message(1, Some(&a), 2, 200))?);
    assert!(store.insert_group_message(&group_message(1, Some(&b), 3, 300))?);
    assert!(store.insert_group_message(&group_message(2, Some(&a), 4, 250))?);
    // The same id from another sender is another message; from the same
    // sender it is the same one.
    assert!(store.insert_group_message(&group_message(1, Some(&b), 2, 310))?);
    assert!(!store.insert_group_message(&group_message(1, Some(&a), 2, 320))?);
    assert!(!store.insert_group_message(&group_message(1, None, 1, 330))?);

    let page = store.group_messages(&GroupId([1; 16]), 3, None)?;
    let ids: Vec<u64> = page.iter().map(|m| m.stored_at_ms).collect();
    assert_eq!(ids, [310, 300, 200]);
    assert_eq!(page[2], group_message(1, Some(&a), 2, 200));
    let rest = store.group_messages(&GroupId([1; 16]), 10, Some(200))?;
    assert_eq!(rest, vec![group_message(1, None, 1, 100)]);
    assert_eq!(store.group_messages(&GroupId([2; 16]), 10, None)?.len(), 1);

    let ours = store.outgoing_group_message(&GroupId([1; 16]), &MessageId([1; 16]))?;
    assert_eq!(ours, Some(group_message(1, None, 1, 100)));
    assert!(
        store
            .outgoing_group_message(&GroupId([1; 16]), &MessageId([2; 16]))?
            .is_none(),
        "only our own texts"
    );

    store.begin()?;
    assert!(store.insert_group_message(&group_message(1, None, 9, 400))?);
    store.rollback()?;
    assert_eq!(store.group_messages(&GroupId([1; 16]), 10, None)?.len(), 4);

    // Texts stored in one millisecond: paging by the last text's time
    // still reaches every one of them, each once.
    for n in 20..25 {
        assert!(store.insert_group_message(&group_message(3, Some(&a), n, 500))?);
    }
    let mut seen = Vec::new();
    let mut before = None;
    for _page in 0..5 {
        let page = store.group_messages(&GroupId([3; 16]), 2, before)?;
        let Some(last) = page.last() else { break };
        before = Some(last.stored_at_ms);
        seen.extend(page.iter().map(|m| m.id));
    }
    seen.sort();
    assert_eq!(
        seen,
        (20..25).map(|n| MessageId([n; 16])).collect::<Vec<_>>()
    );
    Ok(())
}

fn held_group_texts_are_counted_and_taken_per_group<S: SottoStore>(mut store: S) -> Result<()> {
    let a = contact(&mut store, "a")?;
    let b = contact(&mut store, "b")?;
    store.hold_group_text(&group_message(1, Some(&a), 1, 100))?;
    store.hold_group_text(&group_message(2, Some(&a), 2, 110))?;
    store.hold_group_text(&group_message(1, Some(&b), 3, 120))?;
    store.hold_group_text(&group_message(1, Some(&a), 4, 130))?;
    assert_eq!(store.held_group_text_count(&a)?, 3);
    assert_eq!(store.held_group_text_count(&b)?, 1);

    store.begin()?;
    assert_eq!(store.take_held_group_texts(&GroupId([1; 16]))?.len(), 3);
    store.rollback()?;
    let taken = store.take_held_group_texts(&GroupId([1; 16]))?;
    assert_eq!(
        taken,
        vec![
            group_message(1, Some(&a), 1, 100),
            group_message(1, Some(&b), 3, 120),
            group_message(1, Some(&a), 4, 130),
        ],
        "oldest first"
    );
    assert!(store.take_held_group_texts(&GroupId([1; 16]))?.is_empty());
    assert_eq!(
        store.held_group_text_count(&a)?,
        1,
        "the other group's stays"
    );
    assert!(store
        .group_messages(&GroupId([1; 16]), 10, None)?
        .is_empty());
    Ok(())
}

fn sent_sms_are_kept_updated_and_forgotten<S: SottoStore>(mut store: S) -> Result<()> {
    let a = contact(&mut store, "a")?;
    let sent = |n: u8, text: Option<(ContactId, MessageId)>| SentSms {
        id: 0,
        phone: phone("+41791234567"),
        wire_id: u32::from(n) * 1000,
        payload: vec![n; 40],
        data: n % 2 == 0,
        sent_at_ms: 1_000 + u64::from(n),
        text,
        refreshes_left: 3,
    };
    let first = store.keep_sent_sms(&sent(1, Some((a.clone(), MessageId([9; 16])))))?;
    let second = store.keep_sent_sms(&sent(2, None))?;
    store.begin()?;
    store.keep_sent_sms(&sent(3, None))?;
    store.rollback()?;
    store.set_sent_sms_refreshes(first, 0)?;
    let kept = store.sent_sms()?;
    assert_eq!(kept.len(), 2);
    assert_eq!(
        kept[0],
        SentSms {
            id: first,
            refreshes_left: 0,
            ..sent(1, Some((a.clone(), MessageId([9; 16]))))
        },
        "oldest first"
    );
    assert_eq!(
        kept[1],
        SentSms {
            id: second,
            ..sent(2, None)
        }
    );
    store.forget_sent_sms(first)?;
    assert_eq!(store.sent_sms()?.len(), 1);
    Ok(())
}

macro_rules! conformance_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn account_is_created_once() -> Result<()> {
                let (_guard, store) = $make;
                super::account_is_created_once(store)
            }
            #[test]
            fn one_time_prekeys_are_handed_out_once_then_replenished() -> Result<()> {
                let (_guard, store) = $make;
                super::one_time_prekeys_are_handed_out_once_then_replenished(store)
            }
            #[test]
            fn signed_prekeys_rotate_keeping_the_previous_one() -> Result<()> {
                let (_guard, store) = $make;
                super::signed_prekeys_rotate_keeping_the_previous_one(store)
            }
            #[test]
            fn contact_relay_round_trips() -> Result<()> {
                let (_guard, store) = $make;
                super::contact_relay_round_trips(store)
            }
            #[test]
            fn rollback_undoes_everything() -> Result<()> {
                let (_guard, store) = $make;
                super::rollback_undoes_everything(store)
            }
            #[test]
            fn messages_page_newest_first() -> Result<()> {
                let (_guard, store) = $make;
                super::messages_page_newest_first(store)
            }
            #[test]
            fn delivery_state_only_moves_forward() -> Result<()> {
                let (_guard, store) = $make;
                super::delivery_state_only_moves_forward(store)
            }
            #[test]
            fn expiry_and_settings() -> Result<()> {
                let (_guard, store) = $make;
                super::expiry_and_settings(store)
            }
            #[test]
            fn received_ids_outbox_and_held() -> Result<()> {
                let (_guard, store) = $make;
                super::received_ids_outbox_and_held(store)
            }
            #[test]
            fn sender_keys_round_trip() -> Result<()> {
                let (_guard, store) = $make;
                super::sender_keys_round_trip(store)
            }
            #[test]
            fn identity_trust_records() -> Result<()> {
                let (_guard, store) = $make;
                super::identity_trust_records(store)
            }
            #[test]
            fn phones_link_to_one_contact() -> Result<()> {
                let (_guard, store) = $make;
                super::phones_link_to_one_contact(store)
            }
            #[test]
            fn plain_threads_page_and_dedupe() -> Result<()> {
                let (_guard, store) = $make;
                super::plain_threads_page_and_dedupe(store)
            }
            #[test]
            fn plain_states_and_attachments() -> Result<()> {
                let (_guard, store) = $make;
                super::plain_states_and_attachments(store)
            }
            #[test]
            fn sms_parts_are_held_and_released() -> Result<()> {
                let (_guard, store) = $make;
                super::sms_parts_are_held_and_released(store)
            }
            #[test]
            fn groups_round_trip_and_roll_back() -> Result<()> {
                let (_guard, store) = $make;
                super::groups_round_trip_and_roll_back(store)
            }
            #[test]
            fn group_messages_page_newest_first_and_dedupe() -> Result<()> {
                let (_guard, store) = $make;
                super::group_messages_page_newest_first_and_dedupe(store)
            }
            #[test]
            fn held_group_texts_are_counted_and_taken_per_group() -> Result<()> {
                let (_guard, store) = $make;
                super::held_group_texts_are_counted_and_taken_per_group(store)
            }
            #[test]
            fn sent_sms_are_kept_updated_and_forgotten() -> Result<()> {
                let (_guard, store) = $make;
                super::sent_sms_are_kept_updated_and_forgotten(store)
            }
            #[test]
            fn app_settings_round_trip_and_roll_back() -> Result<()> {
                let (_guard, store) = $make;
                super::app_settings_round_trip_and_roll_back(store)
            }
        }
    };
}

conformance_suite!(in_memory, ((), InMemStore::new()));

/// A store in a fresh temporary directory, which lives as long as the guard.
fn temp_sqlcipher() -> (tempfile::TempDir, SqlCipherStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqlCipherStore::open(&dir.path().join("store.db"), &key(7)).expect("open store");
    (dir, store)
}

conformance_suite!(sqlcipher, temp_sqlcipher());
