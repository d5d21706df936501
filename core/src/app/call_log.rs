//! The call log: one [`CallLogEntry`] per call that ended or was not rung,
//! kept in the encrypted store (schema version 10) and read newest first
//! with [`Account::call_log`](super::Account::call_log).
//!
//! The call shell writes it: [`CallRecorder`] watches the [`CallEvent`]s the
//! shell emits (so the log sees exactly what the client sees) and stores an
//! entry when a call ends or a call is missed without ringing.
//!
//! Contacts with "keep no history" get no entries: that setting promises
//! the store keeps nothing of the conversation with them, and who called
//! whom, when and for how long is exactly such a trace. The live events
//! (ringing, [`CallEvent::Missed`]) still reach the client, so a missed
//! call can still be shown while the app runs.

use super::calls::CallEvent;
use super::Shared;
use crate::call::{CallId, CallRef, CallState, EndReason, PathKind, Role};
use crate::error::Result;
use crate::store::{in_transaction, ContactId, SottoStore};

/// Who placed a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallDirection {
    /// The contact called this phone.
    Incoming,
    /// This phone called the contact.
    Outgoing,
}

/// One call in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLogEntry {
    /// The entry's id, for [`Account::delete_call_log_entry`](super::Account::delete_call_log_entry).
    pub id: i64,
    /// The call's id; `None` for a call that was never rung.
    pub call_id: Option<CallId>,
    /// The other side.
    pub contact: ContactId,
    /// Who placed it.
    pub direction: CallDirection,
    /// When it started ringing (or was refused), ms since the Unix epoch.
    pub started_at_ms: u64,
    /// When media first flowed; `None` if the call never connected.
    pub connected_at_ms: Option<u64>,
    /// When it ended.
    pub ended_at_ms: u64,
    /// Why it ended; `None` for a call that was never rung (it came while
    /// another was in progress, or its offer was too old).
    pub end_reason: Option<EndReason>,
    /// The media path, if media ran.
    pub path: Option<PathKind>,
    /// A call not rung because another was in progress.
    pub while_busy: bool,
    /// When the entry disappears, if the contact's conversation has a
    /// disappearing-messages timer: that long after the call ended.
    pub expires_at_ms: Option<u64>,
}

impl CallLogEntry {
    /// An incoming call nobody answered here: it timed out, the caller gave
    /// up, or it was never rung.
    pub fn is_missed(&self) -> bool {
        self.direction == CallDirection::Incoming
            && self.connected_at_ms.is_none()
            && matches!(self.end_reason, None | Some(EndReason::Missed))
    }

    /// How long the call was connected, in ms (0 if it never was).
    pub fn duration_ms(&self) -> u64 {
        self.connected_at_ms
            .map_or(0, |at| self.ended_at_ms.saturating_sub(at))
    }
}

/// A call being followed until it ends.
struct Following {
    call: CallRef,
    direction: CallDirection,
    started_at_ms: u64,
    connected_at_ms: Option<u64>,
    path: Option<PathKind>,
}

/// Follows the call shell's events and writes the log; see the module docs.
#[derive(Default)]
pub(super) struct CallRecorder {
    following: Option<Following>,
}

fn direction_of(role: &Role) -> CallDirection {
    match role {
        Role::Caller => CallDirection::Outgoing,
        Role::Callee => CallDirection::Incoming,
    }
}

impl CallRecorder {
    /// Takes note of `event`, which happened at `now_ms`; stores an entry
    /// when it ends a call. A store failure is logged: the call goes on.
    pub(super) fn observe(&mut self, shared: &Shared, event: &CallEvent, now_ms: u64) {
        let entry = match event {
            CallEvent::State(state) => {
                self.on_state(state, now_ms);
                None
            }
            CallEvent::MediaStarted { call_id, path } => {
                if let Some(following) = self.following_call(call_id) {
                    following.path = Some(*path);
                }
                None
            }
            CallEvent::Sas { .. } => None,
            CallEvent::Ended { call, reason, .. } => Some(self.ended(call, *reason, now_ms)),
            CallEvent::Missed { peer, while_busy } => Some(NewCallLogEntry {
                call_id: None,
                contact: peer.clone(),
                direction: CallDirection::Incoming,
                started_at_ms: now_ms,
                connected_at_ms: None,
                ended_at_ms: now_ms,
                end_reason: None,
                path: None,
                while_busy: *while_busy,
                expires_at_ms: None,
            }),
        };
        if let Some(entry) = entry {
            if let Err(error) = store_entry(shared, &entry) {
                tracing::warn!(%error, "could not write the call log");
            }
        }
    }

    fn following_call(&mut self, call_id: &CallId) -> Option<&mut Following> {
        self.following
            .as_mut()
            .filter(|following| following.call.call_id == *call_id)
    }

    /// Follows `call` from now on, unless it is followed already. (A call
    /// lost to glare is replaced by the one that won; it merged into it.)
    fn follow(&mut self, call: &CallRef, direction: CallDirection, now_ms: u64) -> &mut Following {
        let same = self
            .following
            .as_ref()
            .is_some_and(|f| f.call.call_id == call.call_id);
        if !same {
            self.following = None;
        }
        self.following.get_or_insert_with(|| Following {
            call: call.clone(),
            direction,
            started_at_ms: now_ms,
            connected_at_ms: None,
            path: None,
        })
    }

    fn on_state(&mut self, state: &CallState, now_ms: u64) {
        match state {
            CallState::OutgoingRinging { call, .. } => {
                self.follow(call, CallDirection::Outgoing, now_ms);
            }
            CallState::IncomingRinging { call, .. } => {
                self.follow(call, CallDirection::Incoming, now_ms);
            }
            CallState::Connecting { call, role, .. } => {
                self.follow(call, direction_of(role), now_ms);
            }
            CallState::Connected { call, role } => {
                let following = self.follow(call, direction_of(role), now_ms);
                following.connected_at_ms.get_or_insert(now_ms);
            }
            CallState::Idle | CallState::Ended { .. } => {}
        }
    }

    fn ended(&mut self, call: &CallRef, reason: EndReason, now_ms: u64) -> NewCallLogEntry {
        let following = match self.following.take() {
            Some(following) if following.call.call_id == call.call_id => following,
            other => {
                // Not seen ringing (it cannot happen with the controller's
                // events, but the entry is still worth keeping).
                self.following = other;
                Following {
                    call: call.clone(),
                    direction: guessed_direction(reason),
                    started_at_ms: now_ms,
                    connected_at_ms: None,
                    path: None,
                }
            }
        };
        NewCallLogEntry {
            call_id: Some(following.call.call_id),
            contact: following.call.peer,
            direction: following.direction,
            started_at_ms: following.started_at_ms,
            connected_at_ms: following.connected_at_ms,
            ended_at_ms: now_ms,
            end_reason: Some(reason),
            path: following.path,
            while_busy: false,
            expires_at_ms: None,
        }
    }
}

/// Which side a call was on, from how it ended alone.
fn guessed_direction(reason: EndReason) -> CallDirection {
    match reason {
        EndReason::DeclinedHere | EndReason::Missed => CallDirection::Incoming,
        EndReason::DeclinedThere | EndReason::BusyThere | EndReason::NoAnswer => {
            CallDirection::Outgoing
        }
        _ => CallDirection::Incoming,
    }
}

/// An entry before it has its row id.
#[derive(Clone)]
pub(crate) struct NewCallLogEntry {
    pub(crate) call_id: Option<CallId>,
    pub(crate) contact: ContactId,
    pub(crate) direction: CallDirection,
    pub(crate) started_at_ms: u64,
    pub(crate) connected_at_ms: Option<u64>,
    pub(crate) ended_at_ms: u64,
    pub(crate) end_reason: Option<EndReason>,
    pub(crate) path: Option<PathKind>,
    pub(crate) while_busy: bool,
    /// Set from the contact's timer when the entry is stored.
    pub(crate) expires_at_ms: Option<u64>,
}

fn store_entry(shared: &Shared, entry: &NewCallLogEntry) -> Result<()> {
    in_transaction(&mut *shared.store(), |store| {
        let settings = store.conversation_settings(&entry.contact)?;
        if settings.keep_no_history {
            return Ok(());
        }
        let expires_at_ms = (settings.expire_timer_secs > 0).then(|| {
            entry
                .ended_at_ms
                .saturating_add(u64::from(settings.expire_timer_secs) * 1000)
        });
        store
            .call_log_insert(&NewCallLogEntry {
                expires_at_ms,
                ..entry.clone()
            })
            .map(|_| ())
    })
}
