//! An account's live connection to its relay: the relay agent
//! (`relay::agent::run`) plus a task that turns the agent's reports into
//! [`Event`]s for the client and sends delivery receipts for texts received.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::Shared;
use crate::error::Error;
use crate::message::{MessageId, ReceiptKind};
use crate::messaging::{self, Received, SealedReceived};
use crate::relay::agent::{self, AgentConfig, AgentEvent};
use crate::store::{ContactId, DeliveryState, StoredMessage};

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
    /// Content this version cannot act on yet (call signalling, for one).
    Unsupported {
        /// Who sent it.
        contact: ContactId,
        /// What it was.
        what: &'static str,
    },
    /// A delivery that can never be processed was dropped.
    Dropped(Error),
}

/// A running connection. Dropping it stops it; [`Connection::close`] stops
/// it and waits until its tasks ended.
pub struct Connection {
    events: mpsc::UnboundedReceiver<Event>,
    stop: watch::Sender<bool>,
    agent: Option<JoinHandle<()>>,
    pump: Option<JoinHandle<()>>,
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

    /// Stops the connection and waits for its tasks. Envelopes still queued
    /// stay in the store for the next connection.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        for task in [self.agent.take(), self.pump.take()].into_iter().flatten() {
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
    let pump = runtime.spawn(pump(shared, agent_reports, events_tx));
    Connection {
        events,
        stop,
        agent: Some(agent),
        pump: Some(pump),
    }
}

/// Turns agent reports into events until the agent stops.
async fn pump(
    shared: Arc<Shared>,
    mut reports: mpsc::UnboundedReceiver<AgentEvent>,
    events: mpsc::UnboundedSender<Event>,
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
            AgentEvent::Received(received) => on_received(&shared, received),
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

fn on_received(shared: &Shared, received: SealedReceived) -> Option<Event> {
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
        // Calls and SMS handshakes belong to drivers this facade does not
        // run yet (the call controller, the SMS endpoint).
        Received::CallSignal(_) => Some(Event::Unsupported {
            contact,
            what: "call signalling",
        }),
        Received::ContactHandshake(_) => None,
        Received::HeldForUntrustedIdentity => Some(Event::IdentityChanged { contact }),
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
