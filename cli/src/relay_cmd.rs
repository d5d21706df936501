//! `sotto relay serve`: the embedded relay (the `sotto-relay` library); the
//! `sotto-relay` binary remains the standalone server.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;
use sotto_relay::config::RelayConfig;
use sotto_relay::serve;

use crate::failure::{code, Failure};
use crate::{runtime, Global};

/// `sotto relay …`.
#[derive(Subcommand)]
pub enum RelayCommand {
    /// Runs a relay until SIGINT or SIGTERM. Its keys and database live in
    /// <data dir>/relay; the first line on stdout is its invite (also in
    /// <data dir>/relay/invite.txt)
    #[command(
        after_help = "Examples:\n  sotto relay serve\n  sotto --data-dir /srv/sotto relay serve --listen 0.0.0.0:7443 --public-host relay.example.org"
    )]
    Serve {
        /// Address to listen on [default: 127.0.0.1:7443, or the config's]
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Host name clients use to reach this relay (goes into the invite)
        #[arg(long, value_name = "HOST")]
        public_host: Option<String>,
        /// A `relay.toml` (limits, TLS certificate); see docs/operating-a-relay.md
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Runs `sotto relay …`.
pub fn relay(global: &Global, command: RelayCommand) -> Result<(), Failure> {
    let RelayCommand::Serve {
        listen,
        public_host,
        config: config_file,
    } = command;
    let mut config = match &config_file {
        Some(path) => RelayConfig::load(path).map_err(|e| {
            Failure::input(
                e.to_string(),
                "fix the configuration file (docs/operating-a-relay.md)",
            )
        })?,
        None => RelayConfig::default(),
    };
    let data_dir = global.data_dir()?;
    // The account data directory is private; the relay's keys live inside.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&data_dir)?;
    config.data_dir = data_dir.join("relay");
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(host) = public_host {
        config.public_host = host;
    }
    let out = global.output();
    runtime()?.block_on(async {
        let shutdown = serve::shutdown_signal()?;
        let ready = |invite: &sotto_core::relay::invite::RelayInvite, address: SocketAddr| {
            // The invite is public; scripts read it from the first line.
            if out.json {
                println!("{}", json!({"invite": invite.to_string(), "listen": address}));
            } else {
                println!("{invite}");
                eprintln!(
                    "Relay listening on {address}. Give the line above to `sotto init --relay`. Ctrl-C stops."
                );
            }
        };
        serve::serve(&config, ready, shutdown).await.map_err(|e| {
            Failure::new(
                code::NETWORK,
                "relay_failed",
                e.to_string(),
                "check the listen address is free and the data directory writable",
            )
        })
    })
}
