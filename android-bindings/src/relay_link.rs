//! The account's live relay connection as the bindings run it: the core's
//! `Connection` (the relay agent, reconnecting with backoff) driven by one
//! task on the account's runtime, which turns each core [`Event`] into an
//! [`AccountEvent`] for the listeners.

use std::sync::Arc;

use sotto_core::app::{self, Event};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::account_core::{message_id_text, AccountCore};
use crate::error::{Result, SottoError};
use crate::events::AccountEvent;
use crate::runtime::OwnedRuntime;

/// A running connection; [`RelayLink::stop`] ends it.
pub(crate) struct RelayLink {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RelayLink {
    /// Connects `app` to its relay; events go to `core`'s listeners.
    pub(crate) fn start(
        runtime: &OwnedRuntime,
        app: &app::Account,
        core: Arc<AccountCore>,
    ) -> Result<Self> {
        let mut connection = app.connect(runtime.handle())?;
        let (stop, mut stopped) = oneshot::channel();
        let task = runtime.handle().spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    event = connection.next_event() => match event {
                        Some(event) => {
                            if let Some(event) = account_event(event) {
                                core.events().emit(event);
                            }
                        }
                        None => break,
                    },
                }
            }
            // Waits for the agent to stop, so that a new connection may start.
            connection.close().await;
        });
        Ok(Self { stop, task })
    }

    /// Whether the connection still runs.
    pub(crate) fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the connection and waits until its tasks ended.
    pub(crate) fn stop(self, runtime: &OwnedRuntime) -> Result<()> {
        let _ = self.stop.send(());
        // The task only ends by finishing or by the runtime shutting down.
        let _ = runtime.block_on(self.task)?;
        Ok(())
    }

    /// Asks the connection to stop without waiting (when the account closes;
    /// the runtime's shutdown then ends the tasks).
    pub(crate) fn stop_soon(self) {
        let _ = self.stop.send(());
    }
}

/// The bindings' event for a core event; `None` for what the app cannot act
/// on yet (call signalling) or only needs in the log.
fn account_event(event: Event) -> Option<AccountEvent> {
    let reason = |error| SottoError::from(error).to_string();
    Some(match event {
        Event::Connected => AccountEvent::Connected,
        Event::Disconnected(error) => AccountEvent::Disconnected {
            reason: reason(error),
        },
        Event::Message {
            new_contact,
            message,
            ..
        } => AccountEvent::MessageReceived {
            message: message.into(),
            new_contact,
        },
        Event::Receipt {
            contact,
            state,
            message_ids,
        } => AccountEvent::DeliveryStateChanged {
            contact_id: contact.as_str().to_owned(),
            state: state.into(),
            message_ids: message_ids.iter().map(message_id_text).collect(),
        },
        Event::Sent { message_id } => AccountEvent::MessageSent {
            message_id: message_id_text(&message_id),
        },
        Event::SendFailed { message_id, error } => AccountEvent::SendFailed {
            message_id: message_id_text(&message_id),
            reason: reason(error),
        },
        Event::IdentityChanged { contact } => AccountEvent::IdentityChanged {
            contact_id: contact.as_str().to_owned(),
        },
        Event::ExpirationTimerChanged { contact, seconds } => {
            AccountEvent::DisappearingTimerChanged {
                contact_id: contact.as_str().to_owned(),
                seconds,
            }
        }
        Event::Dropped(error) => {
            // The core's messages carry no user data.
            tracing::warn!(%error, "a delivery that cannot be processed was dropped");
            return None;
        }
        _ => {
            tracing::debug!("an event the bindings do not forward yet");
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use sotto_core::message::MessageId;
    use sotto_core::store::{ContactId, DeliveryState as CoreState};

    use super::*;
    use crate::records::DeliveryState;

    #[test]
    fn receipts_become_delivery_state_changes_with_hex_ids() {
        let id = MessageId([0xab; 16]);
        let event = account_event(Event::Receipt {
            contact: ContactId::from_string("c1".into()),
            state: CoreState::Read,
            message_ids: vec![id],
        });
        assert_eq!(
            event,
            Some(AccountEvent::DeliveryStateChanged {
                contact_id: "c1".into(),
                state: DeliveryState::Read,
                message_ids: vec!["ab".repeat(16)],
            })
        );
    }

    #[test]
    fn failures_carry_the_fixed_text_of_their_error() {
        let event = account_event(Event::Disconnected(sotto_core::Error::RelayUnreachable));
        assert_eq!(
            event,
            Some(AccountEvent::Disconnected {
                reason: SottoError::Network.to_string()
            })
        );
        let dropped = account_event(Event::Dropped(sotto_core::Error::Undecryptable(
            "duplicated message",
        )));
        assert_eq!(dropped, None);
    }
}
