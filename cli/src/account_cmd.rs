//! `sotto init` and `sotto invite`.

use std::io::Read;

use clap::Args;
use serde_json::json;
use sotto_core::app::Account;
use sotto_core::relay::client::RelayConnection;
use sotto_core::relay::invite::RelayInvite;

use crate::failure::Failure;
use crate::unlock::{self, Purpose};
use crate::{open_account, output, runtime, Global};

/// How long `init` waits for the relay to show who it is.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// `sotto init`.
#[derive(Args)]
pub struct InitArgs {
    /// The relay invite (`sotto-relay:2/…`, as `sotto relay serve` prints
    /// it), or `-` to read it from stdin
    #[arg(long, value_name = "INVITE")]
    relay: String,
    /// Do not contact the relay now (prekeys are uploaded on the first
    /// connection)
    #[arg(long)]
    offline: bool,
}

/// Reads an argument that may be `-` for stdin.
pub fn argument_or_stdin(value: &str) -> Result<String, Failure> {
    if value == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        Ok(value.to_owned())
    }
}

/// Creates the account.
pub fn init(global: &Global, args: InitArgs) -> Result<(), Failure> {
    let out = global.output();
    let relay = RelayInvite::parse(&argument_or_stdin(&args.relay)?)?;
    let dir = global.data_dir()?;
    if Account::exists(&dir) {
        return Err(sotto_core::Error::AccountExists.into());
    }
    if !args.offline {
        // An account is tied to its relay for good, so a relay that answers
        // but is not vouched for by the invite's trust root (most likely a
        // wrong invite) is refused before the account exists. One that
        // cannot be reached now is not: the upload happens on the first
        // connection.
        let mut rng = rand::rng();
        let probe = async {
            let connect = RelayConnection::connect(&relay, None, &mut rng);
            tokio::time::timeout(PROBE_TIMEOUT, connect).await
        };
        if let Ok(Err(sotto_core::Error::CertificateMismatch)) = runtime()?.block_on(probe) {
            return Err(sotto_core::Error::CertificateMismatch.into());
        }
    }
    let key = unlock::store_key(global.key_file.as_deref(), Purpose::Create)?;
    out.progress("Creating the account (identity key, prekeys, encrypted store)…");
    let account = Account::create(&dir, &key, relay)?;
    let registered = if args.offline {
        false
    } else {
        match runtime()?.block_on(account.register()) {
            Ok(()) => true,
            Err(error) => {
                // The account exists and works; the upload happens again on
                // the first connection.
                let failure = Failure::from(error);
                eprintln!(
                    "warning: could not register with the relay now ({}); your prekeys will be uploaded on the first connection",
                    failure.message
                );
                false
            }
        }
    };
    let invite = account.contact_invite().to_string();
    out.json_line(&json!({
        "data_dir": dir,
        "identity_key": hex::encode(account.identity_key().serialize()),
        "invite": invite,
        "registered": registered,
    }));
    out.text(&format!("Account created in {}.", dir.display()));
    if registered {
        out.text("Registered with the relay.");
    }
    out.text("Your contact invite (give it to your contacts; `sotto invite` shows it again):");
    out.text(&invite);
    Ok(())
}

/// `sotto invite`.
#[derive(Args)]
pub struct InviteArgs {
    /// Print only the invite line, no QR code
    #[arg(long)]
    no_qr: bool,
}

/// Prints the contact invite.
pub fn invite(global: &Global, args: InviteArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let invite = account.contact_invite().to_string();
    out.json_line(&json!({
        "invite": invite,
        "identity_key": hex::encode(account.identity_key().serialize()),
    }));
    out.text(&invite);
    if !args.no_qr && !global.json {
        if let Some(code) = output::qr(invite.as_bytes()) {
            println!("{code}");
        }
    }
    Ok(())
}
