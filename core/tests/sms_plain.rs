//! The plain-SMS model through the public API: normalised numbers, threads,
//! long texts, MMS, delivery states, history import, and texts that only
//! look like Sotto's. Run on both stores.

mod support;

use std::time::{Duration, SystemTime};

use sotto_core::sms::plain::{self, HistoryItem, ImportReport};
use sotto_core::sms::{gsm7, PhoneNumber, SmsConfig, SmsEndpoint, SmsEvent};
use sotto_core::store::{
    Attachment, Direction, InMemStore, PlainState, SottoStore, SqlCipherStore,
};
use sotto_core::Result;
use support::*;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000 + secs)
}

fn numbers_written_any_way_thread_together<S: SottoStore>(mut store: S) -> Result<()> {
    let mut endpoint = SmsEndpoint::new(SmsConfig::default());
    let mut rng = rng(1);
    // How the radio, the contacts app and the user write one number.
    let spellings = [
        "+49 30 901820",
        "030 901820",
        "0049 30 901820",
        "+4930901820",
    ];
    for (i, spelling) in spellings.iter().enumerate() {
        let from = PhoneNumber::parse(spelling, "DE")?;
        endpoint.receive_text(
            &mut store,
            &from,
            &format!("text {i}"),
            at(i as u64),
            &mut rng,
        )?;
    }
    let other = PhoneNumber::parse("+1 650 253 0000", "DE")?;
    plain::send_sms(&mut store, &other, "hello", at(10))?;
    let threads = store.plain_threads()?;
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0].phone, other);
    assert_eq!(threads[1].phone.as_str(), "+4930901820");
    assert_eq!(threads[1].messages, 4);
    let texts: Vec<String> = store
        .plain_messages(&threads[1].phone, 10, None)?
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(texts, ["text 3", "text 2", "text 1", "text 0"]);
    Ok(())
}

fn long_texts_go_in_several_segments<S: SottoStore>(mut store: S) -> Result<()> {
    let to = PhoneNumber::parse("+4930901820", "DE")?;
    let long = "All work and no play makes Jack a dull boy. ".repeat(10);
    let out = plain::send_sms(&mut store, &to, &long, at(0))?;
    assert_eq!(out.encoding, gsm7::Encoding::Gsm7);
    assert_eq!(out.segments.len(), long.len().div_ceil(153));
    assert_eq!(out.segments.concat(), long);
    let emoji = "Happy birthday 🎂🎉 ".repeat(8);
    let out_emoji = plain::send_sms(&mut store, &to, &emoji, at(1))?;
    assert_eq!(out_emoji.encoding, gsm7::Encoding::Ucs2);
    assert!(out_emoji.segments.len() >= 3);
    // A long text received (the platform joins its segments) keeps its count.
    let received = plain::receive_sms(&mut store, &to, &long, at(2))?;
    let thread = store.plain_messages(&to, 10, None)?;
    let parts: Vec<(i64, u32, Direction)> = thread
        .iter()
        .map(|m| (m.id, m.parts, m.direction))
        .collect();
    assert_eq!(
        parts,
        vec![
            (received, out.segments.len() as u32, Direction::Incoming),
            (
                out_emoji.id,
                out_emoji.segments.len() as u32,
                Direction::Outgoing
            ),
            (out.id, out.segments.len() as u32, Direction::Outgoing),
        ]
    );
    Ok(())
}

fn sent_and_delivered_states<S: SottoStore>(mut store: S) -> Result<()> {
    let to = PhoneNumber::parse("+4930901820", "DE")?;
    let out = plain::send_sms(&mut store, &to, "on my way", at(0))?;
    let state =
        |store: &S| -> Result<PlainState> { Ok(store.plain_messages(&to, 1, None)?[0].state) };
    assert_eq!(state(&store)?, PlainState::Pending);
    assert!(plain::set_state(&mut store, out.id, PlainState::Sent)?);
    assert!(plain::set_state(&mut store, out.id, PlainState::Delivered)?);
    // A late "sent" report after delivery does not move it back.
    assert!(!plain::set_state(&mut store, out.id, PlainState::Sent)?);
    assert_eq!(state(&store)?, PlainState::Delivered);
    Ok(())
}

fn mms_keeps_its_attachments_as_blobs<S: SottoStore>(mut store: S) -> Result<()> {
    let from = PhoneNumber::parse("+4930901820", "DE")?;
    let photo = Attachment {
        mime: "image/jpeg".into(),
        data: (0..50_000u32).map(|i| (i % 251) as u8).collect(),
    };
    let id = plain::receive_mms(&mut store, &from, "the view", vec![photo.clone()], at(0))?;
    assert_eq!(store.plain_attachments(id)?, vec![photo]);
    let huge = Attachment {
        mime: "video/mp4".into(),
        data: vec![0; plain::MAX_MMS_BYTES + 1],
    };
    assert!(plain::send_mms(&mut store, &from, "", vec![huge], at(1)).is_err());
    assert_eq!(store.plain_messages(&from, 10, None)?.len(), 1);
    Ok(())
}

fn history_import_is_idempotent<S: SottoStore>(mut store: S) -> Result<()> {
    let item = |id: &str, address: &str, at_ms: u64| HistoryItem {
        external_id: id.into(),
        address: address.into(),
        direction: Direction::Incoming,
        body: format!("old message {id}"),
        at_ms,
        state: PlainState::Received,
        attachments: Vec::new(),
    };
    let history = vec![
        item("sms:1", "030 901820", 1),
        item("sms:2", "+49 30 901820", 2),
        item("sms:3", "Vodafone", 3),
        item("sms:4", "not a number at all!", 4),
        HistoryItem {
            direction: Direction::Outgoing,
            state: PlainState::Delivered,
            attachments: vec![Attachment {
                mime: "image/png".into(),
                data: vec![137, 80, 78, 71],
            }],
            ..item("mms:1", "+4930901820", 5)
        },
    ];
    let first = plain::import_history(&mut store, &history, "DE")?;
    assert_eq!(
        first,
        ImportReport {
            imported: 4,
            already_there: 0,
            unreadable_address: 1
        }
    );
    let again = plain::import_history(&mut store, &history, "DE")?;
    assert_eq!(again.imported, 0);
    assert_eq!(again.already_there, 4);
    let thread = store.plain_messages(&PhoneNumber::parse("+4930901820", "DE")?, 10, None)?;
    assert_eq!(thread.len(), 3);
    assert_eq!(thread[0].attachment_count, 1);
    assert_eq!(thread[0].state, PlainState::Delivered);
    Ok(())
}

fn look_alikes_stay_plain_and_nothing_leaks<S: SottoStore>(mut store: S) -> Result<()> {
    let mut endpoint = SmsEndpoint::new(SmsConfig::default());
    let mut rng = rng(2);
    let from = PhoneNumber::parse("+4930901820", "DE")?;
    for text in [
        "%S",
        "%S is my favourite format",
        "%Sorry, late!",
        "100%Sure",
    ] {
        let step = endpoint.receive_text(&mut store, &from, text, at(0), &mut rng)?;
        assert!(
            matches!(step.events[..], [SmsEvent::Plain { .. }]),
            "{text}: {:?}",
            step.events
        );
        assert!(step.outgoing.is_empty());
    }
    let stored = store.plain_messages(&from, 10, None)?;
    assert_eq!(stored.len(), 4);
    // Debug output names neither the number nor the text.
    let shown = format!("{stored:?} {:?} {from:?}", store.plain_threads()?);
    assert!(!shown.contains("901820"));
    assert!(!shown.contains("favourite"));
    Ok(())
}

/// Runs each listed test on a fresh in-memory store and a fresh SQLCipher store.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod in_memory {
            use super::*;
            $(
                #[test]
                fn $name() -> Result<()> {
                    super::$name(InMemStore::new())
                }
            )*
        }
        mod sqlcipher {
            use super::*;
            $(
                #[test]
                fn $name() -> Result<()> {
                    let dir = tempfile::tempdir()?;
                    super::$name(SqlCipherStore::open(&db_path(dir.path(), "plain"), &key(3))?)
                }
            )*
        }
    };
}

both_stores!(
    numbers_written_any_way_thread_together,
    long_texts_go_in_several_segments,
    sent_and_delivered_states,
    mms_keeps_its_attachments_as_blobs,
    history_import_is_idempotent,
    look_alikes_stay_plain_and_nothing_leaks,
);
