//! Events to the app: what can happen ([`AccountEvent`]), the listener the
//! app implements ([`AccountListener`]), the hub an account publishes on
//! (`EventHub`) and the handle that ends one subscription
//! ([`Subscription`]).
//!
//! Each subscription is one task on the account's runtime. It owns a
//! receiver of the account's broadcast channel, created before `subscribe`
//! returns, so every event published after that reaches it, in order.
//! Cancelling is synchronous: once [`Subscription::cancel`] (or `close()`
//! in Kotlin, or the account's own close) returns, the listener is never
//! called again and Sotto no longer holds it.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::runtime::Handle;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::AbortHandle;

use crate::call_records::{CallEndReason, CallPath, CallPhase, CallStats};
use crate::group_records::{GroupMessage, GroupUpdate};
use crate::records::{DeliveryState, Message};

/// How many events may wait for a slow listener before it misses some
/// (and is told so with [`AccountEvent::EventsMissed`]).
const EVENT_BACKLOG: usize = 256;

/// Something that happened to an account. More variants come as the
/// bindings grow, so Kotlin code should end its `when` with an `else`
/// branch.
#[derive(Clone, Debug, PartialEq, uniffi::Enum)]
pub enum AccountEvent {
    /// Logged in to the relay (after `connect`, and after each reconnect).
    Connected,
    /// The relay connection dropped; Sotto reconnects with backoff until
    /// `disconnect`.
    Disconnected {
        /// Why, as a fixed text without user data.
        reason: String,
    },
    /// A text arrived and was stored (a delivery receipt goes back if
    /// those are on).
    MessageReceived {
        /// The text.
        message: Message,
        /// Whether the sender was unknown until now: a contact named
        /// "Unknown sender" was created for them.
        new_contact: bool,
    },
    /// Texts this account sent reached the contact's device (`Delivered`)
    /// or were displayed there (`Read`); for texts sent by encrypted SMS,
    /// also the radio's reports (`Sent`, `Delivered`, or `Failed` until
    /// `retryFailedSms`).
    DeliveryStateChanged {
        /// The contact who sent the receipt.
        contact_id: String,
        /// The state the texts reached.
        state: DeliveryState,
        /// The texts' ids.
        message_ids: Vec<String>,
    },
    /// A queued envelope was handed to the relay. Its id is a text's id, or
    /// the id of a receipt this account sent.
    MessageSent {
        /// The id.
        message_id: String,
    },
    /// The relay refused a queued envelope; it stays queued and is tried
    /// again on the next connection.
    SendFailed {
        /// The id of the text or receipt.
        message_id: String,
        /// Why, as a fixed text without user data.
        reason: String,
    },
    /// A contact presented a new identity key. Their texts wait,
    /// undecrypted, until the user compares the new safety number and
    /// accepts it.
    IdentityChanged {
        /// Who.
        contact_id: String,
    },
    /// The contact set the disappearing-messages timer.
    DisappearingTimerChanged {
        /// Who.
        contact_id: String,
        /// Seconds; 0 turns it off.
        seconds: u32,
    },
    /// Maintenance made new prekeys or rotated the signed ones.
    PrekeysRefreshed {
        /// One-time EC prekeys made.
        one_time: u32,
        /// One-time Kyber prekeys made.
        kyber: u32,
        /// Whether the signed prekey or the Kyber last-resort key was rotated.
        rotated: bool,
    },
    /// Disappearing messages ran out and were deleted; conversations on
    /// screen should be reloaded.
    MessagesExpired {
        /// How many were deleted.
        count: u32,
    },
    /// SMS wait to be sent: take them with `takeOutgoingSms`.
    OutgoingSmsWaiting {
        /// How many wait to be taken.
        count: u32,
    },
    /// A call changed phase: it rings here (`INCOMING_RINGING`: answer with
    /// `answerCall`, decline with `rejectCall`) or there
    /// (`OUTGOING_RINGING`), it connects, or media flows (`CONNECTED`). Its
    /// end comes as [`AccountEvent::CallEnded`].
    CallStateChanged {
        /// The call (32 hex digits).
        call_id: String,
        /// The contact on the other end.
        contact_id: String,
        /// The new phase (never `IDLE` or `ENDED`).
        phase: CallPhase,
    },
    /// The call's keys are agreed: show these two words for the users to
    /// read aloud. The same words on both phones mean nobody sits between
    /// them. Comes before `CONNECTED`.
    CallSas {
        /// The call.
        call_id: String,
        /// The two words.
        words: Vec<String>,
    },
    /// The call's media started on this path (the audio is open).
    CallMediaStarted {
        /// The call.
        call_id: String,
        /// Direct or through the relay.
        path: CallPath,
    },
    /// The call ended; its audio is closed (an output WAV file is
    /// complete).
    CallEnded {
        /// The call.
        call_id: String,
        /// The contact on the other end.
        contact_id: String,
        /// Why.
        reason: CallEndReason,
        /// The media's final counters, if media ran.
        stats: Option<CallStats>,
    },
    /// A call was not rung: it came while another was in progress (it was
    /// answered busy), or its offer was too old.
    CallMissed {
        /// Who called.
        contact_id: String,
        /// Whether because another call was in progress.
        while_busy: bool,
    },
    /// A group text from another member arrived (by relay or SMS) and was
    /// stored in its group. Every group text comes once this way, also one
    /// held until a `GroupChanged` made its sender a member.
    GroupMessageReceived {
        /// The text, with its group and sender.
        message: GroupMessage,
    },
    /// A member changed a group, or made one with this account in it:
    /// reload it with `group(groupId)`.
    GroupChanged {
        /// The group.
        group_id: String,
        /// What changed; null when the change came by SMS (the SMS bridge
        /// reports only which group) or a text for the group is held until
        /// its change arrives.
        change: Option<GroupUpdate>,
    },
    /// The listener was too slow and missed `count` events; reload whatever
    /// is on screen.
    EventsMissed {
        /// How many events were lost.
        count: u64,
    },
}

/// Implemented by the app to receive an account's events.
///
/// It is called on a Sotto background thread, one event at a time and in
/// order for each subscription. It should return quickly (hand the event to
/// the app's own dispatcher). If it throws, that one event is lost, the
/// failure is logged (without its message, which may hold app data) and the
/// subscription goes on.
#[uniffi::export(foreign)]
pub trait AccountListener: Send + Sync {
    /// One event.
    fn on_event(&self, event: AccountEvent) -> Result<(), ListenerError>;
}

/// A listener failed. Kotlin listeners may throw `ListenerException`, or
/// anything else: every exception from a listener arrives here, so a
/// throwing listener never unwinds through the bindings.
#[derive(Debug, displaydoc::Display, thiserror::Error, uniffi::Error)]
pub enum ListenerError {
    /// the listener failed
    Failed,
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ListenerError {
    fn from(_: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ListenerError::Failed
    }
}

/// Where an account publishes its events.
pub(crate) struct EventHub {
    sender: broadcast::Sender<AccountEvent>,
    /// Every subscription's delivery slot, so that closing the account can
    /// cancel them all.
    deliveries: Mutex<Vec<Weak<Delivery>>>,
}

impl EventHub {
    pub(crate) fn new() -> Self {
        Self {
            sender: broadcast::channel(EVENT_BACKLOG).0,
            deliveries: Mutex::new(Vec::new()),
        }
    }

    /// Publishes an event to every live subscription (a no-op without one).
    pub(crate) fn emit(&self, event: AccountEvent) {
        let _ = self.sender.send(event);
    }

    /// Starts delivering events to `listener` on `runtime`.
    pub(crate) fn subscribe(
        &self,
        runtime: &Handle,
        listener: Arc<dyn AccountListener>,
    ) -> Subscription {
        let delivery = Arc::new(Delivery::new(listener));
        let mut receiver = self.sender.subscribe();
        let task_delivery = Arc::clone(&delivery);
        let task = runtime.spawn(async move {
            loop {
                let event = match receiver.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(count)) => AccountEvent::EventsMissed { count },
                    Err(RecvError::Closed) => break,
                };
                // The listener is foreign code that may block; let the
                // runtime move its other tasks off this worker meanwhile.
                let goes_on = tokio::task::block_in_place(|| task_delivery.deliver(event));
                if !goes_on {
                    break;
                }
            }
        });
        let mut deliveries = lock(&self.deliveries);
        deliveries.retain(|d| d.strong_count() > 0);
        deliveries.push(Arc::downgrade(&delivery));
        Subscription {
            delivery,
            task: task.abort_handle(),
        }
    }

    /// Cancels every subscription; used when the account closes.
    pub(crate) fn close(&self) {
        let deliveries = std::mem::take(&mut *lock(&self.deliveries));
        for delivery in deliveries.iter().filter_map(Weak::upgrade) {
            delivery.cancel();
        }
    }
}

thread_local! {
    /// The delivery whose listener this thread is calling right now (its
    /// address), so that a listener that cancels its own subscription from
    /// inside a callback does not wait for itself.
    static DELIVERING: Cell<usize> = const { Cell::new(0) };
}

/// One subscription's listener. The lock is held while the listener runs,
/// which is what makes cancelling wait for a callback in progress.
struct Delivery {
    listener: Mutex<Option<Arc<dyn AccountListener>>>,
    cancelled: AtomicBool,
}

impl Delivery {
    fn new(listener: Arc<dyn AccountListener>) -> Self {
        Self {
            listener: Mutex::new(Some(listener)),
            cancelled: AtomicBool::new(false),
        }
    }

    fn address(&self) -> usize {
        self as *const Self as usize
    }

    /// Calls the listener; returns whether the subscription goes on.
    fn deliver(&self, event: AccountEvent) -> bool {
        let mut slot = lock(&self.listener);
        if self.cancelled.load(Ordering::SeqCst) {
            slot.take();
            return false;
        }
        let Some(listener) = slot.as_ref() else {
            return false;
        };
        let outer = DELIVERING.replace(self.address());
        // A panic should not happen (listener exceptions come back as
        // `ListenerError`), but one must not end the delivery task either.
        let outcome = catch_unwind(AssertUnwindSafe(|| listener.on_event(event)));
        DELIVERING.set(outer);
        if !matches!(outcome, Ok(Ok(()))) {
            tracing::warn!("an account listener failed; its event was dropped");
        }
        if self.cancelled.load(Ordering::SeqCst) {
            // Cancelled from inside the callback: release the listener now.
            slot.take();
            return false;
        }
        true
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if DELIVERING.get() == self.address() {
            // Called by our own listener: this thread holds the lock, and
            // `deliver` releases the listener when the callback returns.
            return;
        }
        // Waits for a callback in progress on another thread.
        let listener = lock(&self.listener).take();
        drop(listener);
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// A live subscription to an account's events. Cancel it with [`cancel`]
/// or Kotlin's `close()`/`use {}`; it is also cancelled when the account
/// closes, and when the object is garbage-collected.
///
/// [`cancel`]: Subscription::cancel
#[derive(uniffi::Object)]
pub struct Subscription {
    delivery: Arc<Delivery>,
    task: AbortHandle,
}

#[uniffi::export]
impl Subscription {
    /// Stops the events. When this returns, the listener is not being
    /// called and never will be again. Calling it twice is harmless.
    pub fn cancel(&self) {
        self.delivery.cancel();
        self.task.abort();
    }

    /// Whether events still reach the listener (false once cancelled or
    /// once the account closed).
    pub fn is_active(&self) -> bool {
        !self.delivery.is_cancelled() && !self.task.is_finished()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking listener is caught inside the lock, so poisoning can only
    // come from a bug here; the data (a listener slot) stays valid anyway.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
