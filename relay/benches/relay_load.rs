//! Relay load: 1,000 logged-in clients on loopback against a real
//! `sotto-relay` process, plus a pool of anonymous senders. The measuring
//! lives in `sotto_relay::load` (shared with `sotto bench relay`); this
//! starts the relay process and prints the report.
//!
//! Run: `cargo bench -p sotto-relay --bench relay_load`
//! (`RELAY_LOAD_CLIENTS`, `RELAY_LOAD_SENDERS`, `RELAY_LOAD_MESSAGES` change
//! the sizes).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use sotto_core::relay::invite::RelayInvite;
use sotto_relay::load::{run_load, LoadOptions, LOAD_RELAY_CONFIG};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let defaults = LoadOptions::default();
    let options = LoadOptions {
        clients: env_or("RELAY_LOAD_CLIENTS", defaults.clients),
        senders: env_or("RELAY_LOAD_SENDERS", defaults.senders),
        messages: env_or("RELAY_LOAD_MESSAGES", defaults.messages),
        ..defaults
    };

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("relay.toml");
    std::fs::write(&config, LOAD_RELAY_CONFIG)?;
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
    let invite = RelayInvite::parse(&line)?;
    let report = run_load(&invite, relay.id(), &options).await;
    let _ = relay.kill();
    let _ = relay.wait();
    println!("{}", report?);
    println!(
        "relay_load: {} senders, {} recipients",
        options.senders, options.clients
    );
    Ok(())
}
