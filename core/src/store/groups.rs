//! Records of group conversations: the group (its name, members and the
//! sender-key distribution texts are encrypted under) and its messages.
//! The protocol that keeps them is `crate::groups`.

use rand::{CryptoRng, RngCore};

use super::ContactId;
use crate::error::{Error, Result};
use crate::message::MessageId;

/// A group's id: 16 random bytes chosen by its creator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub [u8; 16]);

impl GroupId {
    /// A fresh random id.
    pub fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| Error::MalformedContent("group id is not 16 bytes"))
    }
}

impl std::fmt::Debug for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupId({})", hex::encode(&self.0[..4]))
    }
}

/// A group conversation as this device keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// The group's name.
    pub name: String,
    /// The revision of the state last applied; updates must be newer.
    pub revision: u64,
    /// The sender-key distribution id texts of this revision use.
    pub distribution_id: [u8; 16],
    /// The other members (this account is not listed), sorted.
    pub members: Vec<ContactId>,
    /// The members that have our sender key for `distribution_id`, sorted;
    /// the others get it before our next text.
    pub key_sent_to: Vec<ContactId>,
    /// Whether this account is still a member (false once removed).
    pub active: bool,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("id", &self.id)
            .field("revision", &self.revision)
            .field("members", &self.members.len())
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// A text of a group conversation as the store keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupMessage {
    /// The sender-chosen unique id.
    pub id: MessageId,
    /// The group.
    pub group: GroupId,
    /// Who sent it; `None` for this account.
    pub sender: Option<ContactId>,
    /// The text.
    pub body: String,
    /// When the sender made it (ms since the epoch).
    pub sent_at_ms: u64,
    /// When this device stored it (ms since the epoch); messages list in this order.
    pub stored_at_ms: u64,
}

impl std::fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMessage")
            .field("id", &self.id)
            .field("group", &self.group)
            .field("from_us", &self.sender.is_none())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}
