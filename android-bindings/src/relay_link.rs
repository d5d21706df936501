//! The account's live relay connection as the bindings run it: the core's
//! `Connection` (the relay agent, reconnecting with backoff, and the call
//! shell) driven by one task on the account's runtime, which turns each
//! core [`Event`] into an [`AccountEvent`] for the listeners. The
//! connection's [`Calls`] handle is kept here for the exported call methods.

use std::sync::Arc;

use sotto_core::app::{self, CallEvent, Calls, Event};
use sotto_core::call::{CallState, PathPolicy};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::account_core::{message_id_text, AccountCore};
use crate::call_records::{call_id_text, sas_words, CallPhase};
use crate::error::{Result, SottoError};
use crate::events::AccountEvent;
use crate::groups::group_change_events;
use crate::runtime::OwnedRuntime;
use crate::sms::announce_waiting_sms;

/// A running connection; [`RelayLink::stop`] ends it.
pub(crate) struct RelayLink {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    calls: Calls,
}

impl RelayLink {
    /// Connects `app` to its relay; events go to `core`'s listeners, and
    /// calls use the media paths of `policy`.
    pub(crate) fn start(
        runtime: &OwnedRuntime,
        app: &app::Account,
        core: Arc<AccountCore>,
        policy: PathPolicy,
    ) -> Result<Self> {
        let mut connection = app.connect(runtime.handle())?;
        let calls = connection.calls();
        calls.set_path_policy(policy)?;
        let (stop, mut stopped) = oneshot::channel();
        let task = runtime.handle().spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    event = connection.next_event() => match event {
                        Some(Event::SmsWaiting) => {
                            if let Ok(app) = core.app() {
                                announce_waiting_sms(&core, &app);
                            }
                        }
                        Some(Event::GroupChanged(change)) => {
                            for event in group_change_events(change) {
                                core.events().emit(event);
                            }
                        }
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
        Ok(Self { stop, task, calls })
    }

    /// The connection's calls.
    pub(crate) fn calls(&self) -> &Calls {
        &self.calls
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
        Event::Call(event) => return call_event(event),
        Event::GroupMessage { message } => AccountEvent::GroupMessageReceived {
            message: message.into(),
        },
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

/// The bindings' event for a call event.
fn call_event(event: CallEvent) -> Option<AccountEvent> {
    let contact_text = |contact: &sotto_core::store::ContactId| contact.as_str().to_owned();
    Some(match event {
        CallEvent::State(state) => {
            let (call, phase) = match &state {
                CallState::OutgoingRinging { call, .. } => (call, CallPhase::OutgoingRinging),
                CallState::IncomingRinging { call, .. } => (call, CallPhase::IncomingRinging),
                CallState::Connecting { call, .. } => (call, CallPhase::Connecting),
                CallState::Connected { call, .. } => (call, CallPhase::Connected),
                // The shell reports the end as `CallEvent::Ended`, and never
                // reports idle.
                CallState::Idle | CallState::Ended { .. } => return None,
            };
            AccountEvent::CallStateChanged {
                call_id: call_id_text(&call.call_id),
                contact_id: contact_text(&call.peer),
                phase,
            }
        }
        CallEvent::Sas { call_id, sas } => AccountEvent::CallSas {
            call_id: call_id_text(&call_id),
            words: sas_words(&sas),
        },
        CallEvent::MediaStarted { call_id, path } => AccountEvent::CallMediaStarted {
            call_id: call_id_text(&call_id),
            path: path.into(),
        },
        CallEvent::Ended {
            call,
            reason,
            media,
        } => AccountEvent::CallEnded {
            call_id: call_id_text(&call.call_id),
            contact_id: contact_text(&call.peer),
            reason: reason.into(),
            stats: media.as_deref().map(Into::into),
        },
        CallEvent::Missed { peer, while_busy } => AccountEvent::CallMissed {
            contact_id: contact_text(&peer),
            while_busy,
        },
        _ => {
            tracing::debug!("a call event the bindings do not forward yet");
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
    fn call_events_carry_hex_ids_and_the_contact() {
        use sotto_core::call::{CallId, CallRef, EndReason};

        use crate::call_records::CallEndReason;

        let call = CallRef {
            call_id: CallId([0x01; 16]),
            peer: ContactId::from_string("c2".into()),
        };
        let ringing = account_event(Event::Call(CallEvent::State(CallState::IncomingRinging {
            call: call.clone(),
            deadline_ms: 0,
        })));
        assert_eq!(
            ringing,
            Some(AccountEvent::CallStateChanged {
                call_id: "01".repeat(16),
                contact_id: "c2".into(),
                phase: CallPhase::IncomingRinging,
            })
        );
        let ended = account_event(Event::Call(CallEvent::Ended {
            call,
            reason: EndReason::BusyThere,
            media: None,
        }));
        assert_eq!(
            ended,
            Some(AccountEvent::CallEnded {
                call_id: "01".repeat(16),
                contact_id: "c2".into(),
                reason: CallEndReason::BusyThere,
                stats: None,
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
