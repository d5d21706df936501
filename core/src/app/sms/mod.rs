//! The SMS bridge of the application facade: how a phone app that is the
//! default SMS app hands SMS to the core and takes SMS from it.
//!
//! - In: every SMS the phone receives goes to [`Account::sms_received`] (or
//!   [`Account::sms_data_received`] for a data SMS on
//!   [`crate::sms::segment::DATA_PORT`]). The core says what it was: a plain
//!   SMS stored in its number's thread, a decrypted Sotto text stored in the
//!   contact's conversation, a handshake, or a part still waiting for the
//!   rest. Ciphertext is never stored or shown as a plain message.
//! - Out: whatever the core wants on the air (encrypted parts, handshake
//!   legs and replies, resend requests, plain texts) waits in a queue in the
//!   encrypted store. The app takes it with [`Account::take_outgoing_sms`]
//!   and reports each SMS back by id with [`Account::report_sms_status`].
//!   A text's state follows its SMS: sent when all its parts are sent,
//!   delivered when the carrier reported all of them delivered.
//! - Sending (`routing`): [`Account::send_text_routed`] and
//!   [`Account::send_text_to_number`] choose relay, encrypted SMS or plain
//!   SMS with [`crate::sms::choose_route`] and the user's
//!   [`crate::sms::TransportPolicy`] (`settings`).
//! - Plain threads, received MMS and the history import: `plain_threads`.
//!
//! What survives the app process being killed: the queue (rows handed out
//! but never reported are queued again on the next open, so an SMS may go
//! twice but is never lost; a repeated Sotto part is dropped by the
//! receiver's reassembly), the parts of unfinished incoming messages (the
//! endpoint keeps them in the store), our handshake legs waiting for an
//! answer, the cache of sent payloads that answers resend requests, and
//! the sessions; see [`crate::sms::endpoint`].
//!
//! It owns the wiring between [`SmsEndpoint`], the plain-SMS model and the
//! queue; the protocol is in [`crate::sms`].

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

mod locked_inbox;
mod plain_read;
mod plain_threads;
mod routing;
mod settings;

pub(crate) use routing::{carry_by_sms, carry_outbox_by_sms, route_to};
pub use routing::{NumberConversation, SentText};
pub use settings::{SmsSettings, DEFAULT_REGION};

use super::{Account, Shared};
use crate::error::{Error, Result};
use crate::message::MessageId;
use crate::messaging::Received;
use crate::millis;
use crate::sms::{PhoneNumber, SmsBody, SmsConfig, SmsEndpoint, SmsEvent, Step, WaitingLeg};
use crate::store::{
    in_transaction, ContactId, DeliveryState, Direction, GroupId, GroupMessage, NewQueuedSms,
    PlainState, QueueState, QueuedSmsRow, SottoStore, SqlCipherStore, StoredMessage, TextTransport,
};

/// How long a sent SMS waits for its delivery report before the queue
/// forgets it (not every carrier sends reports).
const DELIVERY_REPORT_WAIT: Duration = Duration::from_secs(3 * 24 * 3600);

/// What became of an SMS from [`Account::take_outgoing_sms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsStatus {
    /// The radio sent it.
    Sent,
    /// The carrier reported it delivered.
    Delivered,
    /// The radio could not send it.
    Failed,
}

/// One SMS for the app to send.
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedSms {
    /// Report its fate with this id ([`Account::report_sms_status`]).
    pub id: i64,
    /// The recipient.
    pub to: PhoneNumber,
    /// What to send. A plain text may be longer than one SMS: the app sends
    /// it as a multipart SMS. A Sotto part always fits one SMS.
    pub body: SmsBody,
    /// Sotto ciphertext (never shown to the user) rather than a plain text.
    pub encrypted: bool,
}

impl std::fmt::Debug for QueuedSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedSms")
            .field("id", &self.id)
            .field("body", &self.body)
            .field("encrypted", &self.encrypted)
            .finish_non_exhaustive()
    }
}

/// What an incoming SMS turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmsReceived {
    /// An ordinary SMS, stored in the plain thread of `phone`.
    Plain {
        /// The sender, normalised: the thread.
        phone: PhoneNumber,
        /// Its row in the plain-SMS model.
        id: i64,
    },
    /// A Sotto text, decrypted and stored in the contact's conversation.
    Text {
        /// Who sent it.
        contact: ContactId,
        /// The text as stored.
        message: StoredMessage,
    },
    /// A Sotto discovery handshake from (or answered by) this contact.
    Handshake {
        /// The contact (created if the number was unknown).
        contact: ContactId,
        /// Sessions both ways: encrypted texts can flow.
        session_ready: bool,
    },
    /// The contact presented a new identity key; the message waits,
    /// undecrypted, until the user accepts it
    /// ([`Account::accept_new_identity`]).
    IdentityChanged {
        /// Who.
        contact: ContactId,
    },
    /// The contact set the disappearing-messages timer.
    TimerChanged {
        /// Who.
        contact: ContactId,
        /// Seconds; 0 turns it off.
        seconds: u32,
    },
    /// A group text, filed in its group (a member reachable only by SMS
    /// gets group texts 1:1, with the group id inside).
    GroupText {
        /// The text as stored in the group.
        message: GroupMessage,
    },
    /// A group's state changed (or a text for it is held until it does).
    GroupChanged {
        /// The group.
        group: GroupId,
    },
    /// Sotto content with nothing to show (a receipt, a message already
    /// received).
    Control,
    /// A number whose key we do not know wants to talk by Sotto (a hello, or
    /// a first encrypted message). Nothing is answered or trusted until the
    /// user accepts ([`Account::accept_sms_stranger`]): the sender number
    /// of an SMS is easily forged, so show it as a request, never as the
    /// number's contact.
    StrangerWaiting {
        /// The number it claims to come from.
        phone: PhoneNumber,
    },
    /// A part of a Sotto message whose other parts have not arrived yet, or
    /// a request to send parts again (answered through the queue).
    PartOfEncrypted,
    /// A Sotto SMS that was damaged on the way or cannot be decrypted. It
    /// is not shown; the sender is asked to send it again where possible.
    Unusable,
}

impl SmsReceived {
    /// Which of two outcomes of one SMS the app should hear about.
    fn rank(&self) -> u8 {
        match self {
            SmsReceived::Text { .. } | SmsReceived::GroupText { .. } => 7,
            SmsReceived::IdentityChanged { .. } => 6,
            SmsReceived::Handshake { .. } | SmsReceived::StrangerWaiting { .. } => 5,
            SmsReceived::Plain { .. } => 4,
            SmsReceived::TimerChanged { .. } | SmsReceived::GroupChanged { .. } => 3,
            SmsReceived::Unusable => 3,
            SmsReceived::Control => 2,
            SmsReceived::PartOfEncrypted => 1,
        }
    }
}

/// An encrypted text whose state an SMS status report moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextProgress {
    /// The conversation.
    pub contact: ContactId,
    /// The text.
    pub message_id: MessageId,
    /// The state it reached: sent or delivered; when its SMS failed, the
    /// state it keeps (pending, or sent if the failure came after sending).
    pub state: DeliveryState,
}

/// What [`Account::sms_tick`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmsTick {
    /// Incoming Sotto messages that gave up waiting for missing parts.
    pub incomplete: usize,
    /// Handshakes we started that were never answered.
    pub handshakes_unanswered: usize,
    /// Automatic SMS (resends, handshake answers, retries) not sent since
    /// the last tick because the hourly cap
    /// ([`crate::app::AppSettings::automatic_sms_per_hour`]) was reached.
    pub automatic_sms_held_back: usize,
}

/// The account's SMS endpoint, made and restored on first use.
#[derive(Default)]
pub(crate) struct SmsBridge {
    endpoint: Mutex<Option<SmsEndpoint>>,
}

/// Locks the endpoint of `shared`, making it on first use: restores
/// unfinished incoming messages from the store and queues again the SMS
/// handed out before a restart but never reported.
fn endpoint(shared: &Shared) -> Result<MutexGuard<'_, Option<SmsEndpoint>>> {
    let mut guard = shared
        .sms
        .endpoint
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if guard.is_none() {
        let mut store = shared.store();
        in_transaction(&mut *store, |store| store.sms_queue_requeue_handed_out())?;
        *guard = Some(restored_endpoint(shared, &mut store)?);
    }
    Ok(guard)
}

/// An endpoint configured from the current settings, with the state the
/// store keeps put back: waiting handshake legs, the sent-payload cache
/// and the parts of unfinished incoming messages.
fn restored_endpoint(shared: &Shared, store: &mut SqlCipherStore) -> Result<SmsEndpoint> {
    let settings = SmsSettings::load(store)?;
    let mut endpoint = SmsEndpoint::new(SmsConfig {
        own_relay: Some(shared.settings().relay),
        automatic_sms_per_hour: shared.settings().automatic_sms_per_hour,
        data_sms: settings.data_sms,
        ..SmsConfig::default()
    });
    endpoint.restore_legs(store.sms_legs()?);
    let step = endpoint.restore(store, &mut rand::rng())?;
    queue_step(store, &step, SystemTime::now())?;
    Ok(endpoint)
}

/// Makes a running endpoint take the relay of the settings just saved, so
/// handshakes advertise it and "same relay as yours" compares with it. The
/// endpoint is built again from what the store keeps (its config is fixed
/// at creation); the SMS already handed out stay handed out, as the app
/// still reports them. What only memory held goes: the cache of replies to
/// repeated handshake legs (a repeat is answered afresh) and strangers'
/// hellos waiting for the user (they send again). A relay change is rare.
pub(crate) fn relay_changed(shared: &Shared) -> Result<()> {
    let mut guard = shared
        .sms
        .endpoint
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let relay = shared.settings().relay;
    let stale = guard
        .as_ref()
        .is_some_and(|endpoint| endpoint.config().own_relay.as_ref() != Some(&relay));
    if stale {
        let mut store = shared.store();
        *guard = Some(restored_endpoint(shared, &mut store)?);
    }
    if let Some(endpoint) = guard.as_mut() {
        endpoint.set_automatic_sms_per_hour(shared.settings().automatic_sms_per_hour);
    }
    Ok(())
}

/// Hands the call signals that came by SMS in `step` to the running call
/// shell. Without a connection there is no shell to ring, and the signal
/// is dropped (the caller's offer times out), as it would be on the relay.
fn forward_call_signals(shared: &Shared, step: &Step) {
    let inbox = shared
        .sms_call_signals
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for event in &step.events {
        if let SmsEvent::Received {
            contact,
            received: Received::CallSignal(signal),
        } = event
        {
            match inbox.as_ref() {
                // A shell that stopped has dropped its inbox: same as none.
                Some(inbox) => drop(inbox.send((contact.clone(), signal.clone()))),
                None => tracing::info!("a call signal came by SMS with no connection running"),
            }
        }
    }
}

impl Account {
    fn endpoint(&self) -> Result<MutexGuard<'_, Option<SmsEndpoint>>> {
        endpoint(&self.shared)
    }

    /// Hands in a text SMS the phone received from `sender` (the address as
    /// the carrier gave it; for a long plain SMS, the joined text).
    pub fn sms_received(&self, sender: &str, body: &str) -> Result<SmsReceived> {
        let from = self.parse_phone(sender)?;
        self.with_endpoint(|endpoint, store, now| {
            endpoint.receive_text(store, &from, body, now, &mut rand::rng())
        })
    }

    /// Hands in a data SMS the phone received on Sotto's port.
    pub fn sms_data_received(&self, sender: &str, data: &[u8]) -> Result<SmsReceived> {
        let from = self.parse_phone(sender)?;
        self.with_endpoint(|endpoint, store, now| {
            endpoint.receive_data(store, &from, data, now, &mut rand::rng())
        })
    }

    fn with_endpoint(
        &self,
        work: impl FnOnce(&mut SmsEndpoint, &mut SqlCipherStore, SystemTime) -> Result<Step>,
    ) -> Result<SmsReceived> {
        let mut guard = self.endpoint()?;
        let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
        let now = SystemTime::now();
        let mut store = self.shared.store();
        let step = work(endpoint, &mut store, now)?;
        mark_received_by_sms(&mut store, &step)?;
        commit_step(&mut store, &step, now, endpoint)?;
        drop(store);
        forward_call_signals(&self.shared, &step);
        Ok(summarise(&step))
    }

    /// Drives the SMS timeouts: asks for missing parts, gives up on
    /// messages that stay incomplete, sends unanswered handshakes again, and
    /// forgets sent SMS whose delivery report never came. It also hands to
    /// the SMS queue what the relay outbox holds for contacts not on this
    /// account's relay (left there by a crash between a send's commit and
    /// its queueing, say). Call it now and then (a minute is plenty), then
    /// take the outgoing SMS.
    pub fn sms_tick(&self) -> Result<SmsTick> {
        carry_outbox_by_sms(&self.shared)?;
        let mut guard = self.endpoint()?;
        let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
        let now = SystemTime::now();
        let mut store = self.shared.store();
        let step = endpoint.tick(&mut *store, now, &mut rand::rng())?;
        commit_step(&mut store, &step, now, endpoint)?;
        let before = millis(now).saturating_sub(DELIVERY_REPORT_WAIT.as_millis() as u64);
        in_transaction(&mut *store, |store| store.sms_queue_prune(before))?;
        let mut tick = SmsTick {
            automatic_sms_held_back: endpoint.take_automatic_held_back(),
            ..SmsTick::default()
        };
        for event in &step.events {
            match event {
                SmsEvent::Incomplete { expiry, .. }
                    if *expiry != crate::sms::Expiry::ResendRequested =>
                {
                    tick.incomplete += 1
                }
                SmsEvent::HandshakeUnanswered { .. } => tick.handshakes_unanswered += 1,
                _ => {}
            }
        }
        Ok(tick)
    }

    /// Takes the SMS waiting to be sent, oldest first, and marks them handed
    /// out: a second call does not return them again. Report each with
    /// [`Account::report_sms_status`].
    pub fn take_outgoing_sms(&self) -> Result<Vec<QueuedSms>> {
        // Through the endpoint, so SMS held from before a restart are queued
        // again first.
        let _endpoint = self.endpoint()?;
        in_transaction(&mut *self.shared.store(), |store| {
            let rows = store.sms_queue_in_state(QueueState::Queued)?;
            let mut taken = Vec::with_capacity(rows.len());
            for row in rows {
                store.sms_queue_set_state(row.id, QueueState::HandedOut)?;
                taken.push(to_queued_sms(row)?);
            }
            Ok(taken)
        })
    }

    /// How many SMS wait to be taken (not yet handed out).
    pub fn sms_to_take(&self) -> Result<usize> {
        self.shared.store().sms_queue_count(QueueState::Queued)
    }

    /// How many SMS wait to be taken or reported.
    pub fn waiting_sms(&self) -> Result<usize> {
        self.shared.store().sms_queue_waiting()
    }

    /// Records what became of SMS `id`. A plain SMS takes the state; a text
    /// sent as encrypted SMS becomes sent once all its parts are sent and
    /// delivered once all are delivered. A failed SMS is not sent again on
    /// its own (a plain one shows as failed, an encrypted text stays
    /// pending) until [`Account::retry_failed_sms`]. Unknown or forgotten
    /// ids (a batch all delivered, or pruned by [`Account::sms_tick`]) are
    /// refused with [`Error::UnknownMessage`]; a report that would move
    /// backwards is ignored.
    ///
    /// Returns the encrypted texts whose state this report moved, with the
    /// state they reached; for a failure, the texts the batch carries, with
    /// their stored state (a failure does not move it), now failed in
    /// [`Account::text_transports`].
    pub fn report_sms_status(&self, id: i64, status: SmsStatus) -> Result<Vec<TextProgress>> {
        in_transaction(&mut *self.shared.store(), |store| {
            let row = store.sms_queue_row(id)?.ok_or(Error::UnknownMessage)?;
            let state = match status {
                SmsStatus::Sent => QueueState::Sent,
                SmsStatus::Delivered => QueueState::Delivered,
                SmsStatus::Failed => QueueState::Failed,
            };
            // Failed and delivered are final; sent only moves forward.
            if row.state >= state || row.state >= QueueState::Delivered {
                return Ok(Vec::new());
            }
            store.sms_queue_set_state(id, state)?;
            if let Some(plain_id) = row.plain_message {
                store.set_plain_state(
                    plain_id,
                    match status {
                        SmsStatus::Sent => PlainState::Sent,
                        SmsStatus::Delivered => PlainState::Delivered,
                        SmsStatus::Failed => PlainState::Failed,
                    },
                )?;
            }
            let states = store.sms_queue_batch_states(row.batch)?;
            let all = |wanted: &[QueueState]| states.iter().all(|s| wanted.contains(s));
            let advance = if all(&[QueueState::Delivered]) {
                Some(DeliveryState::Delivered)
            } else if all(&[QueueState::Sent, QueueState::Delivered]) {
                Some(DeliveryState::Sent)
            } else {
                None
            };
            let mut moved = Vec::new();
            if status == SmsStatus::Failed {
                // The texts show as failed (`text_transports`) until
                // `retry_failed_sms`; their delivery state stays as it was
                // (pending, or sent when the failure came after every part
                // was sent), and is reported as stored.
                for (contact, message_id) in store.sms_queue_texts(row.batch)? {
                    if !store.set_text_sms_failed(&contact, &message_id, true)? {
                        continue;
                    }
                    let Some(text) = store.outgoing_message(&contact, &message_id)? else {
                        continue;
                    };
                    moved.push(TextProgress {
                        contact,
                        message_id,
                        state: text.state,
                    });
                }
            }
            if let Some(state) = advance {
                for (contact, message_id) in store.sms_queue_texts(row.batch)? {
                    if store.advance_delivery_state(&contact, &message_id, state)? {
                        moved.push(TextProgress {
                            contact,
                            message_id,
                            state,
                        });
                    }
                }
            }
            // Failed rows stay for `retry_failed_sms` (or the pruning).
            if all(&[QueueState::Delivered]) {
                store.sms_queue_remove_batch(row.batch)?;
            }
            Ok(moved)
        })
    }

    /// Queues again every SMS reported failed (say, once the phone has
    /// service again, or when the user taps "retry"); their plain messages
    /// go back to pending. Returns how many.
    pub fn retry_failed_sms(&self) -> Result<usize> {
        in_transaction(&mut *self.shared.store(), |store| {
            let failed = store.sms_queue_in_state(QueueState::Failed)?;
            for row in &failed {
                store.sms_queue_set_state(row.id, QueueState::Queued)?;
                if let Some(plain_id) = row.plain_message {
                    store.set_plain_state(plain_id, PlainState::Pending)?;
                }
                for (contact, message_id) in store.sms_queue_texts(row.batch)? {
                    store.set_text_sms_failed(&contact, &message_id, false)?;
                }
            }
            Ok(failed.len())
        })
    }

    /// How each of a conversation's texts travelled (by encrypted SMS or
    /// through the relay) and whether an SMS carrying it failed; in the
    /// order of `ids`, the default (relayed, not failed) for ids that name
    /// no stored text.
    pub fn text_transports(
        &self,
        contact: &ContactId,
        ids: &[MessageId],
    ) -> Result<Vec<TextTransport>> {
        let store = self.shared.store();
        ids.iter()
            .map(|id| Ok(store.text_transport(contact, id)?.unwrap_or_default()))
            .collect()
    }

    /// The numbers whose hello or first encrypted message waits for the
    /// user ([`SmsReceived::StrangerWaiting`]). Kept in memory only: a
    /// hello not answered is sent again by its sender.
    pub fn sms_strangers_waiting(&self) -> Result<Vec<PhoneNumber>> {
        let guard = self.endpoint()?;
        Ok(guard
            .as_ref()
            .map(SmsEndpoint::strangers_waiting)
            .unwrap_or_default())
    }

    /// The user agrees to talk to `number`, which sent a hello or a first
    /// encrypted message ([`SmsReceived::StrangerWaiting`]): the hello is
    /// answered (the number's thread stays plain until the handshake
    /// completes), or the message is taken, and the contact is created
    /// under `name`. Until the safety number is compared the number is not
    /// proven ([`super::ContactInfo::unproven_number`]).
    pub fn accept_sms_stranger(&self, number: &str, name: &str) -> Result<SmsReceived> {
        let name = super::check_name(name)?;
        let from = self.parse_phone(number)?;
        let mut guard = self.endpoint()?;
        let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
        let now = SystemTime::now();
        let mut store = self.shared.store();
        let step = endpoint.accept_stranger(&mut *store, &from, &name, now, &mut rand::rng())?;
        commit_step(&mut store, &step, now, endpoint)?;
        Ok(summarise(&step))
    }

    /// Forgets what `number` sent ([`SmsReceived::StrangerWaiting`])
    /// without answering or storing it.
    pub fn decline_sms_stranger(&self, number: &str) -> Result<()> {
        let from = self.parse_phone(number)?;
        let mut guard = self.endpoint()?;
        let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
        endpoint.decline_stranger(&from);
        Ok(())
    }

    /// Starts the Sotto discovery handshake with `number` by SMS: the
    /// contact (named `name` if new) gets our identity, a prekey bundle and
    /// our relay. Its SMS wait in the queue; [`SmsReceived::Handshake`] with
    /// `session_ready` tells when the answer came.
    pub fn start_sms_handshake(&self, number: &str, name: &str) -> Result<ContactId> {
        let name = super::check_name(name)?;
        let to = self.parse_phone(number)?;
        let mut guard = self.endpoint()?;
        let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
        let now = SystemTime::now();
        let mut store = self.shared.store();
        let (contact, step) =
            endpoint.start_handshake(&mut *store, &to, &name, now, &mut rand::rng())?;
        commit_step(&mut store, &step, now, endpoint)?;
        Ok(contact)
    }
}

/// Queues what a step wants sent, in one transaction: its SMS as one batch,
/// and the outbox entries they carry taken out of the relay's outbox (so the
/// relay does not send them too), their texts following the batch's state.
/// Returns the ids of the messages the batch carries.
fn queue_step(store: &mut SqlCipherStore, step: &Step, now: SystemTime) -> Result<Vec<MessageId>> {
    if step.outgoing.is_empty() {
        return Ok(Vec::new());
    }
    in_transaction(store, |store| queue_step_in(store, step, now))
}

/// [`queue_step`] and the endpoint's waiting legs ([`sorted_legs`]) in one
/// commit: a leg the step made (a promised relay, say) is kept if and only
/// if its SMS are queued.
fn commit_step(
    store: &mut SqlCipherStore,
    step: &Step,
    now: SystemTime,
    endpoint: &SmsEndpoint,
) -> Result<Vec<MessageId>> {
    let legs = sorted_legs(endpoint);
    let legs_changed = store.sms_legs()? != legs;
    if step.outgoing.is_empty() && !legs_changed {
        return Ok(Vec::new());
    }
    in_transaction(store, |store| {
        let texts = if step.outgoing.is_empty() {
            Vec::new()
        } else {
            queue_step_in(store, step, now)?
        };
        if legs_changed {
            store.replace_sms_legs(&legs)?;
        }
        Ok(texts)
    })
}

/// The body of [`queue_step`], inside the caller's transaction.
fn queue_step_in(
    store: &mut SqlCipherStore,
    step: &Step,
    now: SystemTime,
) -> Result<Vec<MessageId>> {
    let batch = store.sms_queue_new_batch()?;
    let mut texts = Vec::new();
    for outbox_id in &step.outbox_ids {
        if let Some(entry) = store.take_outbox(*outbox_id)? {
            store.sms_queue_add_text(batch, &entry.contact, &entry.message_id)?;
            store.mark_text_by_sms(&entry.contact, &entry.message_id, Direction::Outgoing)?;
            texts.push(entry.message_id);
        }
    }
    for sms in &step.outgoing {
        let (data_port, body) = match &sms.body {
            SmsBody::Text(text) => (None, text.as_bytes()),
            SmsBody::Data { port, bytes } => (Some(*port), bytes.as_slice()),
        };
        store.sms_queue_push(&NewQueuedSms {
            batch,
            to: &sms.to,
            data_port,
            body,
            encrypted: true,
            plain_message: None,
            at_ms: millis(now),
        })?;
    }
    Ok(texts)
}

/// Records that the texts an SMS step received came by encrypted SMS. The
/// endpoint committed them already; a crash before this leaves them shown
/// as relayed, nothing worse.
fn mark_received_by_sms(store: &mut SqlCipherStore, step: &Step) -> Result<()> {
    let texts: Vec<_> = step
        .events
        .iter()
        .filter_map(|event| match event {
            SmsEvent::Received {
                contact,
                received: Received::Text(message),
            } => Some((contact, message.id)),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        return Ok(());
    }
    in_transaction(store, |store| {
        for (contact, id) in &texts {
            store.mark_text_by_sms(contact, id, Direction::Incoming)?;
        }
        Ok(())
    })
}

/// The endpoint's waiting handshake legs in the store's order, to be kept
/// when they changed, so a restart neither forgets to send a hello again,
/// misses that its answer made the session ready, nor forgets a promised
/// relay.
fn sorted_legs(endpoint: &SmsEndpoint) -> Vec<WaitingLeg> {
    let mut legs = endpoint.waiting_legs();
    legs.sort_by_key(|leg| (leg.to.clone(), leg.kind));
    legs
}

fn to_queued_sms(row: QueuedSmsRow) -> Result<QueuedSms> {
    let body = match row.data_port {
        Some(port) => SmsBody::Data {
            port,
            bytes: row.body,
        },
        None => SmsBody::Text(String::from_utf8(row.body).map_err(|_| Error::CorruptStore)?),
    };
    Ok(QueuedSms {
        id: row.id,
        to: row.to,
        body,
        encrypted: row.encrypted,
    })
}

/// The one outcome of an SMS the app hears about.
fn summarise(step: &Step) -> SmsReceived {
    let mut best = SmsReceived::PartOfEncrypted;
    let mut ready = Vec::new();
    for event in &step.events {
        let outcome = match event {
            SmsEvent::Plain { from, id } => SmsReceived::Plain {
                phone: from.clone(),
                id: *id,
            },
            SmsEvent::Received { contact, received } => match received {
                Received::Text(message) => SmsReceived::Text {
                    contact: contact.clone(),
                    message: message.clone(),
                },
                Received::HeldForUntrustedIdentity => SmsReceived::IdentityChanged {
                    contact: contact.clone(),
                },
                Received::ContactHandshake(_) => SmsReceived::Handshake {
                    contact: contact.clone(),
                    session_ready: false,
                },
                Received::ExpirationTimerChanged(seconds) => SmsReceived::TimerChanged {
                    contact: contact.clone(),
                    seconds: *seconds,
                },
                Received::GroupText(message) => SmsReceived::GroupText {
                    message: message.clone(),
                },
                Received::GroupChanged(change) => SmsReceived::GroupChanged {
                    group: change.group,
                },
                Received::GroupTextHeld { group } => SmsReceived::GroupChanged { group: *group },
                Received::Receipt { .. }
                | Received::CallSignal(_)
                | Received::GroupSenderKey { .. }
                | Received::Duplicate => SmsReceived::Control,
            },
            SmsEvent::HandshakeAnswered { contact, .. } => SmsReceived::Handshake {
                contact: contact.clone(),
                session_ready: false,
            },
            SmsEvent::SessionReady { contact } => {
                ready.push(contact.clone());
                SmsReceived::Handshake {
                    contact: contact.clone(),
                    session_ready: true,
                }
            }
            SmsEvent::Damaged { .. } | SmsEvent::Failed { .. } | SmsEvent::PartRefused { .. } => {
                SmsReceived::Unusable
            }
            SmsEvent::Incomplete { .. } => SmsReceived::PartOfEncrypted,
            SmsEvent::StrangerWaiting { from } => SmsReceived::StrangerWaiting {
                phone: from.clone(),
            },
            SmsEvent::HandshakeUnanswered { .. } | SmsEvent::AutomaticSmsHeldBack { .. } => {
                SmsReceived::Control
            }
        };
        if outcome.rank() > best.rank() {
            best = outcome;
        }
    }
    if let SmsReceived::Handshake {
        contact,
        session_ready,
    } = &mut best
    {
        *session_ready = ready.contains(contact);
    }
    best
}
