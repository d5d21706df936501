//! `sotto`: the desktop client of Sotto.
//!
//! For now it has one command, `sotto demo`, which runs what the core and
//! the relay can already do end to end on this machine. The rest of the
//! client (init, send, listen, chat, relay serve, calls) is issue 6.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod demo_relay;

/// Sotto: end-to-end encrypted texts and calls, on the Signal protocol.
#[derive(Parser)]
#[command(name = "sotto", version, about, long_about = None)]
#[command(
    after_help = "Example:\n  sotto demo    run two local accounts through an encrypted conversation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs two throw-away accounts through an encrypted conversation and
    /// checks every step. Exits 0 only if every check passed.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => match demo::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
