//! `sotto-relay`: runs the Sotto relay.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sotto_core::relay::invite::RelayInvite;
use sotto_relay::config::RelayConfig;
use sotto_relay::serve;

/// The Sotto relay: a sealed-sender mailbox and prekey directory over TLS 1.3.
#[derive(Parser)]
#[command(name = "sotto-relay", version, about)]
#[command(
    after_help = "Example:\n  sotto-relay --config /etc/sotto/relay.toml\n  sotto-relay --listen 127.0.0.1:7443 --data-dir ./relay-data"
)]
struct Args {
    /// Configuration file (TOML); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the database and keys.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Host name clients use to reach this relay (goes into the invite).
    #[arg(long)]
    public_host: Option<String>,
    /// Run the embedded TURN server on this UDP address (turns it on).
    #[arg(long)]
    turn_listen: Option<SocketAddr>,
    /// Address the embedded TURN server advertises relayed ports on.
    #[arg(long)]
    turn_public_ip: Option<std::net::IpAddr>,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The TURN crate's own log lines name client and peer addresses, which
    // the relay never logs; they stay off whatever RUST_LOG says.
    let filter = match "turn=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    if args.json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sotto-relay: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sotto-relay: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => RelayConfig::load(path).map_err(|e| e.to_string())?,
        None => RelayConfig::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(host) = args.public_host {
        config.public_host = host;
    }
    if let Some(listen) = args.turn_listen {
        config.turn.enabled = true;
        config.turn.listen = listen;
    }
    if let Some(ip) = args.turn_public_ip {
        config.turn.public_ip = Some(ip);
    }
    let shutdown = serve::shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?;
    // The invite is public (address, trust root public key).
    let ready = |invite: &RelayInvite, _: std::net::SocketAddr| println!("{invite}");
    serve::serve(&config, ready, shutdown)
        .await
        .map_err(|e| e.to_string())
}
