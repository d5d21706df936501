//! An account's live connection to its relay: the relay agent
//! (`relay::agent::run`), a task that turns the agent's reports into
//! [`Event`]s for the client and sends delivery receipts for texts
//! received, and the call shell (`call_shell.rs`) that call signals go to
//! (those received by relay from the pump, those received by SMS from the
//! SMS bridge).

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::call_shell::{CallShell, Inboxes, IncomingSignal};
use super::calls::{CallEvent, Calls};
use super::Shared;
use crate::error::Error;
use crate::groups::GroupChange;
use crate::message::{MessageId, ReceiptKind};
use crate::messaging::{self, Received, SealedReceived};
use crate::relay::agent::{self, AgentConfig, AgentEvent};
use crate::store::{ContactId, DeliveryState, GroupMessage, StoredMessage};

/// What happens on a connection, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Logged in to the relay.
    Connected,
    /// The connection dropped; it is retried with backoff.
    Disconnected(Error),
    /// A text arrived and was stored (and a delivery receipt queued, if
    /// those are on).
    Message {
        /// Who sent it.
        contact: ContactId,
        /// Whether the sender was unknown until now: a contact named
        /// "Unknown sender" was created for them.
        new_contact: bool,
        /// The text.
        message: StoredMessage,
    },
    /// The contact's device stored (`Delivered`) or displayed (`Read`)
    /// texts this account sent.
    Receipt {
        /// Who sent the receipt.
        contact: ContactId,
        /// The state the texts reached.
        state: DeliveryState,
        /// The texts.
        message_ids: Vec<MessageId>,
    },
    /// A queued envelope (a text or a receipt) was handed to the relay.
    Sent {
        /// Its message id.
        message_id: MessageId,
    },
    /// The relay refused a queued envelope; it stays queued and is tried
    /// again on the next connection.
    SendFailed {
        /// Its message id.
        message_id: MessageId,
        /// Why.
        error: Error,
    },
    /// A contact presented a new identity key. Their texts wait,
    /// undecrypted, until the user compares the new safety number and calls
    /// `Account::accept_new_identity`.
    IdentityChanged {
        /// Who.
        contact: ContactId,
    },
    /// The contact set the disappearing-messages timer.
    ExpirationTimerChanged {
        /// Who.
        contact: ContactId,
        /// Seconds; 0 turns it off.
        seconds: u32,
    },
    /// Something happened to a call (see [`Connection::calls`]).
    Call(CallEvent),
    /// The call shell queued call signals as encrypted SMS (the contact
    /// has no relay route now): take them with
    /// [`Account::take_outgoing_sms`](super::Account::take_outgoing_sms)
    /// and send them.
    SmsWaiting,
    /// Content this version cannot act on.
    Unsupported {
        /// Who sent it.
        contact: ContactId,
        /// What it was.
        what: &'static str,
    },
    /// A delivery that can never be processed was dropped.
    Dropped(Error),
    /// A group text arrived and was stored.
    GroupMessage {
        /// The text, with its group and sender.
        message: GroupMessage,
    },
    /// A member changed a group (or made one with this account in it).
    GroupChanged(GroupChange),
}

/// A running connection. Dropping it stops it; [`Connection::close`] stops
/// it and waits until its tasks ended.
pub struct Connection {
    events: mpsc::UnboundedReceiver<Event>,
    stop: watch::Sender<bool>,
    agent: Option<JoinHandle<()>>,
    pump: Option<JoinHandle<()>>,
    calls: Calls,
    call_shell: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection(..)")
    }
}

impl Connection {
    /// The next event; `None` once the connection stopped.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The calls of this connection: place, answer, hang up. Their events
    /// come on [`Connection::next_event`] as [`Event::Call`].
    pub fn calls(&self) -> Calls {
        self.calls.clone()
    }

    /// Stops the connection and waits for its tasks. A call in progress is
    /// hung up (its hangup signal goes with the next connection if the
    /// relay agent has stopped before sending it). Envelopes still queued
    /// stay in the store for the next connection.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        let tasks = [self.call_shell.take(), self.agent.take(), self.pump.take()];
        for task in tasks.into_iter().flatten() {
            let _ = task.await;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(super) fn start(shared: Arc<Shared>, runtime: &tokio::runtime::Handle) -> Connection {
    let settings = shared.settings();
    let mut config = AgentConfig::new(settings.relay);
    config.socks5 = settings.socks5;
    let (agent_events, agent_reports) = mpsc::unbounded_channel();
    let (events_tx, events) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let agent = {
        let shared = shared.clone();
        runtime.spawn(async move {
            agent::run(
                shared.store.clone(),
                config,
                shared.outbox_changed.clone(),
                agent_events,
                stopped,
            )
            .await;
            shared
                .online
                .store(false, std::sync::atomic::Ordering::Release);
            shared
                .connected
                .store(false, std::sync::atomic::Ordering::Release);
        })
    };
    let (signals_tx, signals) = mpsc::unbounded_channel();
    let (sms_signals_tx, sms_signals) = mpsc::unbounded_channel();
    *shared
        .sms_call_signals
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(sms_signals_tx);
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let call_shell = runtime.spawn(CallShell::new(shared.clone(), events_tx.clone()).run(
        commands,
        Inboxes {
            relay: signals,
            sms: sms_signals,
        },
        stop.subscribe(),
    ));
    let calls = Calls {
        shared: shared.clone(),
        commands: commands_tx,
    };
    let pump = runtime.spawn(pump(shared, agent_reports, events_tx, signals_tx));
    Connection {
        events,
        stop,
        agent: Some(agent),
        pump: Some(pump),
        calls,
        call_shell: Some(call_shell),
    }
}

/// Turns agent reports into events until the agent stops.
async fn pump(
    shared: Arc<Shared>,
    mut reports: mpsc::UnboundedReceiver<AgentEvent>,
    events: mpsc::UnboundedSender<Event>,
    signals: mpsc::UnboundedSender<IncomingSignal>,
) {
    while let Some(report) = reports.recv().await {
        let online = matches!(report, AgentEvent::Connected);
        if online || matches!(report, AgentEvent::Disconnected(_)) {
            shared
                .online
                .store(online, std::sync::atomic::Ordering::Release);
        }
        let event = match report {
            AgentEvent::Connected => Some(Event::Connected),
            // The agent's I/O is its sockets: an I/O error is the network's.
            AgentEvent::Disconnected(error) => Some(Event::Disconnected(super::unreachable(error))),
            AgentEvent::Received(received) => on_received(&shared, received, &signals),
            AgentEvent::Dropped(error) => Some(Event::Dropped(error)),
            AgentEvent::Sent(message_id) => Some(Event::Sent { message_id }),
            AgentEvent::SendFailed(message_id, error) => {
                Some(Event::SendFailed { message_id, error })
            }
        };
        if let Some(event) = event {
            // A client that stopped listening does not stop the connection.
            let _ = events.send(event);
        }
    }
}

fn on_received(
    shared: &Shared,
    received: SealedReceived,
    signals: &mpsc::UnboundedSender<IncomingSignal>,
) -> Option<Event> {
    let SealedReceived {
        contact,
        new_contact,
        received,
    } = received;
    match received {
        Received::Text(message) => {
            if shared.settings().delivery_receipts {
                send_delivery_receipt(shared, &contact, message.id);
            }
            Some(Event::Message {
                contact,
                new_contact,
                message,
            })
        }
        Received::Receipt {
            kind, message_ids, ..
        } => Some(Event::Receipt {
            contact,
            state: match kind {
                ReceiptKind::Delivered => DeliveryState::Delivered,
                ReceiptKind::Read => DeliveryState::Read,
            },
            message_ids,
        }),
        Received::ExpirationTimerChanged(seconds) => {
            Some(Event::ExpirationTimerChanged { contact, seconds })
        }
        // The call shell reports what the signal does to the call.
        Received::CallSignal(signal) => {
            // Gone only once the connection stops, and then so is the call.
            let _ = signals.send((contact, signal));
            None
        }
        // SMS handshakes belong to the SMS endpoint, which this facade
        // does not run.
        Received::ContactHandshake(_) => None,
        Received::HeldForUntrustedIdentity => Some(Event::IdentityChanged { contact }),
        Received::GroupText(message) => Some(Event::GroupMessage { message }),
        Received::GroupChanged(change) => Some(Event::GroupChanged(change)),
        Received::GroupSenderKey { .. } | Received::GroupTextHeld { .. } => None,
        Received::Duplicate => None,
    }
}

fn send_delivery_receipt(shared: &Shared, contact: &ContactId, id: MessageId) {
    let queued = messaging::send_receipt(
        &mut *shared.store(),
        contact,
        ReceiptKind::Delivered,
        vec![id],
        SystemTime::now(),
        &mut rand::rng(),
    );
    match queued {
        Ok(_) => shared.outbox_changed.notify_one(),
        // The text is stored either way; a receipt is a courtesy.
        Err(error) => tracing::warn!(%error, "could not queue a delivery receipt"),
    }
}
