//! The plain values of group conversations that cross the FFI (UniFFI
//! records), and their conversions from the core's types. The calls that
//! use them are in [`crate::groups`].

use sotto_core::groups::{GroupChange, GroupSent};
use sotto_core::store::{ContactId, Group, GroupId, GroupMessage as CoreMessage};

use crate::account_core::message_id_text;
use crate::error::{Result, SottoError};

/// A group conversation as this device keeps it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupInfo {
    /// The group's id (32 hex digits): pass it back to the group calls.
    pub id: String,
    /// The group's name.
    pub name: String,
    /// The other members' contact ids (this account is not listed).
    pub members: Vec<String>,
    /// Grows by one with every change of the group.
    pub revision: u64,
    /// Whether this account is still a member (false once it left or was
    /// removed; the group and its texts stay).
    pub active: bool,
}

impl std::fmt::Debug for GroupInfo {
    // The name and the members are the user's data and stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupInfo")
            .field("members", &self.members.len())
            .field("revision", &self.revision)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl From<Group> for GroupInfo {
    fn from(group: Group) -> Self {
        Self {
            id: group_id_text(&group.id),
            name: group.name,
            members: contact_texts(&group.members),
            revision: group.revision,
            active: group.active,
        }
    }
}

/// One text of a group conversation.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupMessage {
    /// The text's id (32 hex digits), the same on every member's phone.
    pub id: String,
    /// The group.
    pub group_id: String,
    /// Who sent it; null when this account did.
    pub sender_id: Option<String>,
    /// The text.
    pub body: String,
    /// When the sender wrote it (ms since the epoch, the sender's clock).
    pub sent_at_ms: u64,
    /// When this device stored it (ms since the epoch); pages are in this
    /// order, and it is the cursor for the next page.
    pub stored_at_ms: u64,
}

impl std::fmt::Debug for GroupMessage {
    // The text is the user's data and stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMessage")
            .field("outgoing", &self.sender_id.is_none())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl From<CoreMessage> for GroupMessage {
    fn from(message: CoreMessage) -> Self {
        Self {
            id: message_id_text(&message.id),
            group_id: group_id_text(&message.group),
            sender_id: message.sender.map(|sender| sender.as_str().to_owned()),
            body: message.body,
            sent_at_ms: message.sent_at_ms,
            stored_at_ms: message.stored_at_ms,
        }
    }
}

/// What sending a group text queued.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupSentText {
    /// The text's id (32 hex digits).
    pub message_id: String,
    /// Members the text goes to through the relay (encrypted once with
    /// this account's sender key).
    pub relay_members: Vec<String>,
    /// Members not on this account's relay, who get it in their 1:1
    /// session instead (the SMS path).
    pub sms_members: Vec<String>,
    /// Members nothing could be queued for: no session with them, and none
    /// could be started here.
    pub unreached: Vec<String>,
}

impl std::fmt::Debug for GroupSentText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSentText")
            .field("relay_members", &self.relay_members.len())
            .field("sms_members", &self.sms_members.len())
            .field("unreached", &self.unreached.len())
            .finish_non_exhaustive()
    }
}

impl From<GroupSent> for GroupSentText {
    fn from(sent: GroupSent) -> Self {
        let ids = |members: &mut dyn Iterator<Item = &ContactId>| {
            members.map(|m| m.as_str().to_owned()).collect()
        };
        Self {
            message_id: message_id_text(&sent.message_id),
            relay_members: ids(&mut sent.relay.iter().map(|(member, _)| member)),
            sms_members: ids(&mut sent.sms.iter().map(|(member, _)| member)),
            unreached: contact_texts(&sent.unreached),
        }
    }
}

/// What a change of a group (received from a member) did here. Texts the
/// change released (sent before it made their senders members) are
/// published as `GroupMessageReceived` right after it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupUpdate {
    /// The group.
    pub group_id: String,
    /// Members new to this device.
    pub added: Vec<String>,
    /// Members no longer in the group.
    pub removed: Vec<String>,
    /// This account became a member (a new group, or added back).
    pub joined: bool,
    /// This account was removed (or the group went on without it).
    pub left: bool,
}

impl std::fmt::Debug for GroupUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupUpdate")
            .field("added", &self.added.len())
            .field("removed", &self.removed.len())
            .field("joined", &self.joined)
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl From<GroupChange> for GroupUpdate {
    fn from(change: GroupChange) -> Self {
        Self {
            group_id: group_id_text(&change.group),
            added: contact_texts(&change.added),
            removed: contact_texts(&change.removed),
            joined: change.joined,
            left: change.left,
        }
    }
}

/// A group id as the bindings show it: 32 hex digits.
pub(crate) fn group_id_text(id: &GroupId) -> String {
    hex::encode(id.0)
}

/// A group id from its text.
pub(crate) fn parse_group_id(text: &str) -> Result<GroupId> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .map(GroupId)
        .ok_or(SottoError::InvalidInput("a group id is malformed"))
}

/// Contact ids from their texts.
pub(crate) fn contact_ids(texts: Vec<String>) -> Vec<ContactId> {
    texts.into_iter().map(ContactId::from_string).collect()
}

fn contact_texts(ids: &[ContactId]) -> Vec<String> {
    ids.iter().map(|id| id.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_round_trip_as_hex_and_bad_ones_are_invalid_input() -> Result<()> {
        let id = GroupId([0x5a; 16]);
        let text = group_id_text(&id);
        assert_eq!(text, "5a".repeat(16));
        assert_eq!(parse_group_id(&text)?, id);
        assert!(matches!(
            parse_group_id("5a5a"),
            Err(SottoError::InvalidInput(_))
        ));
        assert!(matches!(
            parse_group_id("not hex at all"),
            Err(SottoError::InvalidInput(_))
        ));
        Ok(())
    }

    #[test]
    fn debug_shows_no_user_data() {
        let message = GroupMessage {
            id: "00".repeat(16),
            group_id: "11".repeat(16),
            sender_id: Some("contact-secret".into()),
            body: "meet at the usual place".into(),
            sent_at_ms: 1,
            stored_at_ms: 2,
        };
        let shown = format!("{message:?}");
        assert!(!shown.contains("usual place"));
        assert!(!shown.contains("contact-secret"));
        let group = GroupInfo {
            id: "11".repeat(16),
            name: "Family".into(),
            members: vec!["contact-secret".into()],
            revision: 3,
            active: true,
        };
        let shown = format!("{group:?}");
        assert!(!shown.contains("Family"));
        assert!(!shown.contains("contact-secret"));
    }
}
