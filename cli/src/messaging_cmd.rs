//! `sotto send`, `sotto listen`, `sotto chat`, `sotto messages`: the
//! commands that talk through the relay, over one `Connection` each.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};
use sotto_core::app::{Account, CallEvent, Connection, ErrorKind, Event};
use sotto_core::call::CallState;
use sotto_core::groups::GroupChange;
use sotto_core::store::ContactId;
use tokio::time::Instant;

use crate::account_cmd::argument_or_stdin;
use crate::contact_cmd::resolve;
use crate::failure::{code, Failure};
use crate::group_cmd::{group_id, group_json, group_message_json, group_message_line};
use crate::output::{self, contact_json, message_json, message_line, Output};
use crate::{open_account, runtime, Global};

/// How long the commands wait, at most, for queued receipts and texts to
/// go out before they exit (what is left goes with the next connection).
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// One account's connection with what the commands need around it.
pub(crate) struct Live<'a> {
    account: &'a Account,
    pub(crate) connection: Connection,
    out: Output,
    names: HashMap<ContactId, String>,
    /// Why the connection last dropped, if it is down.
    pub(crate) down: Option<Failure>,
}

impl<'a> Live<'a> {
    pub(crate) fn start(
        account: &'a Account,
        out: Output,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<Self, Failure> {
        Ok(Self {
            connection: account.connect(runtime.handle())?,
            account,
            out,
            names: HashMap::new(),
            down: None,
        })
    }

    /// The next event, or `None` at the deadline (or when the connection
    /// ended).
    async fn next(&mut self, deadline: Option<Instant>) -> Option<Event> {
        let event = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.connection.next_event())
                .await
                .ok()
                .flatten(),
            None => self.connection.next_event().await,
        };
        match &event {
            Some(Event::Connected) => self.down = None,
            Some(Event::Disconnected(error)) => self.down = Some(Failure::from(error)),
            _ => {}
        }
        event
    }

    fn name(&mut self, contact: &ContactId) -> String {
        if let Some(name) = self.names.get(contact) {
            return name.clone();
        }
        let name = self
            .account
            .contact(contact)
            .map(|c| c.name)
            .unwrap_or_else(|_| "?".into());
        self.names.insert(contact.clone(), name.clone());
        name
    }

    fn contact_value(&self, contact: &ContactId) -> Value {
        match self.account.contact(contact) {
            Ok(info) => contact_json(&info),
            Err(_) => json!({"id": contact.as_str()}),
        }
    }

    /// Prints an event: JSON lines in JSON mode; in text mode, texts and
    /// receipts on stdout and connection news on stderr.
    fn print(&mut self, event: &Event) {
        let value = match event {
            Event::Connected => {
                self.out.progress("(connected to the relay)");
                json!({"type": "connected"})
            }
            Event::Disconnected(error) => {
                self.out
                    .progress(&format!("(relay connection lost: {error}; retrying)"));
                json!({"type": "disconnected", "error": error.to_string()})
            }
            Event::Message {
                contact,
                new_contact,
                message,
            } => {
                let name = self.name(contact);
                if *new_contact {
                    self.out.progress(
                        "(a new contact wrote; `sotto contact rename` gives them a name)",
                    );
                }
                self.out.text(&message_line(message, &name));
                json!({
                    "type": "message",
                    "contact": self.contact_value(contact),
                    "new_contact": new_contact,
                    "message": message_json(message),
                })
            }
            Event::Receipt {
                contact,
                state,
                message_ids,
            } => {
                let name = self.name(contact);
                self.out.text(&format!(
                    "({} text{} to {name}: {})",
                    message_ids.len(),
                    if message_ids.len() == 1 { "" } else { "s" },
                    output::state_name(*state)
                ));
                json!({
                    "type": "receipt",
                    "contact": contact.as_str(),
                    "state": output::state_name(*state),
                    "message_ids": message_ids.iter().map(output::message_id).collect::<Vec<_>>(),
                })
            }
            Event::Sent { message_id } => {
                json!({"type": "sent", "message_id": output::message_id(message_id)})
            }
            Event::SendFailed { message_id, error } => {
                self.out.progress(&format!(
                    "(the relay refused a queued text: {error}; it stays queued)"
                ));
                json!({
                    "type": "send_failed",
                    "message_id": output::message_id(message_id),
                    "error": error.to_string(),
                })
            }
            Event::IdentityChanged { contact } => {
                let name = self.name(contact);
                self.out.text(&format!(
                    "(!) A new identity key is offered in {name}'s name. Their texts wait: compare its safety number (`sotto verify`) with {name}'s phone, then `sotto trust --safety-number`."
                ));
                json!({"type": "identity_changed", "contact": self.contact_value(contact)})
            }
            Event::ExpirationTimerChanged { contact, seconds } => {
                json!({"type": "expiration_timer", "contact": contact.as_str(), "seconds": seconds})
            }
            Event::Unsupported { contact, what } => {
                self.out.progress(&format!(
                    "(received {what}, which this version cannot handle yet)"
                ));
                json!({"type": "unsupported", "contact": contact.as_str(), "what": what})
            }
            // Calls are for `sotto call` and `sotto answer`; this connection
            // lets a call ring out, and says so.
            Event::Call(CallEvent::State(CallState::IncomingRinging { call, .. })) => {
                let name = self.name(&call.peer);
                self.out.progress(&format!(
                    "({name} is calling; calls are taken by `sotto answer`, not here)"
                ));
                json!({"type": "incoming_call", "contact": call.peer.as_str()})
            }
            Event::GroupMessage { message } => {
                let group = self.account.group(&message.group).ok();
                let group_name = group.as_ref().map_or("?", |g| g.name.as_str());
                self.out
                    .text(&group_message_line(self.account, message, group_name));
                json!({
                    "type": "group_message",
                    "group": group.as_ref().map_or_else(
                        || json!({"id": group_id(&message.group)}),
                        |g| group_json(self.account, g),
                    ),
                    "sender": message.sender.as_ref().map(|s| self.contact_value(s)),
                    "message": group_message_json(message),
                })
            }
            Event::GroupChanged(change) => {
                self.print_group_change(change);
                return;
            }
            Event::Dropped(error) => {
                self.out.progress(&format!(
                    "(dropped a delivery that cannot be read: {error})"
                ));
                json!({"type": "dropped", "error": error.to_string()})
            }
            _ => return,
        };
        self.out.json_line(&value);
    }

    /// Prints a group change, then the texts it released (texts that came
    /// before the state that made their senders members).
    fn print_group_change(&mut self, change: &GroupChange) {
        let Ok(group) = self.account.group(&change.group) else {
            return;
        };
        let names = |ids: &[ContactId]| {
            ids.iter()
                .map(|id| {
                    self.account
                        .contact(id)
                        .map(|c| c.name)
                        .unwrap_or_else(|_| "?".into())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = &group.name;
        if change.joined {
            self.out.text(&format!(
                "(you are in the group {name}, with {})",
                names(&group.members)
            ));
        } else if change.left {
            self.out
                .text(&format!("(you were removed from the group {name})"));
        } else {
            if !change.added.is_empty() {
                self.out
                    .text(&format!("({name}: {} joined)", names(&change.added)));
            }
            if !change.removed.is_empty() {
                self.out
                    .text(&format!("({name}: {} left)", names(&change.removed)));
            }
        }
        let ids = |ids: &[ContactId]| {
            ids.iter()
                .map(|id| id.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        self.out.json_line(&json!({
            "type": "group_changed",
            "group": group_json(self.account, &group),
            "added": ids(&change.added),
            "removed": ids(&change.removed),
            "joined": change.joined,
            "left": change.left,
        }));
        for message in &change.released {
            self.print(&Event::GroupMessage {
                message: message.clone(),
            });
        }
    }

    /// Waits until nothing is queued (texts and receipts went out), printing
    /// events with `print`, until `deadline`. Returns whether it emptied.
    pub(crate) async fn drain(&mut self, deadline: Instant, print: bool) -> Result<bool, Failure> {
        loop {
            if self.account.pending_outgoing()? == 0 {
                return Ok(true);
            }
            match self.next(Some(deadline)).await {
                Some(event) if print => self.print(&event),
                Some(_) => {}
                None => return Ok(false),
            }
        }
    }
}

pub(crate) fn seconds(value: u64) -> Option<Instant> {
    (value > 0).then(|| Instant::now() + Duration::from_secs(value))
}

/// How many texts (1:1 or group) an event brings, for `listen --count`.
fn texts_in(event: &Event) -> usize {
    match event {
        Event::Message { .. } | Event::GroupMessage { .. } => 1,
        Event::GroupChanged(change) => change.released.len(),
        _ => 0,
    }
}

/// `sotto send`.
#[derive(Args)]
pub struct SendArgs {
    /// The contact (name or id)
    contact: String,
    /// The text, or `-` to read it from stdin
    text: String,
    /// Seconds to wait for the relay to take it (0: wait forever); on
    /// timeout the text stays queued and goes with the next connection
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
}

/// Sends a text and waits until the relay took it.
pub fn send(global: &Global, args: SendArgs) -> Result<(), Failure> {
    let out = global.output();
    let text = argument_or_stdin(&args.text)?;
    let text = if args.text == "-" {
        text.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        text
    };
    if text.trim().is_empty() {
        return Err(Failure::input(
            "the text is empty",
            "write something to send",
        ));
    }
    let account = open_account(global)?;
    let contact = resolve(&account, &args.contact)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let deadline = seconds(args.timeout);
        let message_id = account.send_text(&contact.id, &text).await?;
        let mut live = Live::start(&account, out, &runtime)?;
        let mut received = 0usize;
        let outcome = loop {
            match live.next(deadline).await {
                Some(Event::Sent { message_id: sent }) if sent == message_id => break Ok(()),
                Some(Event::SendFailed {
                    message_id: failed,
                    error,
                }) if failed == message_id => break Err(Failure::from(error)),
                Some(Event::Message { .. }) => received += 1,
                Some(_) => {}
                None => {
                    let why = live.down.take().unwrap_or_else(|| {
                        Failure::new(
                            code::TIMEOUT,
                            "timeout",
                            "the relay did not take the text in time",
                            "",
                        )
                    });
                    break Err(Failure {
                        message: format!("{}; the text stays queued", why.message),
                        hint: Some(
                            "it goes out with the next `sotto send`, `listen` or `chat`".into(),
                        ),
                        ..why
                    });
                }
            }
        };
        if outcome.is_ok() {
            // Delivery receipts for texts that arrived meanwhile.
            let limit = Instant::now() + DRAIN_LIMIT;
            live.drain(deadline.map_or(limit, |d| d.min(limit)), false)
                .await?;
        }
        live.connection.close().await;
        outcome?;
        out.json_line(&json!({
            "message_id": output::message_id(&message_id),
            "contact": contact.id.as_str(),
            "state": "sent",
        }));
        out.text(&format!("Sent to {}.", contact.name));
        if received > 0 {
            out.progress(&format!(
                "{received} new text(s) arrived meanwhile; `sotto messages <contact>` shows them"
            ));
        }
        Ok(())
    })
}

/// `sotto listen`.
#[derive(Args)]
pub struct ListenArgs {
    /// Exit after this many texts (0: never)
    #[arg(long, default_value_t = 0, value_name = "N")]
    count: usize,
    /// Exit after this many seconds (0: never); with --count, running out
    /// of time first is a failure (exit code 11)
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    timeout: u64,
}

/// Prints events until the count, the timeout or Ctrl-C.
pub fn listen(global: &Global, args: ListenArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let deadline = seconds(args.timeout);
        let mut live = Live::start(&account, out, &runtime)?;
        out.progress("Listening; Ctrl-C stops.");
        let mut texts = 0usize;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let mut reached = args.count == 0;
        loop {
            if args.count > 0 && texts >= args.count {
                reached = true;
                break;
            }
            let event = tokio::select! {
                event = live.next(deadline) => event,
                // The user stopped it: not a failure, whatever the count.
                _ = &mut interrupted => {
                    reached = true;
                    break;
                }
            };
            let Some(event) = event else { break };
            texts += texts_in(&event);
            live.print(&event);
        }
        // The delivery receipts for what was printed go out before exiting.
        let limit = Instant::now() + DRAIN_LIMIT;
        let drained = live.drain(limit, true).await?;
        live.connection.close().await;
        if !drained {
            out.progress("(some receipts are still queued; they go with the next connection)");
        }
        if !reached {
            return Err(Failure::new(
                code::TIMEOUT,
                "timeout",
                format!("{texts} of {} texts arrived before the timeout", args.count),
                "wait longer with a larger --timeout",
            ));
        }
        Ok(())
    })
}

/// `sotto chat`.
#[derive(Args)]
pub struct ChatArgs {
    /// The contact (name or id)
    contact: String,
    /// How many earlier texts to show first
    #[arg(long, default_value_t = 10, value_name = "N")]
    history: usize,
}

/// Interactive conversation: each line read is sent; texts from the contact
/// are printed (and marked read) as they come. Ends at end of input,
/// `/quit` or Ctrl-C.
pub fn chat(global: &Global, args: ChatArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let contact = resolve(&account, &args.contact)?;
    let mut history = account.messages(&contact.id, args.history, None)?;
    history.reverse();
    for message in &history {
        out.text(&message_line(message, &contact.name));
    }
    out.progress(&format!(
        "Chat with {}: type a line to send it; /quit or end of input ends.",
        contact.name
    ));
    let runtime = runtime()?;
    // Lines come from a thread: reading stdin blocks.
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    runtime.block_on(async {
        let mut live = Live::start(&account, out, &runtime)?;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            tokio::select! {
                line = lines.recv() => {
                    let Some(line) = line else { break };
                    let line = line.trim();
                    if line == "/quit" {
                        break;
                    }
                    if line.is_empty() {
                        continue;
                    }
                    match account.send_text(&contact.id, line).await {
                        Ok(id) => out.json_line(&json!({
                            "type": "queued",
                            "contact": contact.id.as_str(),
                            "message_id": output::message_id(&id),
                        })),
                        // The store or the account is unusable: stop.
                        Err(e) if matches!(e.kind(), ErrorKind::Storage | ErrorKind::Internal) => {
                            return Err(e.into());
                        }
                        // This line could not go; say why and keep chatting.
                        Err(e) => out.failure(&Failure::from(e)),
                    }
                }
                event = live.next(None) => {
                    let Some(event) = event else { break };
                    if let Event::Message { contact: from, message, .. } = &event {
                        if *from == contact.id {
                            account.mark_read(&contact.id, vec![message.id])?;
                        } else if !out.json {
                            let name = live.name(from);
                            out.progress(&format!("(new text from {name}; `sotto messages` shows it)"));
                            continue;
                        }
                    }
                    live.print(&event);
                }
                _ = &mut interrupted => break,
            }
        }
        let drained = live.drain(Instant::now() + DRAIN_LIMIT, true).await?;
        live.connection.close().await;
        if !drained {
            return Err(Failure::new(
                code::TIMEOUT,
                "timeout",
                "some texts are still queued",
                "they go out with the next `sotto send`, `listen` or `chat`",
            ));
        }
        Ok(())
    })
}

/// `sotto messages`.
#[derive(Args)]
pub struct MessagesArgs {
    /// The contact (name or id)
    contact: String,
    /// How many texts (the newest)
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// Only texts stored before this time (ms since the epoch; the
    /// `next_before` of the previous page)
    #[arg(long, value_name = "MS")]
    before: Option<u64>,
}

/// Prints a page of a conversation.
pub fn messages(global: &Global, args: MessagesArgs) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let contact = resolve(&account, &args.contact)?;
    let page = account.messages(&contact.id, args.limit, args.before)?;
    let next_before = (page.len() == args.limit)
        .then(|| page.last().map(|m| m.stored_at_ms))
        .flatten();
    out.json_line(&json!({
        "contact": contact_json(&contact),
        "messages": page.iter().map(message_json).collect::<Vec<_>>(),
        "next_before": next_before,
    }));
    for message in page.iter().rev() {
        out.text(&message_line(message, &contact.name));
    }
    Ok(())
}

/// Prints the list of conversations.
pub fn conversations(global: &Global) -> Result<(), Failure> {
    let out = global.output();
    let account = open_account(global)?;
    let list = account.conversations()?;
    out.json_line(&json!(list
        .iter()
        .map(|c| json!({
            "contact": contact_json(&c.contact),
            "last_message": c.last_message.as_ref().map(message_json),
        }))
        .collect::<Vec<_>>()));
    for conversation in &list {
        match &conversation.last_message {
            Some(message) => out.text(&message_line(message, &conversation.contact.name)),
            None => out.text(&format!("{}: (no texts yet)", conversation.contact.name)),
        }
    }
    Ok(())
}
