//! `sotto group …` and `sotto groups`: encrypted group conversations
//! (libsignal sender keys over the relay, `docs/groups.md`) through the
//! facade's group methods. Commands that change a group or send to it
//! wait, like `sotto send`, until the relay took what they queued.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sotto_core::app::Account;
use sotto_core::store::{ContactId, Group, GroupId, GroupMessage};

use crate::account_cmd::argument_or_stdin;
use crate::contact_cmd::resolve;
use crate::failure::{code, Failure};
use crate::messaging_cmd::{seconds, Live};
use crate::output::{self, Output};
use crate::{open_account, runtime, Global};

/// `sotto group …`.
#[derive(Subcommand)]
pub enum GroupCommand {
    /// Creates a group with contacts on your relay and tells them
    #[command(
        after_help = "Example:\n  sotto group create Family Alice Bob\n\nThe members learn of each other through the group; each sees the others as\ncontacts (named \"Group member\" until renamed)."
    )]
    Create {
        /// The group's name (1 to 100 characters)
        name: String,
        /// The members (contact names or ids)
        #[arg(required = true, value_name = "CONTACT")]
        contacts: Vec<String>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Adds contacts to a group
    #[command(after_help = "Example:\n  sotto group add Family Carol")]
    Add {
        /// The group (name or id)
        group: String,
        /// The contacts to add (names or ids)
        #[arg(required = true, value_name = "CONTACT")]
        contacts: Vec<String>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Removes members from a group; they cannot read what follows
    #[command(after_help = "Example:\n  sotto group remove Family Carol")]
    Remove {
        /// The group (name or id)
        group: String,
        /// The members to remove (names or ids)
        #[arg(required = true, value_name = "CONTACT")]
        contacts: Vec<String>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Leaves a group (its texts stay here)
    Leave {
        /// The group (name or id)
        group: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Sends a text to a group and waits until the relay took it
    #[command(
        after_help = "Examples:\n  sotto group send Family 'Dinner at eight'\n  echo 'from a script' | sotto group send Family -"
    )]
    Send {
        /// The group (name or id)
        group: String,
        /// The text, or `-` to read it from stdin
        text: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Shows a group's stored texts, newest last
    Messages(GroupMessagesArgs),
}

/// How long a command waits for the relay to take what it queued.
#[derive(Args)]
pub struct Wait {
    /// Seconds to wait for the relay to take what was queued (0: wait
    /// forever); on timeout it stays queued and goes with the next
    /// connection
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
}

/// `sotto group messages`.
#[derive(Args)]
pub struct GroupMessagesArgs {
    /// The group (name or id)
    group: String,
    /// How many texts (the newest)
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// Only texts stored before this time (ms since the epoch; the
    /// `next_before` of the previous page)
    #[arg(long, value_name = "MS")]
    before: Option<u64>,
}

/// A group id as text: 32 hex digits.
pub fn group_id(id: &GroupId) -> String {
    hex::encode(id.0)
}

/// The shortest id prefix a group can be named by.
const MIN_PREFIX: usize = 4;

/// Finds a group by id, name (ignoring case) or id prefix (at least 4 hex
/// digits). A query that fits several groups (by name or by prefix) is
/// refused rather than guessed.
pub fn resolve_group(account: &Account, query: &str) -> Result<Group, Failure> {
    let query = query.trim();
    let lower = query.to_lowercase();
    let groups = account.groups()?;
    if let Some(found) = groups.iter().find(|g| group_id(&g.id) == lower) {
        return Ok(found.clone());
    }
    // Every group the query could mean, by name or by id prefix: exactly
    // one, or the query is refused.
    let fits: Vec<&Group> = groups
        .iter()
        .filter(|g| {
            g.name.to_lowercase() == lower
                || (query.len() >= MIN_PREFIX && group_id(&g.id).starts_with(&lower))
        })
        .collect();
    match fits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(unknown_group()),
        _ => Err(Failure::new(
            code::CONTACT,
            "ambiguous_group",
            "several groups fit that name or id prefix",
            "use more of the id `sotto groups` shows",
        )),
    }
}

fn unknown_group() -> Failure {
    Failure::from(sotto_core::Error::UnknownGroup)
}

/// The contacts named on the command line, each once.
fn resolve_contacts(account: &Account, queries: &[String]) -> Result<Vec<ContactId>, Failure> {
    let mut ids = Vec::new();
    for query in queries {
        let id = resolve(account, query)?.id;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A contact's name, or "?" if it is gone.
fn name_of(account: &Account, contact: &ContactId) -> String {
    account
        .contact(contact)
        .map(|c| c.name)
        .unwrap_or_else(|_| "?".into())
}

/// A group as JSON: id, name, members (id and name), revision, active.
pub fn group_json(account: &Account, group: &Group) -> Value {
    json!({
        "id": group_id(&group.id),
        "name": group.name,
        "members": group.members.iter().map(|m| json!({
            "id": m.as_str(),
            "name": name_of(account, m),
        })).collect::<Vec<_>>(),
        "revision": group.revision,
        "active": group.active,
    })
}

/// A group text as JSON.
pub fn group_message_json(message: &GroupMessage) -> Value {
    json!({
        "id": output::message_id(&message.id),
        "group": group_id(&message.group),
        "sender": message.sender.as_ref().map(ContactId::as_str),
        "direction": if message.sender.is_some() { "incoming" } else { "outgoing" },
        "text": message.body,
        "sent_at_ms": message.sent_at_ms,
        "stored_at_ms": message.stored_at_ms,
    })
}

/// A group text as one line for people: time, group, who, text.
pub fn group_message_line(account: &Account, message: &GroupMessage, group_name: &str) -> String {
    let time = output::clock(message.sent_at_ms);
    let who = match &message.sender {
        Some(sender) => name_of(account, sender),
        None => "you".into(),
    };
    format!("[{time}] {who} in {group_name}: {}", message.body)
}

/// A group as one line in `sotto groups`.
fn group_line(account: &Account, group: &Group) -> String {
    let id = group_id(&group.id);
    let mut names: Vec<String> = group.members.iter().map(|m| name_of(account, m)).collect();
    // Stored order follows the random contact ids; show them alphabetically.
    names.sort_unstable_by_key(|name| name.to_lowercase());
    let members = if names.is_empty() {
        "no other members".to_owned()
    } else {
        names.join(", ")
    };
    let left = if group.active { "" } else { "  (not a member)" };
    format!("{}  {}  ({members}){left}", &id[..8], group.name)
}

/// Runs `sotto groups`.
pub fn groups(global: &Global) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let groups = account.groups()?;
    out.json_line(&json!(groups
        .iter()
        .map(|g| group_json(&account, g))
        .collect::<Vec<_>>()));
    if groups.is_empty() {
        out.progress("No groups yet; `sotto group create <name> <contact>…` makes one.");
    }
    for group in &groups {
        out.text(&group_line(&account, group));
    }
    Ok(())
}

/// Runs `sotto group …`.
pub fn group(global: &Global, command: GroupCommand) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    match command {
        GroupCommand::Create {
            name,
            contacts,
            wait,
        } => {
            let members = resolve_contacts(&account, &contacts)?;
            let runtime = runtime()?;
            let group = runtime.block_on(account.create_group(&name, &members))?;
            deliver(&account, out, &runtime, wait.timeout)?;
            out.json_line(&group_json(&account, &group));
            out.text(&format!("Created: {}", group_line(&account, &group)));
        }
        GroupCommand::Add {
            group,
            contacts,
            wait,
        } => {
            let group = resolve_group(&account, &group)?;
            let members = resolve_contacts(&account, &contacts)?;
            let runtime = runtime()?;
            let group = runtime.block_on(account.add_group_members(&group.id, &members))?;
            deliver(&account, out, &runtime, wait.timeout)?;
            out.json_line(&group_json(&account, &group));
            out.text(&format!("Added: {}", group_line(&account, &group)));
        }
        GroupCommand::Remove {
            group,
            contacts,
            wait,
        } => {
            let group = resolve_group(&account, &group)?;
            let members = resolve_contacts(&account, &contacts)?;
            if members.iter().any(|m| !group.members.contains(m)) {
                return Err(Failure::input(
                    "that contact is not a member of the group",
                    "`sotto groups` lists each group's members",
                ));
            }
            let runtime = runtime()?;
            let group = runtime.block_on(account.remove_group_members(&group.id, &members))?;
            deliver(&account, out, &runtime, wait.timeout)?;
            out.json_line(&group_json(&account, &group));
            out.text(&format!("Removed: {}", group_line(&account, &group)));
        }
        GroupCommand::Leave { group, wait } => {
            let group = resolve_group(&account, &group)?;
            let runtime = runtime()?;
            let group = runtime.block_on(account.leave_group(&group.id))?;
            deliver(&account, out, &runtime, wait.timeout)?;
            out.json_line(&group_json(&account, &group));
            out.text(&format!("Left the group {}.", group.name));
        }
        GroupCommand::Send { group, text, wait } => {
            let text = argument_or_stdin(&text)?;
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                return Err(Failure::input(
                    "the text is empty",
                    "write something to send",
                ));
            }
            let group = resolve_group(&account, &group)?;
            let runtime = runtime()?;
            let sent = runtime.block_on(account.send_group_text(&group.id, text))?;
            deliver(&account, out, &runtime, wait.timeout)?;
            let unreached: Vec<&str> = sent.unreached.iter().map(ContactId::as_str).collect();
            out.json_line(&json!({
                "message_id": output::message_id(&sent.message_id),
                "group": group_id(&group.id),
                "state": "sent",
                "unreached": unreached,
            }));
            out.text(&format!("Sent to {}.", group.name));
            if !sent.unreached.is_empty() {
                let names: Vec<String> = sent
                    .unreached
                    .iter()
                    .map(|m| name_of(&account, m))
                    .collect();
                out.progress(&format!(
                    "(not sent to {}: no session could be started; they are not on your relay)",
                    names.join(", ")
                ));
            }
        }
        GroupCommand::Messages(args) => {
            let group = resolve_group(&account, &args.group)?;
            let page = account.group_messages(&group.id, args.limit, args.before)?;
            let next_before = (page.len() == args.limit)
                .then(|| page.last().map(|m| m.stored_at_ms))
                .flatten();
            out.json_line(&json!({
                "group": group_json(&account, &group),
                "messages": page.iter().map(group_message_json).collect::<Vec<_>>(),
                "next_before": next_before,
            }));
            for message in page.iter().rev() {
                out.text(&group_message_line(&account, message, &group.name));
            }
        }
    }
    Ok(())
}

/// Connects and waits until the relay took everything queued, at most
/// `timeout` seconds (0: forever). On timeout what is queued stays queued
/// (exit code 11, or the connection's own failure if it is down).
fn deliver(
    account: &Account,
    out: Output,
    runtime: &tokio::runtime::Runtime,
    timeout: u64,
) -> Result<(), Failure> {
    runtime.block_on(async {
        let mut live = Live::start(account, out, runtime)?;
        // `--timeout 0` waits as long as it takes, as `sotto send` does.
        let deadline = seconds(timeout).unwrap_or_else(|| {
            tokio::time::Instant::now() + std::time::Duration::from_secs(u64::from(u32::MAX))
        });
        let drained = live.drain(deadline, false).await?;
        let down = live.down.take();
        live.connection.close().await;
        if drained {
            return Ok(());
        }
        let why = down.unwrap_or_else(|| {
            Failure::new(
                code::TIMEOUT,
                "timeout",
                "the relay did not take everything in time",
                "",
            )
        });
        Err(Failure {
            message: format!("{}; the rest stays queued", why.message),
            hint: Some("it goes out with the next `sotto send`, `listen` or `chat`".into()),
            ..why
        })
    })
}
