//! `sotto bench …`: benchmarks that print numbers. `relay` runs the relay
//! load benchmark (`sotto_relay::load`, shared with `cargo bench -p
//! sotto-relay --bench relay_load`) against `sotto relay serve` started as
//! a child process, so the relay's memory is measured on its own.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Subcommand;
use serde_json::json;
use sotto_core::relay::invite::RelayInvite;
use sotto_relay::load::{run_load, LoadOptions, LOAD_RELAY_CONFIG};

use crate::failure::{code, Failure};
use crate::{runtime, Global};

/// `sotto bench …`.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Relay load on loopback: clients logged in, envelopes per second,
    /// latency percentiles, relay memory per connection
    #[command(
        after_help = "Examples:\n  ulimit -n 8192 && sotto bench relay\n  sotto bench relay --clients 100 --messages 5000 --json"
    )]
    Relay {
        /// Logged-in recipients
        #[arg(long, default_value_t = 1_000)]
        clients: usize,
        /// Anonymous sending connections
        #[arg(long, default_value_t = 64)]
        senders: usize,
        /// Envelopes in all
        #[arg(long, default_value_t = 50_000)]
        messages: usize,
        /// Most seconds the delivery phase may take
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        timeout: u64,
    },
    /// Call set-up through a relay in this process: dialling to ringing,
    /// to connected, to the first decoded audio on each side
    #[command(
        after_help = "Examples:\n  sotto bench call\n  sotto bench call --calls 50 --relay-only --json"
    )]
    Call {
        /// Calls, one after another
        #[arg(long, default_value_t = 20)]
        calls: usize,
        /// Media through the relay's TURN server instead of direct UDP
        #[arg(long)]
        relay_only: bool,
    },
}

/// Runs `sotto bench call`.
fn bench_call(global: &Global, calls: usize, relay_only: bool) -> Result<(), Failure> {
    if calls == 0 {
        return Err(Failure::input("no calls to time", "pass --calls 1 or more"));
    }
    runtime()?
        .block_on(crate::bench_call::run(calls, relay_only, global.output()))
        .map_err(|e| {
            Failure::new(
                code::INTERNAL,
                "bench_failed",
                format!("bench call failed: {e}"),
                "",
            )
        })
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Runs `sotto bench …`.
pub fn bench(global: &Global, command: BenchCommand) -> Result<(), Failure> {
    let (clients, senders, messages, timeout) = match command {
        BenchCommand::Relay {
            clients,
            senders,
            messages,
            timeout,
        } => (clients, senders, messages, timeout),
        BenchCommand::Call { calls, relay_only } => return bench_call(global, calls, relay_only),
    };
    if clients == 0 || senders == 0 || messages < senders {
        return Err(Failure::input(
            "the benchmark needs clients, senders, and at least one message per sender",
            "pass positive --clients and --senders, and --messages ≥ --senders",
        ));
    }
    // Each client holds one socket here and one in the relay (a child with
    // the same limit).
    let needed = clients + senders + 64;
    if let Some(limit) = open_file_limit().filter(|&limit| limit < needed) {
        return Err(Failure::input(
            format!("{clients} clients need about {needed} open files; the limit is {limit}"),
            "raise it first (`ulimit -n 8192`) or pass fewer --clients",
        ));
    }
    let out = global.output();
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, LOAD_RELAY_CONFIG)?;
    let exe = std::env::current_exe()?;
    let mut relay = Command::new(exe)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["relay", "serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    if let Some(stdout) = relay.stdout.take() {
        BufReader::new(stdout).read_line(&mut line)?;
    }
    let options = LoadOptions {
        clients,
        senders,
        messages,
        deadline: Duration::from_secs(timeout),
    };
    out.progress(&format!(
        "bench relay: {clients} clients, {senders} senders, {} envelopes…",
        messages / senders * senders
    ));
    let report = match RelayInvite::parse(&line) {
        Ok(invite) => runtime()?.block_on(run_load(&invite, relay.id(), &options)),
        Err(e) => Err(e),
    };
    let _ = relay.kill();
    let _ = relay.wait();
    let report = report?;
    out.json_line(&json!({
        "clients": report.clients,
        "senders": senders,
        "connect_seconds": report.connect_seconds,
        "rss_idle_kib": report.rss_idle_kib,
        "rss_connected_kib": report.rss_connected_kib,
        "kib_per_connection": report.kib_per_connection(),
        "sent": report.sent,
        "delivered": report.delivered,
        "seconds": report.seconds,
        "per_second": report.per_second(),
        "p50_ms": report.p50_ms,
        "p99_ms": report.p99_ms,
        "max_ms": report.max_ms,
        "relay_cpu_us_per_envelope": report.relay_cpu_us_per_envelope(),
    }));
    out.text(&report.to_string());
    if report.delivered < report.sent {
        return Err(Failure::new(
            code::TIMEOUT,
            "timeout",
            format!(
                "{} of {} envelopes arrived within {timeout} s",
                report.delivered, report.sent
            ),
            "pass a larger --timeout or fewer --messages",
        ));
    }
    Ok(())
}
