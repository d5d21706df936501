//! The relay load benchmark, shared by `cargo bench -p sotto-relay --bench
//! relay_load` and `sotto bench relay`: many logged-in clients on loopback
//! against a relay in another process, plus a pool of anonymous senders.
//! It measures:
//!
//! - the relay's resident memory per idle connection (Linux `/proc`);
//! - envelopes per second delivered (queued durably, pushed, acknowledged);
//! - p50 / p99 latency from `SendEnvelope` to the recipient holding it.
//!
//! Payloads are opaque 400-byte blobs, about the size of a sealed text: the
//! relay never looks inside. The run is bounded by [`LoadOptions::deadline`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sotto_core::relay::client::{Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::IdentityKey;
use tokio::sync::mpsc;

/// `relay.toml` for the relay under load: limits high enough that the
/// benchmark measures throughput, not rate limiting.
pub const LOAD_RELAY_CONFIG: &str = "[limits]\nmax_connections = 100000\n\
    max_connections_per_address = 100000\naccounts_per_address_per_hour = 1000000\n\
    requests_per_second = 1000000\nrequest_burst = 1000000\n\
    account_requests_per_second = 1000000\nrecipient_envelopes_per_second = 1000000\n\
    recipient_burst = 1000000\nmailbox_quota = 1000000\n";

/// The size of a run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Logged-in recipients.
    pub clients: usize,
    /// Anonymous sending connections.
    pub senders: usize,
    /// Envelopes in all (rounded down to a multiple of `senders`).
    pub messages: usize,
    /// The most the delivery phase may take; what has not arrived by then
    /// counts as not delivered.
    pub deadline: Duration,
}

impl Default for LoadOptions {
    /// 1,000 clients, 64 senders, 50,000 envelopes, 300 s at most.
    fn default() -> Self {
        Self {
            clients: 1_000,
            senders: 64,
            messages: 50_000,
            deadline: Duration::from_secs(300),
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Clients logged in.
    pub clients: usize,
    /// Seconds it took to connect and log them in.
    pub connect_seconds: f64,
    /// The relay's resident memory before the clients connected (KiB; 0
    /// where `/proc` is not available).
    pub rss_idle_kib: u64,
    /// The relay's resident memory with every client connected (KiB).
    pub rss_connected_kib: u64,
    /// Envelopes sent.
    pub sent: usize,
    /// Envelopes delivered and acknowledged before the deadline.
    pub delivered: usize,
    /// Seconds from the first send to the last delivery counted.
    pub seconds: f64,
    /// Latency percentiles, send to delivered, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
    /// CPU time (user + system) the relay process spent during the load, ms
    /// (0 where `/proc` is not available). Unlike throughput, this hardly
    /// depends on what else the machine runs.
    pub relay_cpu_ms: f64,
}

impl LoadReport {
    /// Envelopes delivered per second.
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.delivered as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Relay CPU time per delivered envelope, microseconds.
    pub fn relay_cpu_us_per_envelope(&self) -> f64 {
        self.relay_cpu_ms * 1e3 / self.delivered.max(1) as f64
    }

    /// The relay's extra resident memory per connected client, KiB.
    pub fn kib_per_connection(&self) -> f64 {
        self.rss_connected_kib.saturating_sub(self.rss_idle_kib) as f64 / self.clients.max(1) as f64
    }
}

/// The resident memory of process `pid` in KiB (0 if unknown).
pub fn rss_kib(pid: u32) -> u64 {
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

/// The CPU time (user + system) of process `pid` in ms (0 if unknown).
pub fn cpu_ms(pid: u32) -> f64 {
    // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name
    // (which may contain spaces), in clock ticks of 10 ms on Linux.
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 * 10.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the load against the relay of `invite`, whose process is
/// `relay_pid` (for its memory). Fails only if clients cannot connect
/// (raise `ulimit -n` for many clients).
pub async fn run_load(
    invite: &RelayInvite,
    relay_pid: u32,
    options: &LoadOptions,
) -> sotto_core::Result<LoadReport> {
    let invite = Arc::new(invite.clone());
    let clients = options.clients.max(1);
    let senders = options.senders.max(1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle_kib = rss_kib(relay_pid);

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
    let connect_seconds = started.elapsed().as_secs_f64();
    // Memory settles once the relay finished the logins.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected_kib = rss_kib(relay_pid);

    // Receivers: take deliveries, acknowledge, report latency.
    let epoch = Instant::now();
    let (latency_tx, mut latency_rx) = mpsc::unbounded_channel::<Duration>();
    let mut tasks = tokio::task::JoinSet::new();
    for mut connection in connections {
        let latency_tx = latency_tx.clone();
        tasks.spawn(async move {
            while let Ok(delivery) = connection.next_delivery().await {
                let sent_ns = delivery
                    .payload
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or_default();
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
    let per_sender = options.messages / senders;
    let cpu_before_ms = cpu_ms(relay_pid);
    let load_started = Instant::now();
    for seed in 0..senders {
        let invite = invite.clone();
        let identities = identities.clone();
        tasks.spawn(async move {
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
    let sent = per_sender * senders;
    let mut latencies = Vec::with_capacity(sent);
    let deadline = tokio::time::Instant::now() + options.deadline;
    while latencies.len() < sent {
        match tokio::time::timeout_at(deadline, latency_rx.recv()).await {
            Ok(Some(latency)) => latencies.push(latency),
            _ => break,
        }
    }
    let seconds = load_started.elapsed().as_secs_f64();
    let relay_cpu_ms = cpu_ms(relay_pid) - cpu_before_ms;
    tasks.abort_all();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(LoadReport {
        clients,
        connect_seconds,
        rss_idle_kib,
        rss_connected_kib,
        sent,
        delivered: latencies.len(),
        seconds,
        p50_ms: ms(percentile(&latencies, 0.50)),
        p99_ms: ms(percentile(&latencies, 0.99)),
        max_ms: ms(latencies.last().copied().unwrap_or_default()),
        relay_cpu_ms,
    })
}

impl std::fmt::Display for LoadReport {
    /// The benchmark's report lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "relay_load: {} clients logged in in {:.2} s",
            self.clients, self.connect_seconds
        )?;
        writeln!(
            f,
            "relay_load: relay RSS {} KiB idle, {} KiB with {} connections: {:.1} KiB per idle connection",
            self.rss_idle_kib,
            self.rss_connected_kib,
            self.clients,
            self.kib_per_connection()
        )?;
        writeln!(
            f,
            "relay_load: {} of {} envelopes delivered in {:.2} s: {:.0} envelopes/s",
            self.delivered,
            self.sent,
            self.seconds,
            self.per_second()
        )?;
        writeln!(
            f,
            "relay_load: relay CPU {:.0} ms, {:.1} us per envelope",
            self.relay_cpu_ms,
            self.relay_cpu_us_per_envelope()
        )?;
        write!(
            f,
            "relay_load: latency send -> delivered: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}
