//! `sotto contact add|rename`, `sotto contacts`, `sotto verify`, `sotto trust`.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use serde_json::json;
use sotto_core::app::{Account, ContactInfo, ContactInvite, OfferedIdentity};
use sotto_core::messaging::Received;
use sotto_core::safety::SafetyNumber;

use crate::account_cmd::argument_or_stdin;
use crate::failure::{code, Failure};
use crate::output::{self, contact_json, contact_line, message_json};
use crate::{open_account, Global};

/// `sotto contact …`.
#[derive(Subcommand)]
pub enum ContactCommand {
    /// Adds a contact from their invite (`sotto invite` on their side)
    #[command(
        after_help = "Examples:\n  sotto contact add 'sotto-contact:2/…' --name Alice\n  sotto contact add - --name Alice < alice-invite.txt"
    )]
    Add {
        /// The contact invite, or `-` to read it from stdin
        invite: String,
        /// The name to show for the contact
        #[arg(long)]
        name: String,
    },
    /// Renames a contact
    Rename {
        /// The contact (name or id)
        contact: String,
        /// The new name
        name: String,
    },
}

/// Finds a contact by id, exact name (ignoring case), or id prefix.
pub fn resolve(account: &Account, query: &str) -> Result<ContactInfo, Failure> {
    let query = query.trim();
    let contacts = account.contacts()?;
    if let Some(found) = contacts.iter().find(|c| c.id.as_str() == query) {
        return Ok(found.clone());
    }
    let by_name: Vec<&ContactInfo> = contacts
        .iter()
        .filter(|c| c.name.to_lowercase() == query.to_lowercase())
        .collect();
    let by_prefix: Vec<&ContactInfo> = if query.len() >= 4 {
        contacts
            .iter()
            .filter(|c| c.id.as_str().starts_with(query))
            .collect()
    } else {
        Vec::new()
    };
    match (by_name.as_slice(), by_prefix.as_slice()) {
        ([one], _) | ([], [one]) => Ok((*one).clone()),
        ([], []) => Err(sotto_core::Error::UnknownContact.into()),
        _ => Err(Failure::new(
            code::CONTACT,
            "ambiguous_contact",
            "several contacts fit that name",
            "use the id `sotto contacts` shows",
        )),
    }
}

/// Runs `sotto contact …`.
pub fn contact(global: &Global, command: ContactCommand) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    match command {
        ContactCommand::Add { invite, name } => {
            let invite = ContactInvite::parse(&argument_or_stdin(&invite)?)?;
            let id = account.add_contact(&invite, &name)?;
            let info = account.contact(&id)?;
            out.json_line(&contact_json(&info));
            out.text(&format!("Added: {}", contact_line(&info)));
            if info.reach != sotto_core::app::Reach::OurRelay {
                out.progress(
                    "note: this contact is on another relay; texts cannot reach them from here yet",
                );
            }
        }
        ContactCommand::Rename { contact, name } => {
            let info = resolve(&account, &contact)?;
            account.rename_contact(&info.id, &name)?;
            let info = account.contact(&info.id)?;
            out.json_line(&contact_json(&info));
            out.text(&format!("Renamed: {}", contact_line(&info)));
        }
    }
    Ok(())
}

/// Runs `sotto contacts`.
pub fn contacts(global: &Global) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let contacts = account.contacts()?;
    out.json_line(&json!(contacts
        .iter()
        .map(contact_json)
        .collect::<Vec<_>>()));
    if contacts.is_empty() {
        out.text("No contacts yet. Add one with `sotto contact add <invite> --name <name>`.");
    }
    for contact in &contacts {
        out.text(&contact_line(contact));
    }
    Ok(())
}

/// `sotto verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The contact (name or id)
    contact: String,
    /// Mark the contact verified without asking (you compared the numbers)
    #[arg(long)]
    mark: bool,
    /// Do not print the QR code
    #[arg(long)]
    no_qr: bool,
}

/// Shows the safety number; marks verified on `--mark` or a "yes". While
/// new identity keys are offered in the contact's name, shows their numbers
/// instead, for `sotto trust`, and marks nothing.
pub fn verify(global: &Global, args: VerifyArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let contact = resolve(&account, &args.contact)?;
    let offered = account.offered_identities(&contact.id)?;
    if !offered.is_empty() {
        return show_offered(global, &account, &contact, &offered, args.no_qr);
    }
    let number = account.safety_number(&contact.id)?;
    if !global.json {
        println!("Safety number with {}:\n", contact.name);
        print_number(&number, args.no_qr);
    }
    let mark = if args.mark {
        true
    } else if !global.json && std::io::stdin().is_terminal() && !contact.verified {
        ask_yes(&format!(
            "Do these digits match the ones on {}'s screen? [y/N] ",
            contact.name
        ))?
    } else {
        false
    };
    if mark {
        account.mark_verified(&contact.id)?;
    }
    let verified = mark || contact.verified;
    out.json_line(&json!({
        "contact": contact_json(&account.contact(&contact.id)?),
        "safety_number": number.digits,
        "scannable": hex::encode(&number.scannable),
        "verified": verified,
    }));
    if verified {
        out.text(&format!("{} is verified.", contact.name));
    } else {
        out.text("Not marked verified. Run `sotto verify <contact> --mark` once the digits match.");
    }
    Ok(())
}

/// Prints the safety numbers of the keys offered in `contact`'s name.
fn show_offered(
    global: &Global,
    account: &Account,
    contact: &ContactInfo,
    offered: &[OfferedIdentity],
    no_qr: bool,
) -> Result<(), Failure> {
    let out = global.output();
    if !global.json {
        if offered.len() > 1 {
            println!(
                "WARNING: {} different new identity keys claim to be {}. At most one can be theirs.\n",
                offered.len(),
                contact.name
            );
        } else {
            println!("{} presented a new identity key.\n", contact.name);
        }
        for identity in offered {
            println!("Safety number with the new key:\n");
            print_number(&identity.safety_number, no_qr);
        }
    }
    out.json_line(&json!({
        "contact": contact_json(&account.contact(&contact.id)?),
        "offered_safety_numbers": offered
            .iter()
            .map(|identity| identity.safety_number.digits.clone())
            .collect::<Vec<_>>(),
        "verified": false,
    }));
    out.text(
        "Compare with the contact's phone in person or on a call, then run \
         `sotto trust <contact> --safety-number <digits>` for the key that matches, \
         or `sotto trust <contact> --reject <digits>` for one that does not.",
    );
    Ok(())
}

fn print_number(number: &SafetyNumber, no_qr: bool) {
    let groups: Vec<String> = number.grouped().split(' ').map(str::to_owned).collect();
    for row in groups.chunks(4) {
        println!("    {}", row.join(" "));
    }
    println!();
    if !no_qr {
        if let Some(code) = output::qr(&number.scannable) {
            println!("{code}");
        }
    }
}

fn ask_yes(question: &str) -> Result<bool, Failure> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// `sotto trust`.
#[derive(Args)]
pub struct TrustArgs {
    /// The contact (name or id) whose new identity key to accept
    contact: String,
    /// The safety number of the new key, as `sotto verify` showed it and
    /// the contact's phone shows it (spaces allowed): exactly that key is
    /// accepted
    #[arg(long, value_name = "DIGITS", conflicts_with = "reject")]
    safety_number: Option<String>,
    /// Reject the new key with this safety number (it did not match the
    /// contact's phone): the texts held under it are dropped unread
    #[arg(long, value_name = "DIGITS")]
    reject: Option<String>,
}

/// Accepts (or rejects) a changed identity key, chosen by its safety
/// number, and shows the texts held under it.
pub fn trust(global: &Global, args: TrustArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let contact = resolve(&account, &args.contact)?;
    let offered = account.offered_identities(&contact.id)?;
    if offered.is_empty() {
        return Err(sotto_core::Error::NoIdentityChange.into());
    }
    if let Some(digits) = &args.reject {
        let identity = offered_with_number(&offered, digits)?;
        let dropped = account.reject_new_identity(&contact.id, &identity.key)?;
        out.json_line(&json!({
            "contact": contact_json(&account.contact(&contact.id)?),
            "rejected": dropped,
        }));
        out.text(&format!(
            "Rejected the key; {dropped} held message(s) dropped unread."
        ));
        return Ok(());
    }
    let identity = match &args.safety_number {
        Some(digits) => offered_with_number(&offered, digits)?,
        // At a terminal, one offered key may be confirmed by eye.
        None if offered.len() == 1 && !global.json && std::io::stdin().is_terminal() => {
            println!("Safety number with {}'s new key:\n", contact.name);
            print_number(&offered[0].safety_number, true);
            let question = format!(
                "Do these digits match the ones on {}'s screen? [y/N] ",
                contact.name
            );
            if !ask_yes(&question)? {
                out.text("Nothing accepted.");
                return Ok(());
            }
            &offered[0]
        }
        None => {
            return Err(Failure::new(
                code::INPUT,
                "safety_number_required",
                "say which key to accept: --safety-number <digits>",
                "`sotto verify <contact>` shows the safety number of each key offered",
            ))
        }
    };
    let results = account.accept_new_identity(&contact.id, &identity.key)?;
    let mut texts = Vec::new();
    for result in results {
        if let Ok(Received::Text(message)) = result {
            out.text(&output::message_line(&message, &contact.name));
            texts.push(message_json(&message));
        }
    }
    out.json_line(&json!({
        "contact": contact_json(&account.contact(&contact.id)?),
        "messages": texts,
    }));
    out.text(&format!(
        "Accepted {}'s new identity key. Mark it verified with `sotto verify --mark` once you compared the numbers in person or on a call.",
        contact.name
    ));
    Ok(())
}

/// The offered key whose safety number is `digits` (spaces ignored).
fn offered_with_number<'a>(
    offered: &'a [OfferedIdentity],
    digits: &str,
) -> Result<&'a OfferedIdentity, Failure> {
    let wanted: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
    offered
        .iter()
        .find(|identity| identity.safety_number.digits == wanted)
        .ok_or_else(|| {
            Failure::new(
                code::INPUT,
                "no_such_key",
                "no key offered for this contact has that safety number",
                "`sotto verify <contact>` shows the safety number of each key offered",
            )
        })
}
