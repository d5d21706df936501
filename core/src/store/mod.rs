//! Storage: the [`SottoStore`] trait, its records, and its two
//! implementations — [`InMemStore`] for tests and [`SqlCipherStore`] on disk.
//!
//! A `SottoStore` is every libsignal store trait (identity, prekeys, signed
//! prekeys, Kyber prekeys, sessions, sender keys) plus Sotto's own records:
//! the local account, contacts, conversation settings, messages, the outbox,
//! received-message ids for de-duplication, and envelopes held back while a
//! contact's new identity awaits re-trust.
//!
//! Both implementations are transactional: the protocol layer opens a
//! transaction, lets libsignal update ratchet state through the store traits,
//! writes its own rows, and commits once. Nothing here knows the protocol.

mod groups;
mod key;
mod memory;
mod plain_sms;
mod schema;
mod sms_sent;
mod sqlcipher;

use libsignal_protocol::{
    IdentityKey, IdentityKeyPair, KyberPreKeyStore, PreKeyStore, SenderKeyStore, SessionStore,
    SignedPreKeyStore,
};
use rand::{CryptoRng, RngCore};

use crate::error::Result;
use crate::message::{Envelope, MessageId};
use crate::sms::phone::PhoneNumber;

pub use groups::{Group, GroupId, GroupMessage};
pub use key::{salt_path, DatabaseKey, SALT_LEN};
pub use memory::InMemStore;
pub use plain_sms::{
    Attachment, HeldSmsPart, NewPlainMessage, PlainMessage, PlainState, PlainThread,
};
pub use sms_sent::SentSms;
pub(crate) use sqlcipher::sms_queue::{NewQueuedSms, QueueState, QueuedSmsRow};
pub use sqlcipher::text_transport::TextTransport;
pub use sqlcipher::{SqlCipherStore, DEFAULT_CACHE_KIB};

/// A contact's local, opaque id. It is also the name of the contact's
/// libsignal `ProtocolAddress`, so libsignal's own logs (the `log` crate)
/// name contacts only by this random id, never by a phone number. They do
/// print public identity keys when a key is untrusted, so an app should not
/// forward libsignal's logs to a shared system log.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(String);

impl ContactId {
    /// A fresh random id.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// Rebuilds an id from its string form (as stored or shown by
    /// [`ContactId::as_str`]).
    pub fn from_string(id: String) -> Self {
        Self(id)
    }

    /// The id's string form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ContactId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContactId(..)")
    }
}

/// This device's Signal identity.
#[derive(Clone)]
pub struct LocalAccount {
    /// The long-term identity key pair.
    pub identity: IdentityKeyPair,
    /// The libsignal registration id (14 bits, random).
    pub registration_id: u32,
}

impl std::fmt::Debug for LocalAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalAccount(..)")
    }
}

/// Bookkeeping for prekey generation, rotation and hand-out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreKeyState {
    /// The next id for a one-time EC prekey.
    pub next_ec_id: u32,
    /// The next id for a Kyber prekey (one-time or last resort).
    pub next_kyber_id: u32,
    /// The next id for a signed EC prekey.
    pub next_signed_id: u32,
    /// The signed EC prekey currently published.
    pub active_signed_id: Option<u32>,
    /// When the active signed prekey was made (ms since the epoch).
    pub signed_created_at_ms: u64,
    /// The Kyber last-resort prekey currently published.
    pub active_last_resort_id: Option<u32>,
    /// When the active last-resort prekey was made (ms since the epoch).
    pub last_resort_created_at_ms: u64,
    /// One-time EC prekeys with ids below this have been handed out.
    pub ec_handed_out_below: u32,
    /// One-time Kyber prekeys with ids below this have been handed out.
    pub kyber_handed_out_below: u32,
}

/// A contact.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// The local id.
    pub id: ContactId,
    /// The name the user gave the contact.
    pub name: String,
    /// The relay the contact receives on, when known (from their invite or
    /// handshake). `None` for contacts reachable only by SMS.
    pub relay: Option<crate::relay::invite::RelayInvite>,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contact")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The trust the user has placed in a contact's identity key.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    /// The identity key currently trusted for the contact.
    pub key: IdentityKey,
    /// Whether the user compared safety numbers and marked it verified.
    pub verified: bool,
}

impl std::fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityRecord")
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// Per-conversation settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConversationSettings {
    /// Disappearing-messages timer in seconds; 0 means messages stay.
    pub expire_timer_secs: u32,
    /// When set, no message of this conversation is written to the store.
    pub keep_no_history: bool,
}

/// Whether a message was sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from the contact.
    Incoming,
    /// Sent to the contact.
    Outgoing,
}

/// How far an outgoing message has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryState {
    /// Encrypted and waiting in the outbox.
    Pending,
    /// Handed to a transport.
    Sent,
    /// The contact's device stored it.
    Delivered,
    /// The contact displayed it.
    Read,
    /// Received from the contact (incoming messages only).
    Received,
}

impl DeliveryState {
    pub(crate) fn code(self) -> i64 {
        match self {
            DeliveryState::Pending => 0,
            DeliveryState::Sent => 1,
            DeliveryState::Delivered => 2,
            DeliveryState::Read => 3,
            DeliveryState::Received => 4,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => DeliveryState::Pending,
            1 => DeliveryState::Sent,
            2 => DeliveryState::Delivered,
            3 => DeliveryState::Read,
            4 => DeliveryState::Received,
            _ => return None,
        })
    }
}

/// A text message as the store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The sender-chosen unique id.
    pub id: MessageId,
    /// The conversation's contact.
    pub contact: ContactId,
    /// Sent or received.
    pub direction: Direction,
    /// The text.
    pub body: String,
    /// When the sender made it (ms since the epoch).
    pub sent_at_ms: u64,
    /// When this device stored it (ms since the epoch); messages list in this order.
    pub stored_at_ms: u64,
    /// Delivery progress.
    pub state: DeliveryState,
    /// When it disappears (ms since the epoch), if a timer is set.
    pub expires_at_ms: Option<u64>,
}

impl std::fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMessage")
            .field("id", &self.id)
            .field("direction", &self.direction)
            .field("body_len", &self.body.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// An encrypted envelope waiting to be handed to a transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The outbox row id, used to remove it once sent.
    pub id: i64,
    /// The recipient.
    pub contact: ContactId,
    /// The id of the message inside.
    pub message_id: MessageId,
    /// The envelope to send.
    pub envelope: Envelope,
}

/// An envelope kept, undecrypted, until its sender's new identity is trusted.
#[derive(Clone, PartialEq, Eq)]
pub struct HeldEnvelope {
    /// The held row id.
    pub id: i64,
    /// Who sent it.
    pub contact: ContactId,
    /// The envelope as received.
    pub envelope: Envelope,
    /// The new identity key the sender presented, when the envelope carried it.
    pub offered_identity: Option<IdentityKey>,
}

impl std::fmt::Debug for HeldEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldEnvelope")
            .field("id", &self.id)
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
}

/// Everything the protocol layer needs from storage.
///
/// Methods that change state take `&mut self`. Callers group them in a
/// transaction with [`SottoStore::begin`] and [`SottoStore::commit`]; the
/// libsignal store traits write into the same transaction.
pub trait SottoStore:
    libsignal_protocol::IdentityKeyStore
    + PreKeyStore
    + SignedPreKeyStore
    + KyberPreKeyStore
    + SessionStore
    + SenderKeyStore
{
    /// Opens a transaction. Transactions do not nest.
    fn begin(&mut self) -> Result<()>;
    /// Makes everything since [`SottoStore::begin`] durable.
    fn commit(&mut self) -> Result<()>;
    /// Discards everything since [`SottoStore::begin`].
    fn rollback(&mut self) -> Result<()>;

    /// The local account, if one was created.
    fn local_account(&self) -> Result<Option<LocalAccount>>;
    /// Stores the local account. Fails if one exists.
    fn create_local_account(&mut self, account: &LocalAccount) -> Result<()>;

    /// Prekey bookkeeping.
    fn prekey_state(&self) -> Result<PreKeyState>;
    /// Saves prekey bookkeeping.
    fn save_prekey_state(&mut self, state: &PreKeyState) -> Result<()>;
    /// Ids of the one-time EC prekeys held (private halves still here).
    fn one_time_prekey_ids(&self) -> Result<Vec<u32>>;
    /// Ids of the one-time Kyber prekeys held.
    fn one_time_kyber_prekey_ids(&self) -> Result<Vec<u32>>;
    /// Ids of the signed EC prekeys held.
    fn signed_prekey_ids(&self) -> Result<Vec<u32>>;
    /// Ids of the Kyber last-resort prekeys held.
    fn last_resort_kyber_prekey_ids(&self) -> Result<Vec<u32>>;
    /// Marks a stored Kyber prekey as a last-resort key: it is kept after
    /// use, and each (base key) may use it only once.
    fn mark_kyber_last_resort(&mut self, id: u32) -> Result<()>;
    /// Deletes a signed EC prekey (after rotation).
    fn remove_signed_prekey(&mut self, id: u32) -> Result<()>;
    /// Deletes a Kyber prekey (after rotation).
    fn remove_kyber_prekey(&mut self, id: u32) -> Result<()>;

    /// The trusted identity of a contact, if any.
    fn identity_record(&self, contact: &ContactId) -> Result<Option<IdentityRecord>>;
    /// Trusts `key` for `contact`, replacing any earlier key; the new key is
    /// not verified.
    fn trust_identity(&mut self, contact: &ContactId, key: &IdentityKey) -> Result<()>;
    /// The contact whose trusted identity key is `key`, if any.
    fn contact_by_identity(&self, key: &IdentityKey) -> Result<Option<ContactId>>;
    /// Marks the trusted key of `contact` as verified or not.
    fn set_identity_verified(&mut self, contact: &ContactId, verified: bool) -> Result<()>;
    /// Drops the session with `contact` (after an identity change).
    fn delete_session(&mut self, contact: &ContactId) -> Result<()>;

    /// Adds or updates a contact.
    fn save_contact(&mut self, contact: &Contact) -> Result<()>;
    /// One contact.
    fn contact(&self, id: &ContactId) -> Result<Option<Contact>>;
    /// Every contact, by name.
    fn contacts(&self) -> Result<Vec<Contact>>;

    /// The settings of the conversation with `contact`.
    fn conversation_settings(&self, contact: &ContactId) -> Result<ConversationSettings>;
    /// Saves the settings of the conversation with `contact`.
    fn save_conversation_settings(
        &mut self,
        contact: &ContactId,
        settings: &ConversationSettings,
    ) -> Result<()>;

    /// Stores a message. A message with the same id, contact and direction
    /// must not exist. Its `stored_at_ms` is kept unique within the
    /// conversation: a message stored in the millisecond of the newest one
    /// (or after the clock went back) takes the millisecond after it, so
    /// the `stored_at_ms` of a page's last message is an exact cursor for
    /// [`SottoStore::messages`].
    fn insert_message(&mut self, message: &StoredMessage) -> Result<()>;
    /// The newest `limit` messages of a conversation stored before
    /// `before_ms` (all if `None`), newest first. The next page is the one
    /// before the last message's `stored_at_ms` (unique within the
    /// conversation; see [`SottoStore::insert_message`]).
    fn messages(
        &self,
        contact: &ContactId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<StoredMessage>>;
    /// One outgoing message, by id.
    fn outgoing_message(
        &self,
        contact: &ContactId,
        id: &MessageId,
    ) -> Result<Option<StoredMessage>>;
    /// Moves an outgoing message's state forward; never backward. Returns
    /// whether a message changed.
    fn advance_delivery_state(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        state: DeliveryState,
    ) -> Result<bool>;
    /// Deletes every message whose timer ran out by `now_ms`; returns how many.
    fn delete_expired_messages(&mut self, now_ms: u64) -> Result<usize>;
    /// Deletes every message of a conversation; returns how many.
    fn delete_conversation_messages(&mut self, contact: &ContactId) -> Result<usize>;

    /// Records that message `id` from `contact` was processed. Returns
    /// `false` if it had been already (a duplicate).
    fn record_received_id(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        now_ms: u64,
    ) -> Result<bool>;

    /// Queues an envelope for sending; returns its outbox id.
    fn push_outbox(
        &mut self,
        contact: &ContactId,
        message_id: &MessageId,
        envelope: &Envelope,
    ) -> Result<i64>;
    /// Everything waiting in the outbox, oldest first.
    fn outbox(&self) -> Result<Vec<OutboxEntry>>;
    /// Removes one outbox entry; returns it if it was there.
    fn take_outbox(&mut self, id: i64) -> Result<Option<OutboxEntry>>;

    /// Keeps an envelope that cannot be decrypted until the sender's new
    /// identity is trusted.
    fn hold_envelope(
        &mut self,
        contact: &ContactId,
        envelope: &Envelope,
        offered_identity: Option<&IdentityKey>,
    ) -> Result<i64>;
    /// The held envelopes of a contact, oldest first.
    fn held_envelopes(&self, contact: &ContactId) -> Result<Vec<HeldEnvelope>>;
    /// How many envelopes of a contact are held.
    fn held_envelope_count(&self, contact: &ContactId) -> Result<usize>;
    /// Forgets a held envelope.
    fn remove_held_envelope(&mut self, id: i64) -> Result<()>;

    /// An application setting, by key (`None` when never saved). The keys
    /// and value formats belong to `app::AppSettings` (and to the group
    /// introduction counters of `groups`); the store keeps text.
    fn app_setting(&self, key: &str) -> Result<Option<String>>;
    /// Saves an application setting, replacing any earlier value.
    fn save_app_setting(&mut self, key: &str, value: &str) -> Result<()>;

    /// Makes deletions final on disk: moves the WAL into the database and
    /// truncates it (a no-op in memory). Not inside a transaction.
    fn checkpoint(&mut self) -> Result<()>;

    // --- SMS (issue 4) ---

    /// Links a phone number to a contact, replacing any earlier link of
    /// that number (a number belongs to one contact).
    fn link_phone(&mut self, phone: &PhoneNumber, contact: &ContactId) -> Result<()>;
    /// The contact a phone number is linked to, if any.
    fn contact_by_phone(&self, phone: &PhoneNumber) -> Result<Option<ContactId>>;
    /// The phone numbers linked to a contact, sorted.
    fn phones_of(&self, contact: &ContactId) -> Result<Vec<PhoneNumber>>;
    /// Marks the handshake behind a linked number as waiting for the number
    /// to show it holds the contact's key (we answered its hello), or as
    /// complete. Linking a number anew completes it.
    fn set_handshake_pending(&mut self, phone: &PhoneNumber, pending: bool) -> Result<()>;
    /// Whether a number of `contact` waits for its handshake to complete.
    fn handshake_pending(&self, contact: &ContactId) -> Result<bool>;

    /// Stores a plain SMS/MMS with its attachments. Returns its id, or
    /// `None` if a message with the same `external_id` is stored already.
    fn insert_plain_message(&mut self, message: &NewPlainMessage) -> Result<Option<i64>>;
    /// The newest `limit` plain messages of a thread before `before_ms`
    /// (all if `None`), newest first.
    fn plain_messages(
        &self,
        phone: &PhoneNumber,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<PlainMessage>>;
    /// The attachments of a plain message, in order.
    fn plain_attachments(&self, id: i64) -> Result<Vec<Attachment>>;
    /// Changes a plain message's state if [`PlainState::may_become`] allows;
    /// returns whether it changed.
    fn set_plain_state(&mut self, id: i64, state: PlainState) -> Result<bool>;
    /// Every plain thread, newest first.
    fn plain_threads(&self) -> Result<Vec<PlainThread>>;

    /// Keeps a part of an unfinished encrypted SMS message (`id` is ignored);
    /// returns its row id.
    fn hold_sms_part(&mut self, part: &HeldSmsPart) -> Result<i64>;
    /// Every part held, oldest first.
    fn held_sms_parts(&self) -> Result<Vec<HeldSmsPart>>;
    /// Forgets the parts of one message (finished or given up); returns how
    /// many there were.
    fn release_sms_parts(&mut self, phone: &PhoneNumber, wire_id: u32, count: u8) -> Result<usize>;

    /// Keeps a payload sent by SMS (`id` is ignored); returns its row id.
    fn keep_sent_sms(&mut self, sent: &SentSms) -> Result<i64>;
    /// Every payload kept, oldest first.
    fn sent_sms(&self) -> Result<Vec<SentSms>>;
    /// Sets how many more times a kept payload's text may be encrypted
    /// afresh.
    fn set_sent_sms_refreshes(&mut self, id: i64, refreshes_left: u8) -> Result<()>;
    /// Forgets a kept payload.
    fn forget_sent_sms(&mut self, id: i64) -> Result<()>;

    // --- Groups (issue 4, item 5) ---

    /// Adds or replaces a group with its members.
    fn save_group(&mut self, group: &Group) -> Result<()>;
    /// One group.
    fn group(&self, id: &GroupId) -> Result<Option<Group>>;
    /// Every group, by name.
    fn groups(&self) -> Result<Vec<Group>>;
    /// Stores a group text. Returns `false` (and changes nothing) if a text
    /// with the same group, sender and id is stored already. Its
    /// `stored_at_ms` is kept unique within the group: a text stored in the
    /// millisecond of the newest one (or after the clock went back) takes
    /// the millisecond after it, so the `stored_at_ms` of a page's last
    /// text is an exact cursor for [`SottoStore::group_messages`].
    fn insert_group_message(&mut self, message: &GroupMessage) -> Result<bool>;
    /// The newest `limit` texts of a group stored before `before_ms` (all
    /// if `None`), newest first. The next page is the one before the last
    /// text's `stored_at_ms` (unique within the group; see
    /// [`SottoStore::insert_group_message`]).
    fn group_messages(
        &self,
        group: &GroupId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<GroupMessage>>;
    /// One text this account sent to a group, by id.
    fn outgoing_group_message(
        &self,
        group: &GroupId,
        id: &MessageId,
    ) -> Result<Option<GroupMessage>>;
    /// Keeps a group text from someone who is not (yet) a member of the
    /// group as we know it, until a group state says whether they are.
    fn hold_group_text(&mut self, message: &GroupMessage) -> Result<()>;
    /// How many held group texts came from `sender`.
    fn held_group_text_count(&self, sender: &ContactId) -> Result<usize>;
    /// Removes and returns the held texts of a group, oldest first.
    fn take_held_group_texts(&mut self, group: &GroupId) -> Result<Vec<GroupMessage>>;
    /// The distribution ids of the sender keys kept for `sender`, sorted.
    fn sender_key_distributions(&self, sender: &ContactId) -> Result<Vec<[u8; 16]>>;
    /// Forgets the sender key kept for `sender` under `distribution`.
    fn forget_sender_key(&mut self, sender: &ContactId, distribution: &[u8; 16]) -> Result<()>;
}

/// Runs `work` in one transaction that is always rolled back: a trial
/// whose outcome is all that is kept.
pub fn rolled_back<S, T>(store: &mut S, work: impl FnOnce(&mut S) -> Result<T>) -> Result<T>
where
    S: SottoStore + ?Sized,
{
    store.begin()?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut *store)));
    let rollback = store.rollback();
    match outcome {
        Ok(value) => {
            rollback?;
            value
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `work` in one transaction: commits if it returns `Ok`, rolls back
/// if it returns `Err`.
pub fn in_transaction<S, T>(store: &mut S, work: impl FnOnce(&mut S) -> Result<T>) -> Result<T>
where
    S: SottoStore + ?Sized,
{
    store.begin()?;
    // A panic inside `work` must not leave the transaction open (UniFFI
    // turns panics into exceptions, so the store lives on afterwards).
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut *store)));
    match outcome {
        Ok(Ok(value)) => {
            store.commit()?;
            Ok(value)
        }
        Ok(Err(e)) => {
            // The rollback's own failure cannot be more useful than `e`.
            let _ = store.rollback();
            Err(e)
        }
        Err(panic) => {
            let _ = store.rollback();
            std::panic::resume_unwind(panic)
        }
    }
}
