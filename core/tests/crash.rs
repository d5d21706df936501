//! Crash safety: a child process receiving messages into an SQLCipher store
//! is killed with SIGKILL at random points, 50 times. The "relay" here is the
//! parent, which re-delivers everything not yet acknowledged; the child
//! acknowledges an envelope only after `messaging::receive` returned, i.e.
//! after its commit. In the end every message is stored exactly once, no
//! message was reported as new twice, and the file passes
//! `PRAGMA cipher_integrity_check`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::Rng;
use sotto_core::messaging::{self, Received};
use sotto_core::store::{Contact, ContactId, InMemStore, SottoStore, SqlCipherStore};
use sotto_core::{prekeys, session, Result};
use support::*;

const MESSAGES: usize = 200;
const TRIALS: usize = 50;
const CHILD_ENV: &str = "SOTTO_CRASH_CHILD_DIR";

/// The child: receives every envelope in `queue.bin` and reports each one
/// on stdout after its commit. Runs only when the parent sets `CHILD_ENV`.
#[test]
fn crash_child() -> Result<()> {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    let dir = PathBuf::from(dir);
    let peer = ContactId::from_string(std::fs::read_to_string(dir.join("peer"))?);
    let mut store = SqlCipherStore::open(&dir.join("bob.db"), &key(2))?;
    let queue = read_queue(&dir.join("queue.bin"))?;
    let mut out = std::io::stdout().lock();
    let mut rng = rng(rand::rng().random());
    for (index, bytes) in queue {
        let outcome = match messaging::receive(&mut store, &peer, &bytes, now(), &mut rng)? {
            Received::Text(_) => "NEW",
            Received::Duplicate => "DUP",
            other => panic!("unexpected {other:?}"),
        };
        writeln!(out, "ACK {index} {outcome}")?;
        out.flush()?;
    }
    Ok(())
}

fn write_queue(path: &Path, queue: &BTreeMap<usize, Vec<u8>>) -> Result<()> {
    let mut bytes = Vec::new();
    for (index, envelope) in queue {
        bytes.extend_from_slice(&(*index as u32).to_le_bytes());
        bytes.extend_from_slice(&(envelope.len() as u32).to_le_bytes());
        bytes.extend_from_slice(envelope);
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

fn read_queue(path: &Path) -> Result<Vec<(usize, Vec<u8>)>> {
    let bytes = std::fs::read(path)?;
    let mut queue = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 8 {
        let index = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let len = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes")) as usize;
        queue.push((index, rest[8..8 + len].to_vec()));
        rest = &rest[8 + len..];
    }
    Ok(queue)
}

/// When to kill a child: after it acknowledged `after_acks` envelopes and
/// a further random pause, so the kill lands anywhere in the next receive.
struct KillPlan {
    after_acks: usize,
    pause: Duration,
}

/// Runs the child once, killing it as planned. Returns the
/// acknowledgements it printed.
fn run_child(dir: &Path, kill: Option<KillPlan>) -> Result<Vec<(usize, String)>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, acks) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|line| line.ok()) {
            // libtest may print its own text before ours on the same line.
            let Some(start) = line.find("ACK ") else {
                continue;
            };
            let mut parts = line[start + 4..].split(' ');
            if let (Some(Ok(index)), Some(outcome)) = (parts.next().map(str::parse), parts.next()) {
                let _ = sender.send((index, outcome.to_owned()));
            }
        }
    });
    let mut received = Vec::new();
    match kill {
        Some(plan) => {
            while received.len() < plan.after_acks {
                match acks.recv() {
                    Ok(ack) => received.push(ack),
                    Err(_) => break, // the child finished first
                }
            }
            std::thread::sleep(plan.pause);
            child.kill()?; // SIGKILL on Unix
            child.wait()?;
        }
        None => assert!(child.wait()?.success(), "the final child run must succeed"),
    }
    received.extend(acks.iter());
    Ok(received)
}

#[test]
fn receiver_killed_at_random_points_loses_and_duplicates_nothing() -> Result<()> {
    if std::env::var(CHILD_ENV).is_ok() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut rng = rng(77);

    // Bob's store is on disk (the child opens it); Alice's is in memory.
    let mut bob = with_account(
        SqlCipherStore::open(&dir.path().join("bob.db"), &key(2))?,
        &mut rng,
    )?;
    let mut alice = with_account(InMemStore::new(), &mut rng)?;
    let (bob_id, alice_id) = (ContactId::random(&mut rng), ContactId::random(&mut rng));
    alice.save_contact(&Contact {
        id: bob_id.clone(),
        name: "Bob".into(),
        relay: None,
    })?;
    bob.save_contact(&Contact {
        id: alice_id.clone(),
        name: "Alice".into(),
        relay: None,
    })?;
    let bundle = prekeys::take_prekey_bundle(&mut bob)?;
    session::start_session(&mut alice, &bob_id, &bundle, now(), &mut rng)?;
    std::fs::write(dir.path().join("peer"), alice_id.as_str())?;

    // The first half are PreKey messages (sent before Alice hears from
    // Bob); message 0 reaches Bob here, Bob answers, and the second half are
    // plain Signal messages.
    let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    for index in 0..MESSAGES {
        if index == MESSAGES / 2 {
            let first = pending.remove(&0).expect("message 0");
            messaging::receive(&mut bob, &alice_id, &first, now(), &mut rng)?;
            let reply = messaging::send_text(&mut bob, &alice_id, "got it", now(), &mut rng)?;
            let reply = reply.envelope.to_bytes();
            messaging::receive(&mut alice, &bob_id, &reply, now(), &mut rng)?;
        }
        let text = format!("crash test {index}");
        let out = messaging::send_text(&mut alice, &bob_id, &text, now(), &mut rng)?;
        pending.insert(index, out.envelope.to_bytes());
    }
    drop(bob);
    let kinds: Vec<u8> = pending.values().map(|bytes| bytes[0]).collect();
    assert!(
        kinds.contains(&0x11) && kinds.contains(&0x12),
        "PreKey and Signal messages"
    );

    let mut reported_new: HashMap<usize, usize> = HashMap::new();
    let mut killed_mid_run = 0;
    let mut dup_acks = 0;
    for trial in 0..=TRIALS {
        if pending.is_empty() {
            break;
        }
        write_queue(&dir.path().join("queue.bin"), &pending)?;
        let kill = (trial < TRIALS).then(|| KillPlan {
            after_acks: rng.random_range(0..pending.len().min(12)),
            pause: Duration::from_micros(rng.random_range(0..3_000)),
        });
        let was_killed = kill.is_some();
        let acks = run_child(dir.path(), kill)?;
        if was_killed && acks.len() < pending.len() {
            killed_mid_run += 1;
        }
        for (index, outcome) in acks {
            pending.remove(&index);
            if outcome == "DUP" {
                dup_acks += 1;
            }
            if outcome == "NEW" {
                *reported_new.entry(index).or_default() += 1;
            }
        }
    }
    eprintln!(
        "killed mid-run {killed_mid_run}, new {}, dup acks {dup_acks}",
        reported_new.len()
    );
    assert!(pending.is_empty(), "everything is acknowledged in the end");
    assert!(
        killed_mid_run >= 10,
        "kills must land mid-run ({killed_mid_run})"
    );
    assert!(
        reported_new.values().all(|&n| n == 1),
        "no message is new twice"
    );

    let bob = SqlCipherStore::open(&dir.path().join("bob.db"), &key(2))?;
    assert!(bob.cipher_integrity_check()?.is_empty());
    let stored: Vec<_> = bob
        .messages(&alice_id, usize::MAX, None)?
        .into_iter()
        .filter(|m| m.direction == sotto_core::store::Direction::Incoming)
        .collect();
    assert_eq!(stored.len(), MESSAGES, "every message stored exactly once");
    let mut bodies: Vec<String> = stored.into_iter().map(|m| m.body).collect();
    bodies.sort();
    let mut expected: Vec<String> = (0..MESSAGES).map(|i| format!("crash test {i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);
    Ok(())
}
