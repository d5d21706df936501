//! `sotto`: the desktop client of Sotto.
//!
//! Every command works on one account in a data directory and goes through
//! `sotto_core::app::Account`; this crate only parses arguments, asks for
//! the passphrase, and prints. `docs/cli.md` is the manual: commands, exit
//! codes, JSON shapes and the data directory layout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod account_cmd;
mod bench_call;
mod bench_cmd;
mod call_cmd;
mod call_quality;
mod calls_cmd;
mod contact_cmd;
mod demo;
mod demo_call;
mod demo_relay;
mod demo_sms;
mod failure;
mod group_cmd;
mod messaging_cmd;
mod output;
mod relay_cmd;
mod unlock;

use failure::{code, Failure};
use output::Output;

const EXAMPLES: &str = "\
Examples:
  sotto relay serve                          run a relay on 127.0.0.1:7443; prints its invite
  sotto init --relay 'sotto-relay:2/…'       create your account (asks for a passphrase)
  sotto invite                               show your contact invite and its QR code
  sotto contact add 'sotto-contact:2/…' --name Alice
  sotto send Alice 'See you at eight'
  sotto listen                               print texts as they arrive (Ctrl-C stops)
  sotto chat Alice                           talk interactively
  sotto group create Family Alice Bob        a group; then `sotto group send Family '…'`
  sotto verify Alice                         compare safety numbers, then mark verified
  sotto call Alice                           an encrypted call (microphone and speaker)
  sotto answer                               wait for a call and answer it
  sotto demo                                 the whole system on this machine, checked

The passphrase comes from a prompt, SOTTO_PASSPHRASE, or --key-file; never
from an argument. `docs/cli.md` lists exit codes and JSON shapes.";

/// Sotto: end-to-end encrypted texts and calls on the Signal protocol, through a relay
/// that never learns who talks to whom.
#[derive(Parser)]
#[command(name = "sotto", version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Args, Clone)]
pub struct Global {
    /// The account's directory [default: $XDG_DATA_HOME/sotto or
    /// ~/.local/share/sotto]
    #[arg(long, global = true, env = "SOTTO_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Unlock with the raw 256-bit key in FILE (64 hex digits) instead of a
    /// passphrase; `init` creates FILE if it does not exist
    #[arg(long, global = true, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Print JSON (one value per line) instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    /// The data directory: `--data-dir`, `$SOTTO_DATA_DIR`,
    /// `$XDG_DATA_HOME/sotto`, or `~/.local/share/sotto`.
    pub fn data_dir(&self) -> Result<PathBuf, Failure> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(base) = nonempty("XDG_DATA_HOME") {
            return Ok(PathBuf::from(base).join("sotto"));
        }
        if let Some(home) = nonempty("HOME") {
            return Ok(PathBuf::from(home).join(".local/share/sotto"));
        }
        Err(Failure::new(
            code::USAGE,
            "usage",
            "no data directory: HOME is not set",
            "pass --data-dir",
        ))
    }

    /// The output mode.
    pub fn output(&self) -> Output {
        Output { json: self.json }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Creates your account: an encrypted store and an identity key, on a relay
    #[command(
        after_help = "Example:\n  sotto init --relay \"$(cat relay-data/relay/invite.txt)\"\n  SOTTO_PASSPHRASE=… sotto --data-dir ./alice init --relay -   (invite on stdin)"
    )]
    Init(account_cmd::InitArgs),
    /// Shows your contact invite, as a line and a QR code
    #[command(after_help = "Example:\n  sotto invite\n  sotto invite --json | jq -r .invite")]
    Invite(account_cmd::InviteArgs),
    /// Adds or renames a contact
    #[command(subcommand)]
    Contact(contact_cmd::ContactCommand),
    /// Lists your contacts
    Contacts,
    /// Sends a text and waits until the relay took it
    #[command(
        after_help = "Examples:\n  sotto send Alice 'On my way'\n  echo 'from a script' | sotto send Alice -"
    )]
    Send(messaging_cmd::SendArgs),
    /// Prints texts as they arrive and sends delivery receipts
    #[command(
        after_help = "Examples:\n  sotto listen\n  sotto listen --json --count 1 --timeout 60"
    )]
    Listen(messaging_cmd::ListenArgs),
    /// Talks with one contact interactively (one line, one text; /quit ends)
    Chat(messaging_cmd::ChatArgs),
    /// Creates, changes, leaves and sends to group conversations
    #[command(subcommand)]
    Group(group_cmd::GroupCommand),
    /// Lists your groups
    Groups,
    /// Lists conversations, most recent first, with their newest text
    Conversations,
    /// Shows a conversation's stored texts, newest last
    Messages(messaging_cmd::MessagesArgs),
    /// Shows the safety number with a contact and marks them verified
    #[command(
        after_help = "Compare the 60 digits (or scan the code) with the ones on your contact's\nscreen, in person or over a call you trust. If they match, the contact's\nidentity key is theirs.\n\nExample:\n  sotto verify Alice"
    )]
    Verify(contact_cmd::VerifyArgs),
    /// Calls a contact: shows the authentication string, talks until
    /// someone hangs up
    #[command(
        after_help = "Examples:\n  sotto call Alice                     microphone and speaker\n  sotto call Alice --input speech.wav --output heard.wav\n  sotto call Alice --duration 60 --json\n\nRead the two-word authentication string aloud: the other side must see the\nsame words. Ctrl-C hangs up. Exit 12 if the call did not happen (declined,\nbusy, no answer, no media path)."
    )]
    Call(call_cmd::CallArgs),
    /// Waits for a call and answers (or declines) it
    #[command(
        after_help = "Examples:\n  sotto answer\n  sotto answer --timeout 60 --input reply.wav --output heard.wav\n  sotto answer --decline"
    )]
    Answer(call_cmd::AnswerArgs),
    /// Lists the call log, newest first: who, which way, how it ended, how long
    #[command(
        after_help = "Examples:\n  sotto calls\n  sotto calls --json --limit 50\n  sotto calls --json --before 1732600000000   (the next_before of the previous page)"
    )]
    Calls(calls_cmd::CallsArgs),
    /// Accepts a contact's new identity key and shows the texts held under it
    Trust(contact_cmd::TrustArgs),
    /// Runs a relay
    #[command(subcommand)]
    Relay(relay_cmd::RelayCommand),
    /// Runs a benchmark and prints its numbers
    #[command(subcommand)]
    Bench(bench_cmd::BenchCommand),
    /// Runs two throw-away accounts through an encrypted conversation and
    /// checks every step. Exits 0 only if every check passed.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let default = match cli.command {
            Command::Relay(_) => "info",
            _ => "warn",
        };
        tracing_subscriber::EnvFilter::new(default)
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let output = cli.global.output();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output.failure(&failure);
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let global = cli.global;
    match cli.command {
        Command::Init(args) => account_cmd::init(&global, args),
        Command::Invite(args) => account_cmd::invite(&global, args),
        Command::Contact(command) => contact_cmd::contact(&global, command),
        Command::Contacts => contact_cmd::contacts(&global),
        Command::Send(args) => messaging_cmd::send(&global, args),
        Command::Listen(args) => messaging_cmd::listen(&global, args),
        Command::Chat(args) => messaging_cmd::chat(&global, args),
        Command::Group(command) => group_cmd::group(&global, command),
        Command::Groups => group_cmd::groups(&global),
        Command::Conversations => messaging_cmd::conversations(&global),
        Command::Messages(args) => messaging_cmd::messages(&global, args),
        Command::Verify(args) => contact_cmd::verify(&global, args),
        Command::Trust(args) => contact_cmd::trust(&global, args),
        Command::Call(args) => call_cmd::call(&global, args),
        Command::Answer(args) => call_cmd::answer(&global, args),
        Command::Calls(args) => calls_cmd::calls(&global, args),
        Command::Relay(command) => relay_cmd::relay(&global, command),
        Command::Bench(command) => bench_cmd::bench(&global, command),
        Command::Demo => demo::run().map_err(|e| {
            Failure::new(
                code::INTERNAL,
                "demo_failed",
                format!("demo failed: {e}"),
                "",
            )
        }),
    }
}

/// A Tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::from)
}

/// Opens the account in the data directory.
pub fn open_account(global: &Global) -> Result<sotto_core::app::Account, Failure> {
    let dir = global.data_dir()?;
    if !sotto_core::app::Account::exists(&dir) {
        return Err(sotto_core::Error::NoAccount.into());
    }
    let key = unlock::store_key(global.key_file.as_deref(), unlock::Purpose::Open)?;
    Ok(sotto_core::app::Account::open(&dir, &key)?)
}
