//! Relay load: 1,000 logged-in clients on loopback against a real
//! `sotto-relay` process, plus a pool of anonymous senders. Prints:
//!
//! - the relay's resident memory per idle connection;
//! - envelopes per second delivered (queued durably, pushed, acknowledged);
//! - p50 / p99 latency from `SendEnvelope` to the recipient holding it.
//!
//! Run: `cargo bench -p sotto-relay --bench relay_load`
//! (`RELAY_LOAD_CLIENTS`, `RELAY_LOAD_SENDERS`, `RELAY_LOAD_MESSAGES` change
//! the sizes). Payloads are opaque 400-byte blobs, about the size of a sealed
//! text: the relay never looks inside.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sotto_core::relay::client::{Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::IdentityKey;
use tokio::sync::mpsc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clients = env_or("RELAY_LOAD_CLIENTS", 1_000);
    let senders = env_or("RELAY_LOAD_SENDERS", 64);
    let messages = env_or("RELAY_LOAD_MESSAGES", 50_000);

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_connections = 100000\nrequests_per_second = 1000000\nrequest_burst = 1000000\n\
         account_requests_per_second = 1000000\nrecipient_envelopes_per_second = 1000000\n\
         recipient_burst = 1000000\nmailbox_quota = 1000000\n",
    )?;
    let exe = env!("CARGO_BIN_EXE_sotto-relay");
    let mut relay = Command::new(exe)
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(relay.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let invite = Arc::new(RelayInvite::parse(&line)?);
    let pid = relay.id();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = rss_kib(pid);

    // Connect and log in every client.
    let started = Instant::now();
    let mut identities = Vec::with_capacity(clients);
    let mut connections = Vec::with_capacity(clients);
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..clients {
        let identity = libsignal_protocol::IdentityKeyPair::generate(&mut rng);
        let login = Login {
            identity: &identity,
            registration_id: 1,
        };
        connections.push(RelayConnection::connect(&invite, Some(login), &mut rng).await?);
        identities.push(*identity.identity_key());
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = rss_kib(pid);
    println!(
        "relay_load: {clients} clients logged in in {:.2} s",
        connect_time.as_secs_f64()
    );
    println!(
        "relay_load: relay RSS {} KiB idle, {} KiB with {clients} connections: {:.1} KiB per idle connection",
        rss_before,
        rss_connected,
        (rss_connected.saturating_sub(rss_before)) as f64 / clients as f64
    );

    // Receivers: take deliveries, acknowledge, report latency.
    let epoch = Instant::now();
    let (latency_tx, mut latency_rx) = mpsc::unbounded_channel::<Duration>();
    for mut connection in connections {
        let latency_tx = latency_tx.clone();
        tokio::spawn(async move {
            while let Ok(delivery) = connection.next_delivery().await {
                let sent_ns =
                    u64::from_be_bytes(delivery.payload[..8].try_into().unwrap_or_default());
                let latency = epoch
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(sent_ns));
                if connection.ack(delivery.envelope_id).await.is_err() {
                    break;
                }
                let _ = latency_tx.send(latency);
            }
        });
    }
    drop(latency_tx);

    // Senders: anonymous connections sending to random recipients.
    let identities: Arc<Vec<IdentityKey>> = Arc::new(identities);
    let per_sender = messages / senders;
    let load_started = Instant::now();
    for seed in 0..senders {
        let invite = invite.clone();
        let identities = identities.clone();
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(1_000 + seed as u64);
            let Ok(mut connection) = RelayConnection::connect(&invite, None, &mut rng).await else {
                return;
            };
            for _ in 0..per_sender {
                let recipient = identities[rng.random_range(0..identities.len())];
                let mut payload = vec![0u8; 400];
                rng.fill(&mut payload[8..]);
                payload[..8].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_be_bytes());
                if connection.send_sealed(&recipient, payload).await.is_err() {
                    return;
                }
            }
        });
    }
    let total = per_sender * senders;
    let mut latencies = Vec::with_capacity(total);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while latencies.len() < total {
        match tokio::time::timeout_at(deadline, latency_rx.recv()).await {
            Ok(Some(latency)) => latencies.push(latency),
            _ => break,
        }
    }
    let elapsed = load_started.elapsed();
    latencies.sort();
    println!(
        "relay_load: {} of {total} envelopes delivered in {:.2} s: {:.0} envelopes/s ({senders} senders, {clients} recipients)",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "relay_load: latency send -> delivered: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    let _ = relay.kill();
    let _ = relay.wait();
    Ok(())
}
