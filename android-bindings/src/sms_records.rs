//! The plain values of the SMS bridge that cross the FFI (UniFFI records
//! and enums), and their conversions from and to the core's types. The
//! calls that use them are in [`crate::sms`].

use sotto_core::app::SentText as CoreSent;
use sotto_core::sms::Route;
use sotto_core::store::PlainState as CoreState;

use crate::account_core::message_id_text;
use crate::group_records::GroupMessage;
use crate::records::Message;

/// What an incoming SMS turned out to be.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum IncomingSms {
    /// An ordinary SMS, stored in the plain thread of `phone` (E.164 or a
    /// short code). The app may also write it to the platform's provider.
    Plain {
        /// The thread: the sender's normalised number.
        phone: String,
        /// Its id in the plain thread.
        plain_id: i64,
    },
    /// A Sotto text, decrypted and stored in the contact's conversation
    /// (`MessageReceived` is published too). Never write the SMS anywhere:
    /// it was ciphertext.
    Encrypted {
        /// The text as stored.
        message: Message,
    },
    /// A Sotto discovery handshake from or with the contact.
    Handshake {
        /// The contact (created for an unknown number).
        contact_id: String,
        /// Both sides have sessions: encrypted texts can flow.
        session_ready: bool,
    },
    /// A number whose key we do not know wants to talk by Sotto (a hello,
    /// or a first encrypted message). Nothing was answered or trusted: ask
    /// the user, then `acceptSmsStranger` or `declineSmsStranger`. The SMS
    /// sender may be forged, so show it as a request, not as the number.
    StrangerWaiting {
        /// The number it claims to come from.
        phone: String,
    },
    /// The contact's identity key changed: the message is held until
    /// `trustNewIdentity` (`IdentityChanged` is published too).
    IdentityChanged {
        /// Who.
        contact_id: String,
    },
    /// A Sotto group text (members reachable only by SMS get group texts
    /// 1:1, with the group inside), stored in its group and also published
    /// as `GroupMessageReceived`; or a change of the group (also published
    /// as `GroupChanged`). Never write the SMS anywhere: it was ciphertext.
    Group {
        /// The group.
        group_id: String,
        /// The text, when it was one; null for a change.
        message: Option<GroupMessage>,
    },
    /// A part of a Sotto message still waiting for its other parts, or a
    /// request to send parts again (answered through the outgoing queue).
    PartOfEncrypted,
    /// Sotto content with nothing to show (a receipt, a repeat, or a timer
    /// change, which is published as `DisappearingTimerChanged`).
    Control,
    /// A Sotto SMS damaged on the way or undecryptable; never shown.
    Unusable,
}

impl std::fmt::Debug for IncomingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IncomingSms::Plain { .. } => "IncomingSms::Plain",
            IncomingSms::Encrypted { .. } => "IncomingSms::Encrypted",
            IncomingSms::Handshake { .. } => "IncomingSms::Handshake",
            IncomingSms::StrangerWaiting { .. } => "IncomingSms::StrangerWaiting",
            IncomingSms::IdentityChanged { .. } => "IncomingSms::IdentityChanged",
            IncomingSms::Group { .. } => "IncomingSms::Group",
            IncomingSms::PartOfEncrypted => "IncomingSms::PartOfEncrypted",
            IncomingSms::Control => "IncomingSms::Control",
            IncomingSms::Unusable => "IncomingSms::Unusable",
        })
    }
}

/// What an outgoing SMS carries.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SmsContent {
    /// A text SMS. A plain text may need several SMS (send it as one
    /// multipart SMS); a Sotto part always fits one 160-character SMS.
    Text {
        /// The text.
        text: String,
    },
    /// A data SMS to an application port.
    Data {
        /// The destination port.
        port: u16,
        /// The user data.
        bytes: Vec<u8>,
    },
}

/// One SMS for the app to send; report its fate with `reportSmsStatus`.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutgoingSms {
    /// The id to report with.
    pub id: i64,
    /// The recipient's number (E.164 or a short code).
    pub destination: String,
    /// What to send.
    pub content: SmsContent,
    /// Sotto ciphertext: never shown, never written to the platform's
    /// provider as a message.
    pub encrypted: bool,
}

impl std::fmt::Debug for OutgoingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingSms")
            .field("id", &self.id)
            .field("encrypted", &self.encrypted)
            .finish_non_exhaustive()
    }
}

/// What the radio or the carrier reported for an SMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SmsStatus {
    /// The radio sent it.
    Sent,
    /// The carrier's status report says it was delivered.
    Delivered,
    /// It could not be sent.
    Failed,
}

/// The way a text travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum TextRoute {
    /// Sealed through the relay now.
    Relay,
    /// Through the relay once data is back.
    RelayWhenOnline,
    /// Signal ciphertext in SMS.
    EncryptedSms,
    /// Plain, unencrypted SMS.
    PlainSms,
}

/// How a text was sent.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SentText {
    /// End-to-end encrypted, stored in the contact's conversation.
    Encrypted {
        /// The way it travels.
        route: TextRoute,
        /// Its message id.
        message_id: String,
    },
    /// A plain SMS, stored in the number's plain thread.
    Plain {
        /// Its id in the plain thread.
        plain_id: i64,
    },
}

/// Where the conversation with a phone number lives.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum NumberConversation {
    /// A Sotto contact has the number: their conversation.
    Contact {
        /// The contact.
        contact_id: String,
    },
    /// Nobody on Sotto has it: the plain thread of the number.
    Plain {
        /// The normalised number: the thread.
        phone: String,
    },
}

impl std::fmt::Debug for NumberConversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NumberConversation::Contact { .. } => "NumberConversation::Contact",
            NumberConversation::Plain { .. } => "NumberConversation::Plain",
        })
    }
}

/// How far a plain SMS got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum PlainState {
    /// Waiting for the radio.
    Pending,
    /// Sent.
    Sent,
    /// Delivered (a carrier status report).
    Delivered,
    /// Sending failed.
    Failed,
    /// Received.
    Received,
}

/// One plain SMS or MMS of a thread (never encrypted on the air).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlainMessage {
    /// Its id in the thread.
    pub id: i64,
    /// The thread's number.
    pub phone: String,
    /// Whether this phone sent it.
    pub outgoing: bool,
    /// The text.
    pub body: String,
    /// SMS segments it took.
    pub parts: u32,
    /// When (ms since the epoch); the cursor for the next page.
    pub at_ms: u64,
    /// How far it got.
    pub state: PlainState,
    /// MMS attachments it has.
    pub attachment_count: u32,
}

impl std::fmt::Debug for PlainMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainMessage")
            .field("id", &self.id)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// One plain thread in the list of threads.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlainThread {
    /// The number (E.164, a short code or a sender name).
    pub phone: String,
    /// Its newest message's time (ms since the epoch).
    pub last_at_ms: u64,
    /// How many messages it holds.
    pub messages: u32,
    /// Received SMS/MMS not read yet (`markPlainThreadRead`); history
    /// imported from the phone counts as read.
    pub unread_count: u32,
}

impl std::fmt::Debug for PlainThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainThread")
            .field("messages", &self.messages)
            .finish_non_exhaustive()
    }
}

/// The user's SMS settings.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SmsSettings {
    /// "Never send encrypted texts by SMS".
    pub never_encrypted_sms: bool,
    /// "SMS only": never use the relay for texts.
    pub sms_only: bool,
    /// ISO 3166 region of numbers without a country code (the SIM's).
    pub region: String,
    /// Send Sotto payloads as data SMS (to port 6284) instead of text SMS.
    pub data_sms: bool,
}

/// One part of an MMS, kept as a blob in the encrypted store.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct MmsAttachment {
    /// Its MIME type as the MMS declared it (`image/jpeg`, …).
    pub mime: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for MmsAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MmsAttachment({}, {} bytes)", self.mime, self.data.len())
    }
}

/// One message of the phone's existing SMS/MMS history, as the platform's
/// providers report it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryItem {
    /// The provider's id (`sms:<id>` or `mms:<id>`): importing twice
    /// stores it once.
    pub external_id: String,
    /// The other party's address as the provider has it.
    pub address: String,
    /// Whether this phone sent it.
    pub outgoing: bool,
    /// The text.
    pub body: String,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Its state (`RECEIVED` for the inbox).
    pub state: PlainState,
    /// MMS parts (empty for an SMS).
    pub attachments: Vec<MmsAttachment>,
}

impl std::fmt::Debug for HistoryItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryItem")
            .field("outgoing", &self.outgoing)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// What a history import did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// Messages stored.
    pub imported: u32,
    /// Messages stored by an earlier import (same provider id).
    pub already_there: u32,
    /// Messages skipped: their address is no number, short code or sender
    /// name.
    pub unreadable_address: u32,
}

/// What `smsTick` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SmsTickReport {
    /// Incoming Sotto messages given up for missing parts.
    pub incomplete: u32,
    /// Handshakes we started that were never answered.
    pub handshakes_unanswered: u32,
    /// SMS Sotto would have sent on its own (resends, handshake answers,
    /// retries) but held back since the last tick: the hourly cap
    /// (`setAutomaticSmsPerHour`) was reached. The other side asks again or
    /// the retry comes later; worth a quiet notice.
    pub automatic_sms_held_back: u32,
}

pub(crate) fn sent_text(sent: CoreSent) -> SentText {
    match sent {
        CoreSent::Encrypted { route, message_id } => SentText::Encrypted {
            route: match route {
                Route::Relay => TextRoute::Relay,
                Route::RelayWhenOnline => TextRoute::RelayWhenOnline,
                Route::EncryptedSms => TextRoute::EncryptedSms,
                Route::PlainSms | Route::PlainMms => TextRoute::PlainSms,
            },
            message_id: message_id_text(&message_id),
        },
        CoreSent::Plain { id } => SentText::Plain { plain_id: id },
    }
}

pub(crate) fn core_attachment(attachment: MmsAttachment) -> sotto_core::store::Attachment {
    sotto_core::store::Attachment {
        mime: attachment.mime,
        data: attachment.data,
    }
}

pub(crate) fn core_plain_state(state: PlainState) -> CoreState {
    match state {
        PlainState::Pending => CoreState::Pending,
        PlainState::Sent => CoreState::Sent,
        PlainState::Delivered => CoreState::Delivered,
        PlainState::Failed => CoreState::Failed,
        PlainState::Received => CoreState::Received,
    }
}

pub(crate) fn plain_state(state: CoreState) -> PlainState {
    match state {
        CoreState::Pending => PlainState::Pending,
        CoreState::Sent => PlainState::Sent,
        CoreState::Delivered => PlainState::Delivered,
        CoreState::Failed => PlainState::Failed,
        CoreState::Received => PlainState::Received,
    }
}
