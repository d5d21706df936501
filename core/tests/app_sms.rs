//! The application facade's SMS bridge: two accounts exchange a discovery
//! handshake and encrypted texts over a simulated carrier made of their
//! outgoing queues, plain SMS thread by number, status reports move states,
//! and a restart in the middle loses nothing.

mod support;

use std::path::Path;

use sotto_core::app::{
    Account, NumberConversation, QueuedSms, Reach, SentText, SmsReceived, SmsSettings, SmsStatus,
    StoreKey, TextProgress,
};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::sms::plain::HistoryItem;
use sotto_core::sms::{PhoneNumber, Route, SmsBody, TransportPolicy};
use sotto_core::store::{
    Attachment, ContactId, DatabaseKey, DeliveryState, Direction, PlainState, TextTransport,
};
use sotto_core::{Error, Result};

const ALICE: &str = "+4930901820";
const BOB: &str = "+4940123456";

fn relay() -> RelayInvite {
    RelayInvite {
        host: "127.0.0.1".into(),
        port: 7443,
        trust_root: libsignal_protocol::KeyPair::generate(&mut rand::rng()).public_key,
    }
}

fn key(byte: u8) -> StoreKey {
    StoreKey::Raw(DatabaseKey::from_bytes([byte; 32]))
}

fn create(dir: &Path, key_byte: u8, relay: &RelayInvite) -> Result<Account> {
    let account =
        Account::create_with_policy(dir, &key(key_byte), relay.clone(), &support::small_policy())?;
    account.save_sms_settings(&SmsSettings {
        region: "DE".into(),
        ..SmsSettings::default()
    })?;
    Ok(account)
}

/// The sending calls are `async` (the relay route needs the network);
/// these tests take the SMS routes, on a runtime of their own.
trait SendBlocking {
    fn send_text_routed_blocking(&self, contact: &ContactId, text: &str) -> Result<SentText>;
    fn send_text_to_number_blocking(&self, number: &str, text: &str) -> Result<SentText>;
}

fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(work)
}

impl SendBlocking for Account {
    fn send_text_routed_blocking(&self, contact: &ContactId, text: &str) -> Result<SentText> {
        block_on(self.send_text_routed(contact, text))
    }

    fn send_text_to_number_blocking(&self, number: &str, text: &str) -> Result<SentText> {
        block_on(self.send_text_to_number(number, text))
    }
}

/// One phone: its account and its own number, as the carrier knows it.
struct Phone {
    account: Account,
    number: &'static str,
}

/// Carries every SMS `from` has queued to `to`, in the order `shuffle`
/// leaves them, and reports each back to `from` as sent and delivered.
/// Returns what `to` made of each SMS.
fn carry(
    from: &Phone,
    to: &Phone,
    shuffle: impl Fn(&mut Vec<QueuedSms>),
) -> Result<Vec<SmsReceived>> {
    let mut queued = from.account.take_outgoing_sms()?;
    let ids: Vec<i64> = queued.iter().map(|sms| sms.id).collect();
    shuffle(&mut queued);
    let mut outcomes = Vec::new();
    for sms in queued {
        assert_eq!(sms.to.as_str(), to.number, "addressed to the other phone");
        assert!(sms.encrypted, "only Sotto SMS between these two");
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS by default");
        };
        assert!(text.chars().count() <= 160, "one SMS each");
        outcomes.push(to.account.sms_received(from.number, text)?);
    }
    for id in ids {
        from.account.report_sms_status(id, SmsStatus::Sent)?;
        from.account.report_sms_status(id, SmsStatus::Delivered)?;
    }
    Ok(outcomes)
}

/// Carries both ways until neither phone has anything to send; returns
/// what each side received (`a`'s, then `b`'s).
fn settle(a: &Phone, b: &Phone) -> Result<(Vec<SmsReceived>, Vec<SmsReceived>)> {
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    for _round in 0..8 {
        if a.account.waiting_sms()? == 0 && b.account.waiting_sms()? == 0 {
            return Ok((at_a, at_b));
        }
        at_b.extend(carry(a, b, |_| {})?);
        at_a.extend(carry(b, a, |_| {})?);
    }
    panic!("the SMS exchange did not settle");
}

fn handshake_ready(outcomes: &[SmsReceived]) -> Option<ContactId> {
    outcomes.iter().find_map(|outcome| match outcome {
        SmsReceived::Handshake {
            contact,
            session_ready: true,
        } => Some(contact.clone()),
        _ => None,
    })
}

fn texts(outcomes: &[SmsReceived]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            SmsReceived::Text { message, .. } => Some(message.body.clone()),
            _ => None,
        })
        .collect()
}

/// The hello from `number` that `hello` delivered to `phone` waits for its
/// user, who agrees to talk (answering it queues the answer).
fn accept_hello(hello: &[SmsReceived], phone: &Phone, number: &str, name: &str) -> Result<()> {
    let waiting = hello.iter().any(
        |outcome| matches!(outcome, SmsReceived::StrangerWaiting { phone } if phone.as_str() == number),
    );
    assert!(waiting, "a stranger's hello waits for the user");
    assert_eq!(phone.account.sms_strangers_waiting()?.len(), 1);
    let answered = phone.account.accept_sms_stranger(number, name)?;
    assert!(
        matches!(answered, SmsReceived::Handshake { .. }),
        "{answered:?}"
    );
    Ok(())
}

/// Alice and Bob, with sessions made by the SMS handshake; returns how each
/// knows the other (Alice's contact for Bob, Bob's contact for Alice).
fn after_handshake(alice: &Phone, bob: &Phone) -> Result<(ContactId, ContactId)> {
    let bob_at_alice = alice.account.start_sms_handshake(BOB, "Bob")?;
    let hello = carry(alice, bob, |_| {})?;
    accept_hello(&hello, bob, ALICE, "Alice")?;
    let (at_alice, at_bob) = settle(alice, bob)?;
    assert_eq!(handshake_ready(&at_alice), Some(bob_at_alice.clone()));
    let alice_at_bob = handshake_ready(&at_bob).expect("Bob's side of the handshake completed");
    Ok((bob_at_alice, alice_at_bob))
}

#[test]
fn encrypted_texts_cross_the_carrier_after_an_sms_handshake() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    };
    let (bob_at_alice, alice_at_bob) = after_handshake(&alice, &bob)?;

    // No relay connection is up: a text to a contact with a number goes by
    // encrypted SMS.
    assert_eq!(alice.account.route_to(&bob_at_alice)?, Route::EncryptedSms);
    let sent = alice
        .account
        .send_text_routed_blocking(&bob_at_alice, "Running late, see you at the station")?;
    let SentText::Encrypted { route, message_id } = sent else {
        panic!("a Sotto contact is never sent plain SMS");
    };
    assert_eq!(route, Route::EncryptedSms);
    // The carrier reverses the parts and sends the first one twice.
    let at_bob = carry(&alice, &bob, |parts| {
        parts.reverse();
        let first = parts[0].clone();
        parts.push(first);
    })?;
    assert_eq!(texts(&at_bob), ["Running late, see you at the station"]);
    let received = bob.account.messages(&alice_at_bob, 10, None)?;
    assert_eq!(received.len(), 1, "stored once");
    assert_eq!(received[0].direction, Direction::Incoming);
    assert_eq!(bob.account.unread_count(&alice_at_bob)?, 1);
    assert_eq!(bob.account.mark_conversation_read(&alice_at_bob)?, 1);
    assert_eq!(bob.account.unread_count(&alice_at_bob)?, 0);
    assert_eq!(bob.account.mark_conversation_read(&alice_at_bob)?, 0);

    // All parts delivered: the text is delivered.
    let mine = alice.account.messages(&bob_at_alice, 10, None)?;
    let mine = mine.iter().find(|m| m.id == message_id).expect("stored");
    assert_eq!(mine.state, DeliveryState::Delivered);

    // Bob answers by his number.
    let answer = bob
        .account
        .send_text_to_number_blocking("030 901820", "On my way")?;
    assert!(matches!(
        answer,
        SentText::Encrypted {
            route: Route::EncryptedSms,
            ..
        }
    ));
    let (at_alice, _) = settle(&alice, &bob)?;
    assert_eq!(texts(&at_alice), ["On my way"]);

    // Ciphertext never reached a plain thread on either side.
    assert!(alice.account.plain_threads()?.is_empty());
    assert!(bob.account.plain_threads()?.is_empty());
    assert_eq!(
        bob.account.conversation_for_number(ALICE)?,
        NumberConversation::Contact(alice_at_bob)
    );
    Ok(())
}

#[test]
fn the_never_encrypted_sms_policy_keeps_texts_off_sms() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    };
    let (bob_at_alice, _) = after_handshake(&alice, &bob)?;
    alice.account.save_sms_settings(&SmsSettings {
        policy: TransportPolicy {
            never_encrypted_sms: true,
            sms_only: false,
        },
        region: "DE".into(),
        data_sms: false,
    })?;
    // Bob told his relay in the handshake: the text waits for data.
    assert_eq!(
        alice.account.route_to(&bob_at_alice)?,
        Route::RelayWhenOnline
    );
    alice.account.save_sms_settings(&SmsSettings {
        policy: TransportPolicy {
            never_encrypted_sms: true,
            sms_only: true,
        },
        region: "DE".into(),
        data_sms: false,
    })?;
    assert!(matches!(
        alice.account.route_to(&bob_at_alice),
        Err(Error::NoRoute(_))
    ));
    Ok(())
}

#[test]
fn a_contact_added_by_invite_gets_encrypted_sms_once_its_number_is_known() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = create(&dir.path().join("alice"), 1, &relay)?;
    let bob = create(&dir.path().join("bob"), 2, &relay)?;
    let bob_at_alice = alice.add_contact(&bob.contact_invite(), "Bob")?;
    // Same relay, but not connected: the text would wait for data.
    assert_eq!(alice.route_to(&bob_at_alice)?, Route::RelayWhenOnline);
    assert!(matches!(
        alice.link_contact_phone(&bob_at_alice, "12345"),
        Err(Error::InvalidPhoneNumber)
    ));
    alice.link_contact_phone(&bob_at_alice, "040 123456")?;
    assert_eq!(alice.route_to(&bob_at_alice)?, Route::EncryptedSms);
    assert_eq!(
        alice.conversation_for_number(BOB)?,
        NumberConversation::Contact(bob_at_alice.clone())
    );
    assert_eq!(alice.contact_phones(&bob_at_alice)?[0].as_str(), BOB);
    Ok(())
}

#[test]
fn plain_sms_thread_by_number_and_follow_status_reports() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bob = create(&dir.path().join("bob"), 2, &relay())?;

    // A stranger writes, in the national form: threaded by E.164.
    let first = bob.sms_received("030 901820", "Are we still on for Friday?")?;
    let second = bob.sms_received("+49 30 901820", "Text me back")?;
    let thread = PhoneNumber::parse(ALICE, "DE")?;
    assert!(matches!(&first, SmsReceived::Plain { phone, .. } if *phone == thread));
    assert!(matches!(&second, SmsReceived::Plain { phone, .. } if *phone == thread));
    let threads = bob.plain_threads()?;
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].messages, 2);
    assert_eq!(
        bob.conversation_for_number("+4930901820")?,
        NumberConversation::Plain(thread.clone())
    );

    // A text that merely looks like Sotto's prefix stays a plain text.
    let lookalike = bob.sms_received("+4930901820", "~S hello")?;
    assert!(matches!(
        lookalike,
        SmsReceived::Plain { .. } | SmsReceived::Unusable
    ));

    // Bob answers: a plain SMS, since nobody on Sotto has the number.
    let long_text = "Yes! ".repeat(50);
    let sent = bob.send_text_to_number_blocking("030 901820", &long_text)?;
    let SentText::Plain { id } = sent else {
        panic!("a number not on Sotto gets plain SMS");
    };
    let queued = bob.take_outgoing_sms()?;
    assert_eq!(queued.len(), 1, "a long plain text is one multipart SMS");
    assert!(!queued[0].encrypted);
    assert_eq!(queued[0].body, SmsBody::Text(long_text.clone()));
    assert!(bob.take_outgoing_sms()?.is_empty(), "taken once");

    let state_of = |id: i64| -> Result<PlainState> {
        let messages = bob.plain_messages(&thread, 10, None)?;
        Ok(messages.iter().find(|m| m.id == id).expect("stored").state)
    };
    assert_eq!(state_of(id)?, PlainState::Pending);
    bob.report_sms_status(queued[0].id, SmsStatus::Sent)?;
    assert_eq!(state_of(id)?, PlainState::Sent);
    bob.report_sms_status(queued[0].id, SmsStatus::Delivered)?;
    assert_eq!(state_of(id)?, PlainState::Delivered);
    // Delivered is final; the row is gone and a stale report is refused.
    assert!(matches!(
        bob.report_sms_status(queued[0].id, SmsStatus::Failed),
        Err(Error::UnknownMessage)
    ));
    assert_eq!(state_of(id)?, PlainState::Delivered);

    let SentText::Plain { id: failing } = bob.send_text_to_number_blocking(ALICE, "Again?")? else {
        panic!("plain");
    };
    let queued = bob.take_outgoing_sms()?;
    bob.report_sms_status(queued[0].id, SmsStatus::Failed)?;
    assert_eq!(state_of(failing)?, PlainState::Failed);
    assert!(
        bob.take_outgoing_sms()?.is_empty(),
        "not sent again on its own"
    );
    // Service is back: retried, the same SMS goes again.
    assert_eq!(bob.retry_failed_sms()?, 1);
    assert_eq!(state_of(failing)?, PlainState::Pending);
    let again = bob.take_outgoing_sms()?;
    assert_eq!(again, queued);
    bob.report_sms_status(again[0].id, SmsStatus::Sent)?;
    assert_eq!(state_of(failing)?, PlainState::Sent);
    assert_eq!(bob.retry_failed_sms()?, 0);

    // An MMS joins the thread, its parts kept as blobs.
    let picture = Attachment {
        mime: "image/png".into(),
        data: vec![0x89, b'P', b'N', b'G'],
    };
    let (mms_thread, mms) = bob.mms_received("030 901820", "Look!", vec![picture.clone()])?;
    assert_eq!(mms_thread, thread);
    assert_eq!(bob.plain_attachments(mms)?, [picture]);

    // The phone's old history joins the same thread, once.
    let history = [
        HistoryItem {
            external_id: "sms:17".into(),
            address: "030 901820".into(),
            direction: Direction::Incoming,
            body: "From last year".into(),
            at_ms: 1_000,
            state: PlainState::Received,
            attachments: Vec::new(),
        },
        HistoryItem {
            external_id: "sms:18".into(),
            address: "???".into(),
            direction: Direction::Incoming,
            body: "No sender".into(),
            at_ms: 2_000,
            state: PlainState::Received,
            attachments: Vec::new(),
        },
    ];
    let report = bob.import_sms_history(&history)?;
    assert_eq!((report.imported, report.unreadable_address), (1, 1));
    assert_eq!(bob.import_sms_history(&history)?.already_there, 1);
    let oldest = bob.plain_messages(&thread, 100, None)?;
    assert_eq!(
        oldest.last().map(|m| m.body.as_str()),
        Some("From last year")
    );

    // A sender the number parser cannot read is refused, not stored.
    assert!(matches!(
        bob.sms_received("+", "x"),
        Err(Error::InvalidPhoneNumber)
    ));
    Ok(())
}

#[test]
fn an_outgoing_mms_joins_the_plain_thread_and_follows_its_reports() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bob = create(&dir.path().join("bob"), 2, &relay())?;
    let thread = PhoneNumber::parse(ALICE, "DE")?;
    let picture = Attachment {
        mime: "image/jpeg".into(),
        data: vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
    };

    let (to, id) = bob.send_plain_mms("030 901820", "The view", vec![picture.clone()])?;
    assert_eq!(to, thread);
    assert!(
        bob.take_outgoing_sms()?.is_empty(),
        "an MMS never enters the SMS queue"
    );
    let stored = bob.plain_messages(&thread, 10, None)?;
    let mms = stored.iter().find(|m| m.id == id).expect("stored");
    assert_eq!(mms.direction, Direction::Outgoing);
    assert_eq!(mms.body, "The view");
    assert_eq!(mms.state, PlainState::Pending);
    assert!(!mms.encrypted());
    assert_eq!(bob.plain_attachments(id)?, std::slice::from_ref(&picture));

    let state_of = |id: i64| -> Result<PlainState> {
        let messages = bob.plain_messages(&thread, 10, None)?;
        Ok(messages.iter().find(|m| m.id == id).expect("stored").state)
    };
    assert!(bob.report_mms_status(id, SmsStatus::Sent)?);
    assert_eq!(state_of(id)?, PlainState::Sent);
    assert!(bob.report_mms_status(id, SmsStatus::Delivered)?);
    // Delivered is final: a late failure report changes nothing.
    assert!(!bob.report_mms_status(id, SmsStatus::Failed)?);
    assert_eq!(state_of(id)?, PlainState::Delivered);

    let (_, failing) = bob.send_plain_mms(ALICE, "", vec![picture.clone()])?;
    assert!(bob.report_mms_status(failing, SmsStatus::Failed)?);
    assert_eq!(state_of(failing)?, PlainState::Failed);
    // A report for a message that is not there changes nothing.
    assert!(!bob.report_mms_status(failing + 1000, SmsStatus::Sent)?);

    // Refused, and nothing stored: an empty MMS, one over the limit of
    // received MMS, a recipient that is no number.
    let before = bob.plain_messages(&thread, 100, None)?.len();
    assert!(matches!(
        bob.send_plain_mms(ALICE, "", Vec::new()),
        Err(Error::MalformedSms(_))
    ));
    let huge = Attachment {
        mime: "video/mp4".into(),
        data: vec![0; sotto_core::sms::plain::MAX_MMS_BYTES + 1],
    };
    assert!(matches!(
        bob.send_plain_mms(ALICE, "", vec![huge]),
        Err(Error::MessageTooLong)
    ));
    assert!(matches!(
        bob.send_plain_mms("+", "x", vec![picture]),
        Err(Error::InvalidPhoneNumber)
    ));
    assert_eq!(bob.plain_messages(&thread, 100, None)?.len(), before);
    Ok(())
}

#[test]
fn a_restart_in_the_middle_loses_neither_queue_nor_parts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let (alice_dir, bob_dir) = (dir.path().join("alice"), dir.path().join("bob"));
    let mut alice = Phone {
        account: create(&alice_dir, 1, &relay)?,
        number: ALICE,
    };
    let mut bob = Phone {
        account: create(&bob_dir, 2, &relay)?,
        number: BOB,
    };

    // Alice's hello is many SMS; Bob gets half of them, then his app dies.
    let bob_at_alice = alice.account.start_sms_handshake(BOB, "Bob")?;
    let hello = alice.account.take_outgoing_sms()?;
    assert!(hello.len() > 4, "a hello carries a whole prekey bundle");
    let half = hello.len() / 2;
    for sms in &hello[..half] {
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS");
        };
        assert_eq!(
            bob.account.sms_received(ALICE, text)?,
            SmsReceived::PartOfEncrypted
        );
    }
    drop(bob);
    bob = Phone {
        account: Account::open(&bob_dir, &key(2))?,
        number: BOB,
    };
    let mut outcomes = Vec::new();
    for sms in &hello[half..] {
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS");
        };
        outcomes.push(bob.account.sms_received(ALICE, text)?);
    }
    // The hello completed from parts held across the restart.
    accept_hello(&outcomes, &bob, ALICE, "Alice")?;
    for sms in &hello {
        alice.account.report_sms_status(sms.id, SmsStatus::Sent)?;
    }
    // Alice's app dies too while her hello waits for its answer: the
    // answer still completes the handshake she started.
    drop(alice);
    alice = Phone {
        account: Account::open(&alice_dir, &key(1))?,
        number: ALICE,
    };
    let (at_alice, _) = settle(&alice, &bob)?;
    assert_eq!(handshake_ready(&at_alice), Some(bob_at_alice.clone()));

    // Alice queues a text and her app takes it, then dies before sending.
    alice
        .account
        .send_text_routed_blocking(&bob_at_alice, "Did you get this?")?;
    let taken = alice.account.take_outgoing_sms()?;
    assert!(!taken.is_empty());
    drop(alice);
    let alice = Phone {
        account: Account::open(&alice_dir, &key(1))?,
        number: ALICE,
    };
    // Never reported: queued again, and it still arrives once.
    let again = alice.account.take_outgoing_sms()?;
    assert_eq!(
        again.iter().map(|s| s.id).collect::<Vec<_>>(),
        taken.iter().map(|s| s.id).collect::<Vec<_>>()
    );
    let mut at_bob = Vec::new();
    let mut progress = Vec::new();
    for sms in &again {
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS");
        };
        at_bob.push(bob.account.sms_received(ALICE, text)?);
        progress.extend(alice.account.report_sms_status(sms.id, SmsStatus::Sent)?);
    }
    assert_eq!(texts(&at_bob), ["Did you get this?"]);
    let mine = alice.account.messages(&bob_at_alice, 10, None)?;
    assert_eq!(mine[0].state, DeliveryState::Sent);
    // Sent once its last part is: one report of progress, for that text.
    assert_eq!(progress.len(), 1);
    assert_eq!(progress[0].message_id, mine[0].id);
    assert_eq!(progress[0].state, DeliveryState::Sent);
    assert_eq!(alice.account.waiting_sms()?, 0);
    Ok(())
}

#[test]
fn a_contact_with_a_new_identity_is_held_until_trusted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    };
    let (bob_at_alice, _) = after_handshake(&alice, &bob)?;
    alice.account.mark_verified(&bob_at_alice)?;
    assert!(alice.account.contact(&bob_at_alice)?.verified);

    // Bob's phone is wiped: a new account on the same number.
    drop(bob);
    let bob = Phone {
        account: create(&dir.path().join("bob-again"), 3, &relay)?,
        number: BOB,
    };
    // Alice says hello again; the new Bob agrees and answers.
    alice.account.start_sms_handshake(BOB, "Bob")?;
    let hello = carry(&alice, &bob, |_| {})?;
    accept_hello(&hello, &bob, ALICE, "Alice")?;
    // Until Alice's side of the handshake comes back, the new Bob's thread
    // with her number stays plain: nothing proves the hello was hers.
    assert!(matches!(
        bob.account.conversation_for_number(ALICE)?,
        NumberConversation::Plain(_)
    ));
    let at_alice = carry(&bob, &alice, |_| {})?;
    assert!(at_alice.contains(&SmsReceived::IdentityChanged {
        contact: bob_at_alice.clone()
    }));
    let info = alice.account.contact(&bob_at_alice)?;
    assert!(info.identity_changed && !info.identity_conflict);
    assert!(
        !info.verified,
        "the old key's verification is not the new key's"
    );
    assert!(matches!(
        alice.account.mark_verified(&bob_at_alice),
        Err(Error::UntrustedIdentity)
    ));
    assert!(alice.account.held_message_count(&bob_at_alice)? >= 1);

    // Nothing goes to the old key meanwhile.
    assert!(matches!(
        alice
            .account
            .send_text_routed_blocking(&bob_at_alice, "Is that you?"),
        Err(Error::UntrustedIdentity)
    ));

    // The number to compare is the new key's, which is the one the new
    // Bob's phone shows; trusting exactly that key releases what was held,
    // and texts flow to the new key.
    let offered = alice.account.offered_identities(&bob_at_alice)?;
    assert_eq!(offered.len(), 1);
    let NumberConversation::Contact(alice_at_new_bob) =
        bob.account.conversation_for_number(ALICE)?
    else {
        // Still plain at Bob's: his contact for Alice is found by name.
        let alice_at_new_bob = bob.account.contacts()?[0].id.clone();
        assert_eq!(
            offered[0].safety_number.digits,
            bob.account.safety_number(&alice_at_new_bob)?.digits
        );
        return finish_new_bob(&alice, &bob, &bob_at_alice, &alice_at_new_bob, &offered[0]);
    };
    panic!("the new Bob's thread turned encrypted early: {alice_at_new_bob:?}");
}

/// The rest of `a_contact_with_a_new_identity_is_held_until_trusted`, once
/// Alice compared the new key's safety number.
fn finish_new_bob(
    alice: &Phone,
    bob: &Phone,
    bob_at_alice: &ContactId,
    alice_at_new_bob: &ContactId,
    offered: &sotto_core::app::OfferedIdentity,
) -> Result<()> {
    alice
        .account
        .accept_new_identity(bob_at_alice, &offered.key)?;
    assert_eq!(alice.account.held_message_count(bob_at_alice)?, 0);
    alice
        .account
        .send_text_routed_blocking(bob_at_alice, "Welcome back")?;
    let at_bob = carry(alice, bob, |_| {})?;
    assert_eq!(texts(&at_bob), ["Welcome back"]);
    // Alice's text came in the session the new Bob's answer made: the
    // handshake is complete, and his thread with her is encrypted now.
    assert_eq!(
        bob.account.conversation_for_number(ALICE)?,
        NumberConversation::Contact(alice_at_new_bob.clone())
    );
    bob.account
        .send_text_routed_blocking(alice_at_new_bob, "New phone, same Bob")?;
    let at_alice = carry(bob, alice, |_| {})?;
    assert_eq!(texts(&at_alice), ["New phone, same Bob"]);
    Ok(())
}

#[test]
fn a_text_after_the_newest_one_disappeared_still_counts_as_unread() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    };
    let (bob_at_alice, alice_at_bob) = after_handshake(&alice, &bob)?;
    block_on(alice.account.set_disappearing_timer(&bob_at_alice, 60))?;
    alice
        .account
        .send_text_routed_blocking(&bob_at_alice, "gone in a minute")?;
    settle(&alice, &bob)?;
    assert_eq!(bob.account.unread_count(&alice_at_bob)?, 1);
    bob.account.mark_conversation_read(&alice_at_bob)?;
    // An hour on, the text (Bob's newest row) has disappeared; the next
    // one must not take its id, which the read mark covers.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let deleted = bob
        .account
        .with_store(|store| sotto_core::history::delete_expired(store, later))?;
    assert_eq!(deleted, 1);
    alice
        .account
        .send_text_routed_blocking(&bob_at_alice, "still unread")?;
    settle(&alice, &bob)?;
    assert_eq!(bob.account.unread_count(&alice_at_bob)?, 1);
    Ok(())
}

#[test]
fn a_text_records_its_sms_route_and_shows_failed_until_retried() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &relay)?,
        number: BOB,
    };
    let (bob_at_alice, alice_at_bob) = after_handshake(&alice, &bob)?;
    let SentText::Encrypted { route, message_id } = alice
        .account
        .send_text_routed_blocking(&bob_at_alice, "No signal here, trying SMS")?
    else {
        panic!("a Sotto contact is never sent plain SMS");
    };
    assert_eq!(route, Route::EncryptedSms);
    let travel = |phone: &Phone, contact: &ContactId| -> Result<TextTransport> {
        Ok(phone.account.text_transports(contact, &[message_id])?[0])
    };
    assert_eq!(
        travel(&alice, &bob_at_alice)?,
        TextTransport {
            by_sms: true,
            sms_failed: false
        }
    );

    // The radio has no service: every part fails. Each report names the
    // text, still pending in its delivery state, and it shows as failed.
    let queued = alice.account.take_outgoing_sms()?;
    assert!(!queued.is_empty());
    for sms in &queued {
        let moved = alice.account.report_sms_status(sms.id, SmsStatus::Failed)?;
        assert_eq!(
            moved,
            [TextProgress {
                contact: bob_at_alice.clone(),
                message_id,
                state: DeliveryState::Pending,
            }]
        );
    }
    assert!(travel(&alice, &bob_at_alice)?.sms_failed);
    let stored = alice.account.messages(&bob_at_alice, 1, None)?;
    assert_eq!(stored[0].state, DeliveryState::Pending);

    // Service is back: the retry clears the failure, and the text arrives,
    // recorded on Bob's side as come by SMS.
    assert_eq!(alice.account.retry_failed_sms()?, queued.len());
    assert_eq!(
        travel(&alice, &bob_at_alice)?,
        TextTransport {
            by_sms: true,
            sms_failed: false
        }
    );
    let (_, at_bob) = settle(&alice, &bob)?;
    assert_eq!(texts(&at_bob), ["No signal here, trying SMS"]);
    assert_eq!(
        travel(&bob, &alice_at_bob)?,
        TextTransport {
            by_sms: true,
            sms_failed: false
        }
    );
    let stored = alice.account.messages(&bob_at_alice, 1, None)?;
    assert_eq!(stored[0].state, DeliveryState::Delivered);

    // A failure reported after every part was sent (a failed delivery
    // report) marks the text failed and leaves it sent: the report says
    // what a reload shows.
    let SentText::Encrypted { message_id, .. } = alice
        .account
        .send_text_routed_blocking(&bob_at_alice, "Sent, then the network gave up")?
    else {
        panic!("a Sotto contact is never sent plain SMS");
    };
    let queued = alice.account.take_outgoing_sms()?;
    for sms in &queued {
        alice.account.report_sms_status(sms.id, SmsStatus::Sent)?;
    }
    let moved = alice
        .account
        .report_sms_status(queued[0].id, SmsStatus::Failed)?;
    assert_eq!(
        moved,
        [TextProgress {
            contact: bob_at_alice.clone(),
            message_id,
            state: DeliveryState::Sent,
        }]
    );
    assert!(
        alice
            .account
            .text_transports(&bob_at_alice, &[message_id])?[0]
            .sms_failed
    );
    let stored = alice.account.messages(&bob_at_alice, 1, None)?;
    assert_eq!(stored[0].state, DeliveryState::Sent);

    // An id that names no stored text reads as the default: relayed.
    let unknown = sotto_core::message::MessageId([9; 16]);
    assert_eq!(
        alice.account.text_transports(&bob_at_alice, &[unknown])?,
        [TextTransport::default()]
    );
    Ok(())
}

#[test]
fn plain_threads_count_unread_sms_until_marked_read() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bob = create(&dir.path().join("bob"), 2, &relay())?;
    let alice = PhoneNumber::parse(ALICE, "DE")?;
    // History imported from the phone counts as read.
    let history = [HistoryItem {
        external_id: "sms:1".into(),
        address: ALICE.into(),
        direction: Direction::Incoming,
        body: "From last year".into(),
        at_ms: 1_000,
        state: PlainState::Received,
        attachments: Vec::new(),
    }];
    bob.import_sms_history(&history)?;
    assert_eq!(bob.plain_unread_count(&alice)?, 0);

    bob.sms_received(ALICE, "Are we still on for Friday?")?;
    bob.sms_received(ALICE, "Let me know")?;
    // What Bob sends is never unread.
    bob.send_text_to_number_blocking(ALICE, "Yes")?;
    assert_eq!(bob.plain_unread_count(&alice)?, 2);
    assert_eq!(bob.mark_plain_thread_read(&alice)?, 2);
    assert_eq!(bob.plain_unread_count(&alice)?, 0);
    assert_eq!(bob.mark_plain_thread_read(&alice)?, 0);

    bob.sms_received(ALICE, "Great")?;
    assert_eq!(bob.plain_unread_count(&alice)?, 1);
    // Another thread has its own count.
    let other = PhoneNumber::parse(BOB, "DE")?;
    assert_eq!(bob.plain_unread_count(&other)?, 0);
    Ok(())
}

#[test]
fn a_group_reaches_a_member_on_another_relay_by_sms() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Each on a relay of its own: the relay cannot carry between them.
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay())?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &relay())?,
        number: BOB,
    };
    let (bob_at_alice, alice_at_bob) = after_handshake(&alice, &bob)?;

    // The group's state reaches Bob by SMS.
    let group = block_on(
        alice
            .account
            .create_group("Pair", std::slice::from_ref(&bob_at_alice)),
    )?;
    let (_, at_bob) = settle(&alice, &bob)?;
    assert!(at_bob
        .iter()
        .any(|r| matches!(r, SmsReceived::GroupChanged { group: g } if *g == group.id)));
    let members = bob.account.group(&group.id)?.members;
    assert_eq!(members.as_slice(), std::slice::from_ref(&alice_at_bob));

    // A text goes 1:1 in the session, by SMS, and is filed in the group.
    let sent = block_on(alice.account.send_group_text(&group.id, "Dinner at eight"))?;
    assert!(sent.relay.is_empty());
    assert_eq!(sent.sms.len(), 1);
    assert_eq!(
        alice.account.pending_outgoing()?,
        0,
        "nothing left for the relay"
    );
    let (_, at_bob) = settle(&alice, &bob)?;
    let texts: Vec<_> = at_bob
        .iter()
        .filter_map(|r| match r {
            SmsReceived::GroupText { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts.len(), 1, "filed once");
    assert_eq!(texts[0].body, "Dinner at eight");
    assert_eq!(texts[0].sender, Some(alice_at_bob.clone()));
    assert_eq!(bob.account.group_messages(&group.id, 10, None)?.len(), 1);

    // Bob answers the same way.
    block_on(bob.account.send_group_text(&group.id, "On my way"))?;
    let (at_alice, _) = settle(&alice, &bob)?;
    assert!(at_alice.iter().any(|r| matches!(
        r,
        SmsReceived::GroupText { message } if message.body == "On my way"
            && message.sender == Some(bob_at_alice.clone())
    )));
    Ok(())
}

#[test]
fn sms_handshakes_advertise_the_relay_saved_last() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bobs_relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay())?,
        number: ALICE,
    };
    let bob = Phone {
        account: create(&dir.path().join("bob"), 2, &bobs_relay)?,
        number: BOB,
    };
    // Alice's SMS side is running before she moves to Bob's relay.
    alice.account.sms_tick()?;
    let mut settings = alice.account.settings();
    settings.relay = bobs_relay;
    alice.account.save_settings(settings)?;

    let (bob_at_alice, alice_at_bob) = after_handshake(&alice, &bob)?;
    assert_eq!(bob.account.contact(&alice_at_bob)?.reach, Reach::OurRelay);
    assert_eq!(alice.account.contact(&bob_at_alice)?.reach, Reach::OurRelay);
    Ok(())
}

/// Mallory's number, and the number she forges as sender: Mum, whom Alice
/// knows only by plain SMS.
const MALLORY: &str = "+4917000000001";
const MUM: &str = "+4940555123";

/// Delivers every SMS `from` has queued to `to`, claiming `as_number` as
/// the sender (anyone can forge an SMS sender). Returns what `to` made of
/// each.
fn forge(from: &Phone, to: &Phone, as_number: &str) -> Result<Vec<SmsReceived>> {
    let mut outcomes = Vec::new();
    for sms in from.account.take_outgoing_sms()? {
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS by default");
        };
        outcomes.push(to.account.sms_received(as_number, text)?);
        from.account.report_sms_status(sms.id, SmsStatus::Sent)?;
    }
    Ok(outcomes)
}

/// Mum's number is still a plain thread at Alice's, and Alice's reply goes
/// to Mum as a plain SMS (not sealed to anyone's key).
fn mum_stays_plain(alice: &Phone) -> Result<()> {
    assert!(matches!(
        alice.account.conversation_for_number(MUM)?,
        NumberConversation::Plain(_)
    ));
    let sent = alice
        .account
        .send_text_to_number_blocking(MUM, "Yes, 7pm")?;
    assert!(matches!(sent, SentText::Plain { .. }));
    Ok(())
}

/// Alice's contact named `name`.
fn contact_named(alice: &Phone, name: &str) -> Result<sotto_core::app::ContactInfo> {
    Ok(alice
        .account
        .contacts()?
        .into_iter()
        .find(|c| c.name == name)
        .expect("the contact exists"))
}

/// Alice, her plain thread with Mum, and Mallory, a Sotto user Alice also
/// talks to (so Mallory holds Alice's identity and one of her bundles:
/// Alice's hello to her). Returns Mallory's answer to that hello, still
/// queued at Mallory's.
fn alice_mum_and_mallory(dir: &Path, relay: &RelayInvite) -> Result<(Phone, Phone)> {
    let alice = Phone {
        account: create(&dir.join("alice"), 1, relay)?,
        number: ALICE,
    };
    let mallory = Phone {
        account: create(&dir.join("mallory"), 4, relay)?,
        number: MALLORY,
    };
    alice.account.sms_received(MUM, "Dinner on Sunday?")?;
    alice.account.start_sms_handshake(MALLORY, "Mallory")?;
    let hello = carry(&alice, &mallory, |_| {})?;
    accept_hello(&hello, &mallory, ALICE, "Alice")?;
    Ok((alice, mallory))
}

#[test]
fn forged_hellos_from_a_plain_number_are_not_answered_or_trusted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let alice = Phone {
        account: create(&dir.path().join("alice"), 1, &relay)?,
        number: ALICE,
    };
    let mallory = Phone {
        account: create(&dir.path().join("mallory"), 4, &relay)?,
        number: MALLORY,
    };
    alice.account.sms_received(MUM, "Dinner on Sunday?")?;
    // Mallory's hello (15 SMS), sent "from Mum".
    mallory.account.start_sms_handshake(ALICE, "Alice")?;
    let outcomes = forge(&mallory, &alice, MUM)?;
    assert!(outcomes.len() >= 15);
    assert!(outcomes.contains(&SmsReceived::StrangerWaiting {
        phone: PhoneNumber::parse(MUM, "DE")?
    }));
    // Nothing answered (no SMS to Mum, none to Mallory), nothing trusted,
    // and Mum's thread is plain as before.
    assert_eq!(alice.account.waiting_sms()?, 0);
    assert!(alice.account.contacts()?.is_empty());
    mum_stays_plain(&alice)?;
    let queued = alice.account.take_outgoing_sms()?;
    assert_eq!(queued.len(), 1);
    assert!(!queued[0].encrypted);
    // Declined, it is gone.
    alice.account.decline_sms_stranger(MUM)?;
    assert!(alice.account.sms_strangers_waiting()?.is_empty());
    assert!(matches!(
        alice.account.accept_sms_stranger(MUM, "Mum"),
        Err(Error::UnknownContact)
    ));
    Ok(())
}

#[test]
fn a_forged_first_message_naming_our_relay_waits_for_the_user() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (alice, mallory) = alice_mum_and_mallory(dir.path(), &relay())?;
    // Mallory's answer to Alice's hello is a PreKey message under her key,
    // naming Alice's relay as "same relay as yours". She sends it "from Mum".
    let outcomes = forge(&mallory, &alice, MUM)?;
    assert!(outcomes.contains(&SmsReceived::StrangerWaiting {
        phone: PhoneNumber::parse(MUM, "DE")?
    }));
    assert!(
        !outcomes
            .iter()
            .any(|o| matches!(o, SmsReceived::Handshake { .. } | SmsReceived::Text { .. })),
        "{outcomes:?}"
    );
    // No contact for Mum's number, no key, no relay: Alice's reply to Mum
    // goes to Mum, in plain, not sealed to Mallory's mailbox.
    assert_eq!(alice.account.contacts()?.len(), 1, "Mallory only");
    mum_stays_plain(&alice)?;
    Ok(())
}

#[test]
fn an_accepted_forged_hello_never_turns_the_thread_encrypted() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (alice, mallory) = alice_mum_and_mallory(dir.path(), &relay())?;
    // Mallory's answer to Alice's hello waits at Mallory's; first she sends
    // her own hello "from Mum", and Alice, believing it, agrees.
    let forged_answer = mallory.account.take_outgoing_sms()?;
    mallory.account.start_sms_handshake(ALICE, "Alice")?;
    let outcomes = forge(&mallory, &alice, MUM)?;
    accept_hello(&outcomes, &alice, MUM, "Mum")?;
    let mum = contact_named(&alice, "Mum")?;
    assert!(mum.unproven_number, "shown as 'number not proven'");
    // Alice's answer went to Mum's real number, where Mallory cannot read it.
    let answer = alice.account.take_outgoing_sms()?;
    assert!(!answer.is_empty());
    assert!(answer.iter().all(|sms| sms.to.as_str() == MUM));
    // Until Mum's side of the handshake comes back, the thread stays plain.
    assert!(matches!(
        alice.account.conversation_for_number(MUM)?,
        NumberConversation::Plain(_)
    ));
    // Mallory holds the hello's key and one of Alice's bundles: a new
    // session "from Mum" is refused, not taken as the handshake's end.
    let mut refused = Vec::new();
    for sms in &forged_answer {
        let SmsBody::Text(text) = &sms.body else {
            panic!("text SMS by default");
        };
        refused.push(alice.account.sms_received(MUM, text)?);
    }
    assert!(refused.contains(&SmsReceived::Unusable), "{refused:?}");
    assert!(!refused.iter().any(|o| matches!(
        o,
        SmsReceived::Handshake {
            session_ready: true,
            ..
        }
    )));
    assert_eq!(alice.account.route_to(&mum.id)?, Route::PlainSms);
    mum_stays_plain(&alice)?;
    Ok(())
}

#[test]
fn an_answer_not_built_on_our_hello_introduces_no_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (alice, mallory) = alice_mum_and_mallory(dir.path(), &relay())?;
    // Alice says hello to Mum too. Mallory's answer (built on the hello
    // Alice sent her) arrives "from Mum" before Mum's: it does not answer
    // the hello that went to Mum, so it is only a stranger's request.
    alice.account.start_sms_handshake(MUM, "Mum")?;
    drop(alice.account.take_outgoing_sms()?);
    let outcomes = forge(&mallory, &alice, MUM)?;
    assert!(
        !outcomes
            .iter()
            .any(|o| matches!(o, SmsReceived::Handshake { .. } | SmsReceived::Text { .. })),
        "{outcomes:?}"
    );
    let mum = contact_named(&alice, "Mum")?;
    assert_eq!(alice.account.route_to(&mum.id)?, Route::PlainSms, "no key");
    assert!(matches!(
        alice.account.conversation_for_number(MUM)?,
        NumberConversation::Plain(_)
    ));
    Ok(())
}

#[test]
fn sms_sealed_while_locked_open_only_in_the_unlocked_account() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let relay = relay();
    let path = dir.path().join("alice");
    let public = create(&path, 1, &relay)?.locked_inbox_key()?;
    // Locked: no account is open; the app seals with the public key alone.
    let record = "+4940555123 Dinner on Sunday?".as_bytes();
    let sealed = sotto_core::seal_for_locked_inbox(&public, record)?;
    for secret in ["4940555123", "Dinner"] {
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the spool shows nothing of the SMS"
        );
    }
    // Unlocked: the same key, and the record opens.
    let alice = Account::open(&path, &key(1))?;
    assert_eq!(alice.locked_inbox_key()?, public, "one key for the account");
    assert_eq!(&alice.open_locked_inbox(&sealed)?[..], record);
    // Another account cannot open it, nor can a damaged record be opened.
    let other = create(&dir.path().join("other"), 2, &relay)?;
    other.locked_inbox_key()?;
    assert!(matches!(
        other.open_locked_inbox(&sealed),
        Err(Error::Undecryptable(_))
    ));
    let mut damaged = sealed.clone();
    damaged[40] ^= 1;
    assert!(alice.open_locked_inbox(&damaged).is_err());
    assert!(matches!(
        sotto_core::seal_for_locked_inbox(b"garbage", record),
        Err(Error::InvalidLockedInboxKey)
    ));
    Ok(())
}
