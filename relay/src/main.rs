//! `sotto-relay`: runs the Sotto relay.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sotto_relay::config::RelayConfig;
use sotto_relay::identity::RelayIdentity;
use sotto_relay::server::RelayServer;
use sotto_relay::storage::SqliteStorage;
use sotto_relay::turn::{load_or_create_secret, public_ip, EmbeddedTurn, TurnIssuer};

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
    let hostnames = vec![config.public_host.clone(), "localhost".into()];
    let (mut identity, created) =
        RelayIdentity::load_or_create(&config.data_dir, &hostnames, &mut rand::rng())
            .map_err(|e| format!("{e} (data directory {})", config.data_dir.display()))?;
    if let Some(tls) = config.operator_tls().map_err(|e| e.to_string())? {
        identity = identity.with_tls(tls.chain, tls.key);
    }
    let storage = SqliteStorage::open(&config.data_dir.join("relay.db"))
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let server = RelayServer::bind(
        config.listen,
        identity,
        Box::new(storage),
        config.limits.to_limits(),
    )
    .await
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let (server, embedded_turn) = start_turn(server, &config).await?;
    let address = server.local_addr().map_err(|e| e.to_string())?;
    let shutdown = shutdown_signal().map_err(|e| format!("cannot handle signals: {e}"))?;
    let invite = server.invite(
        &config.public_host,
        config.public_port.unwrap_or(address.port()),
    );
    // The invite is public (address, certificate hash, trust root public key).
    println!("{invite}");
    std::fs::write(config.data_dir.join("invite.txt"), format!("{invite}\n"))
        .map_err(|e| format!("cannot write invite.txt: {e}"))?;
    if created {
        tracing::info!("created new relay keys");
    }
    tracing::info!(%address, "relay listening");
    let served = server.serve(shutdown).await.map_err(|e| e.to_string());
    if let Some(turn) = embedded_turn {
        turn.close().await;
    }
    served
}

/// Starts the embedded TURN server if configured, and gives the relay the
/// credential issuer for it and for any external TURN servers.
async fn start_turn(
    server: RelayServer,
    config: &RelayConfig,
) -> Result<(RelayServer, Option<EmbeddedTurn>), String> {
    let section = &config.turn;
    if !section.enabled && section.external_servers.is_empty() {
        return Ok((server, None));
    }
    let secret = load_or_create_secret(section, &config.data_dir).map_err(|e| e.to_string())?;
    let mut servers = Vec::new();
    let mut embedded = None;
    if section.enabled {
        let public_ip = public_ip(section).map_err(|e| e.to_string())?;
        let turn = EmbeddedTurn::start(section, secret.clone())
            .await
            .map_err(|e| e.to_string())?;
        let advertised = SocketAddr::new(public_ip, turn.local_addr().port());
        tracing::info!(address = %turn.local_addr(), "TURN listening");
        servers.push(advertised.to_string());
        embedded = Some(turn);
    }
    servers.extend(section.external_servers.iter().cloned());
    let issuer = TurnIssuer::new(
        secret,
        std::time::Duration::from_secs(section.credential_ttl_secs),
        servers,
    );
    Ok((server.with_turn(issuer), embedded))
}

/// Registers the SIGINT and SIGTERM handlers now (so a signal that comes
/// right after the invite is printed is not lost) and returns a future that
/// completes on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
