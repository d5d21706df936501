//! `sotto calls`: the call log, newest first (what the core logged of
//! every call that ended or was missed).

use std::collections::HashMap;

use clap::Args;
use serde_json::{json, Value};
use sotto_core::app::{CallDirection, CallLogEntry};

use crate::call_cmd::{path_name, reason_name};
use crate::failure::Failure;
use crate::output::clock;
use crate::{open_account, Global};

#[derive(Args)]
pub struct CallsArgs {
    /// How many calls (the newest)
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// Only calls that started before this time (ms since the epoch; the
    /// `next_before` of the previous page)
    #[arg(long, value_name = "MS")]
    before: Option<u64>,
}

/// Prints a page of the call log.
pub fn calls(global: &Global, args: CallsArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let page = account.call_log(args.limit, args.before)?;
    let names: HashMap<String, String> = account
        .contacts()?
        .into_iter()
        .map(|c| (c.id.as_str().to_owned(), c.name))
        .collect();
    let name = |entry: &CallLogEntry| {
        names
            .get(entry.contact.as_str())
            .cloned()
            .unwrap_or_else(|| "?".into())
    };
    let next_before = (page.len() == args.limit)
        .then(|| page.last().map(|e| e.started_at_ms))
        .flatten();
    out.json_line(&json!({
        "calls": page.iter().map(|e| entry_json(e, &name(e))).collect::<Vec<_>>(),
        "next_before": next_before,
    }));
    if page.is_empty() {
        out.text("(no calls)");
    }
    for entry in &page {
        out.text(&entry_line(entry, &name(entry)));
    }
    Ok(())
}

fn direction_name(direction: CallDirection) -> &'static str {
    match direction {
        CallDirection::Incoming => "incoming",
        CallDirection::Outgoing => "outgoing",
    }
}

fn entry_json(entry: &CallLogEntry, name: &str) -> Value {
    json!({
        "id": entry.id,
        "call_id": entry.call_id.map(|id| hex::encode(id.0)),
        "contact": { "id": entry.contact.as_str(), "name": name },
        "direction": direction_name(entry.direction),
        "started_at_ms": entry.started_at_ms,
        "connected_at_ms": entry.connected_at_ms,
        "ended_at_ms": entry.ended_at_ms,
        "duration_ms": entry.duration_ms(),
        "end_reason": entry.end_reason.map(reason_name),
        "path": entry.path.map(path_name),
        "missed": entry.is_missed(),
        "while_busy": entry.while_busy,
        "expires_at_ms": entry.expires_at_ms,
    })
}

/// `[HH:MM:SS] incoming  Alice  0:42 (direct)`, or the outcome of a call
/// that never connected.
fn entry_line(entry: &CallLogEntry, name: &str) -> String {
    let outcome = match (entry.connected_at_ms, entry.end_reason) {
        (Some(_), _) => {
            let secs = entry.duration_ms() / 1000;
            let path = entry.path.map(path_name).unwrap_or("no media");
            format!("{}:{:02} ({path})", secs / 60, secs % 60)
        }
        (None, None) if entry.while_busy => "missed (you were in another call)".to_owned(),
        (None, None) => "missed (not rung)".to_owned(),
        (None, Some(reason)) => reason_name(reason).replace('_', " "),
    };
    format!(
        "[{}] {:<8}  {name}  {outcome}",
        clock(entry.started_at_ms),
        direction_name(entry.direction)
    )
}
