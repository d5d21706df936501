//! The plain values that cross the FFI (UniFFI records): options, safety
//! numbers, contacts, messages and maintenance reports. No behaviour lives
//! here beyond converting from the core's types.

use sotto_core::prekeys::PreKeyPolicy;
use sotto_core::store::{Direction, StoredMessage, TextTransport};

use crate::account_core::message_id_text;

/// How an account runs. Kotlin: `AccountOptions()` gives the defaults.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AccountOptions {
    /// How often the account's background task rotates prekeys, replenishes
    /// one-time prekeys and deletes expired disappearing messages, in
    /// milliseconds; 0 turns the task off (then call
    /// `Account.runMaintenance`, for example from WorkManager).
    #[uniffi(default = 60000)]
    pub maintenance_interval_ms: u64,
    /// How many one-time prekeys of each kind are made at once.
    #[uniffi(default = 100)]
    pub prekey_batch: u32,
    /// More one-time prekeys are made when fewer than this many are left.
    #[uniffi(default = 20)]
    pub prekey_low_water: u32,
}

impl Default for AccountOptions {
    // Must match the `#[uniffi(default)]` literals above (Kotlin's defaults);
    // the test below ties both to the core's own policy.
    fn default() -> Self {
        Self {
            maintenance_interval_ms: 60_000,
            prekey_batch: 100,
            prekey_low_water: 20,
        }
    }
}

impl AccountOptions {
    /// The core's prekey policy for these options (rotation periods stay
    /// the core's defaults).
    pub(crate) fn prekey_policy(&self) -> PreKeyPolicy {
        PreKeyPolicy {
            batch: self.prekey_batch,
            low_water: self.prekey_low_water,
            ..PreKeyPolicy::default()
        }
    }
}

/// A safety number: what two people compare to know that no one sits
/// between them. Both phones show the same one.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct SafetyNumber {
    /// Sixty digits.
    pub digits: String,
    /// The digits in twelve groups of five, as shown to users.
    pub grouped: String,
    /// The payload of the QR code to show; the other phone scans it and
    /// checks it with `safetyCodeMatches` or `verifyContactCode`.
    pub qr_payload: Vec<u8>,
}

impl std::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SafetyNumber(..)")
    }
}

impl From<sotto_core::safety::SafetyNumber> for SafetyNumber {
    fn from(number: sotto_core::safety::SafetyNumber) -> Self {
        Self {
            grouped: number.grouped(),
            digits: number.digits,
            qr_payload: number.scannable,
        }
    }
}

/// A new identity key offered in a contact's name, with the safety number
/// to compare on the contact's phone before `trustNewIdentity` accepts
/// exactly this key.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct OfferedIdentity {
    /// The key, to pass to `trustNewIdentity` or `rejectNewIdentity`.
    pub identity_key: Vec<u8>,
    /// The safety number of our identity and this key.
    pub safety_number: SafetyNumber,
}

impl std::fmt::Debug for OfferedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfferedIdentity(..)")
    }
}

impl From<sotto_core::app::OfferedIdentity> for OfferedIdentity {
    fn from(offered: sotto_core::app::OfferedIdentity) -> Self {
        Self {
            identity_key: offered.key.serialize().to_vec(),
            safety_number: offered.safety_number.into(),
        }
    }
}

/// A contact as the contact list shows it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactSummary {
    /// The contact's local id: random, opaque, stable; pass it back to the
    /// account's per-contact calls.
    pub id: String,
    /// The name the user gave the contact.
    pub name: String,
    /// Whether the contact can be reached through a relay (otherwise only
    /// by SMS).
    pub on_relay: bool,
    /// Whether the user compared safety numbers and marked the contact's
    /// identity verified (never while a new key is offered).
    pub verified: bool,
    /// A new identity key is offered in the contact's name: show its safety
    /// number (`offeredIdentities`), never the trusted key's.
    pub identity_changed: bool,
    /// More than one new key is offered in the contact's name: an alert.
    pub identity_conflict: bool,
    /// The contact is reached by a phone number nothing has proven to be
    /// theirs: show "number not proven" until the safety number is compared.
    pub unproven_number: bool,
    /// The disappearing-messages timer in seconds; 0 means messages stay.
    pub disappearing_timer_secs: u32,
    /// Whether the conversation keeps no history at all.
    pub keep_no_history: bool,
}

impl std::fmt::Debug for ContactSummary {
    // The name is the user's data and stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactSummary")
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// How far a message got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum DeliveryState {
    /// Encrypted and waiting to be handed to the relay.
    Pending,
    /// Handed to the relay.
    Sent,
    /// The contact's device stored it.
    Delivered,
    /// The contact displayed it.
    Read,
    /// Received from the contact (incoming messages only).
    Received,
    /// Sent by encrypted SMS, and the SMS failed: it waits for
    /// `retryFailedSms` (outgoing messages only).
    Failed,
}

impl From<sotto_core::store::DeliveryState> for DeliveryState {
    fn from(state: sotto_core::store::DeliveryState) -> Self {
        use sotto_core::store::DeliveryState as S;
        match state {
            S::Pending => Self::Pending,
            S::Sent => Self::Sent,
            S::Delivered => Self::Delivered,
            S::Read => Self::Read,
            S::Received => Self::Received,
        }
    }
}

/// A conversation with a contact as the conversation list shows it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConversationSummary {
    /// Who it is with.
    pub contact: ContactSummary,
    /// The newest stored text, if any.
    pub last_message: Option<Message>,
    /// Received texts not read yet.
    pub unread_count: u32,
    /// Texts held, undecrypted, until `trustNewIdentity` (more than 0 means
    /// the contact's identity key changed).
    pub held_message_count: u32,
}

impl std::fmt::Debug for ConversationSummary {
    // Names and texts are the user's data and stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationSummary")
            .field("unread_count", &self.unread_count)
            .field("held_message_count", &self.held_message_count)
            .finish_non_exhaustive()
    }
}

/// One text of a conversation.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Message {
    /// The message's id (32 hex digits), unique; receipts and
    /// `markRead` refer to it.
    pub id: String,
    /// The contact the conversation is with.
    pub contact_id: String,
    /// Whether this account sent it (otherwise the contact did).
    pub outgoing: bool,
    /// The text.
    pub body: String,
    /// When the sender wrote it (ms since the epoch, the sender's clock).
    pub sent_at_ms: u64,
    /// When this device stored it (ms since the epoch); pages are in this
    /// order, and it is the cursor for the next page.
    pub stored_at_ms: u64,
    /// How far it got.
    pub state: DeliveryState,
    /// When it disappears (ms since the epoch), if a timer is set.
    pub expires_at_ms: Option<u64>,
    /// How it travelled: through the relay or as encrypted SMS.
    pub transport: MessageTransport,
}

/// How an encrypted text travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum MessageTransport {
    /// Sealed, through the relay (also while it waits in the outbox).
    Relay,
    /// Signal ciphertext in SMS.
    EncryptedSms,
}

impl Message {
    /// This text with how it travelled, as the store recorded it: an
    /// outgoing text whose SMS failed shows as `Failed` while pending.
    pub(crate) fn with_transport(mut self, transport: TextTransport) -> Self {
        if transport.by_sms {
            self.transport = MessageTransport::EncryptedSms;
        }
        if transport.sms_failed && self.outgoing && self.state == DeliveryState::Pending {
            self.state = DeliveryState::Failed;
        }
        self
    }
}

impl std::fmt::Debug for Message {
    // The text is the user's data and stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("outgoing", &self.outgoing)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl From<StoredMessage> for Message {
    fn from(message: StoredMessage) -> Self {
        Self {
            id: message_id_text(&message.id),
            contact_id: message.contact.as_str().to_owned(),
            outgoing: message.direction == Direction::Outgoing,
            body: message.body,
            sent_at_ms: message.sent_at_ms,
            stored_at_ms: message.stored_at_ms,
            state: message.state.into(),
            expires_at_ms: message.expires_at_ms,
            // What came through the relay connection; texts read from the
            // store or the SMS bridge are corrected with `with_transport`.
            transport: MessageTransport::Relay,
        }
    }
}

/// What one maintenance run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct MaintenanceReport {
    /// One-time EC prekeys made.
    pub one_time_prekeys_made: u32,
    /// One-time Kyber (ML-KEM) prekeys made.
    pub kyber_prekeys_made: u32,
    /// Whether the signed prekey was rotated.
    pub signed_prekey_rotated: bool,
    /// Whether the Kyber last-resort prekey was rotated.
    pub last_resort_prekey_rotated: bool,
    /// Disappearing messages deleted because their timer ran out.
    pub messages_expired: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options_are_the_core_policy() {
        let options = AccountOptions::default();
        let core = PreKeyPolicy::default();
        assert_eq!(options.prekey_batch, core.batch);
        assert_eq!(options.prekey_low_water, core.low_water);
        let policy = options.prekey_policy();
        assert_eq!(policy.signed_rotation, core.signed_rotation);
    }

    #[test]
    fn debug_shows_no_user_data() {
        let contact = ContactSummary {
            id: "0123".into(),
            name: "Alice Example".into(),
            on_relay: true,
            verified: false,
            identity_changed: false,
            identity_conflict: false,
            unproven_number: false,
            disappearing_timer_secs: 0,
            keep_no_history: false,
        };
        let shown = format!("{contact:?}");
        assert!(!shown.contains("Alice"));
        assert!(!shown.contains("0123"));
    }
}
