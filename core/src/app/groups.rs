//! Group conversations on the facade: [`Account`] methods that start the
//! sessions a group needs (fetching prekey bundles from the relay) and then
//! call the protocol in [`crate::groups`]. Incoming group texts and changes
//! arrive as [`super::Event::GroupMessage`] and [`super::Event::GroupChanged`].
//!
//! Members not on this account's relay cannot be reached through it: what
//! an operation queues for them (the group's state, and texts 1:1 in their
//! session) is handed to the SMS bridge when they have a phone number and
//! the SMS settings allow encrypted SMS (`carry_outbox_by_sms`), as
//! `docs/groups.md` ("Over SMS") describes.

use std::time::SystemTime;

use super::sms::carry_outbox_by_sms;
use super::{Account, Reach};
use crate::error::{Error, Result};
use crate::groups::{self, GroupSent};
use crate::store::{ContactId, Group, GroupId, GroupMessage, SottoStore};

impl Account {
    /// Creates a group named `name` with `members` (contacts on this
    /// account's relay, or with a session already) and sends them its
    /// state and this account's sender key.
    pub async fn create_group(&self, name: &str, members: &[ContactId]) -> Result<Group> {
        for member in members {
            self.ensure_session(member).await?;
        }
        let relay = self.settings().relay;
        let group = groups::create_group(
            &mut *self.shared.store(),
            name,
            members,
            Some(&relay),
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.after_group_change();
        Ok(group)
    }

    /// Every group this account knows (also those it was removed from), by
    /// name.
    pub fn groups(&self) -> Result<Vec<Group>> {
        self.shared.store().groups()
    }

    /// One group.
    pub fn group(&self, id: &GroupId) -> Result<Group> {
        self.shared.store().group(id)?.ok_or(Error::UnknownGroup)
    }

    /// Adds contacts to a group: every member gets the new state, the new
    /// members this account's sender key.
    pub async fn add_group_members(&self, group: &GroupId, members: &[ContactId]) -> Result<Group> {
        for member in members {
            self.ensure_session(member).await?;
        }
        self.reach_members(group).await?;
        let relay = self.settings().relay;
        let group = groups::add_members(
            &mut *self.shared.store(),
            group,
            members,
            Some(&relay),
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.after_group_change();
        Ok(group)
    }

    /// Removes members from a group and rotates the group's sender keys, so
    /// the removed members cannot read what follows.
    pub async fn remove_group_members(
        &self,
        group: &GroupId,
        members: &[ContactId],
    ) -> Result<Group> {
        self.reach_members(group).await?;
        let relay = self.settings().relay;
        let group = groups::remove_members(
            &mut *self.shared.store(),
            group,
            members,
            Some(&relay),
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.after_group_change();
        Ok(group)
    }

    /// Leaves a group: the others get a state without this account and
    /// rotate their sender keys. The group and its texts stay here.
    pub async fn leave_group(&self, group: &GroupId) -> Result<Group> {
        self.reach_members(group).await?;
        let group = groups::leave_group(
            &mut *self.shared.store(),
            group,
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.after_group_change();
        Ok(group)
    }

    /// Sends a text to a group and stores it. Members on this account's
    /// relay get it encrypted once with this account's sender key (sessions
    /// are started first where missing); the others get it in their 1:1
    /// session ([`GroupSent::sms`]), queued as encrypted SMS when they have
    /// a phone number (the app takes them with `take_outgoing_sms`); members
    /// no session could be started with are listed in
    /// [`GroupSent::unreached`].
    pub async fn send_group_text(&self, group: &GroupId, text: &str) -> Result<GroupSent> {
        let by_sms = self.reach_members(group).await?;
        let sent = groups::send_group_text(
            &mut *self.shared.store(),
            group,
            text,
            &by_sms,
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        self.after_group_change();
        Ok(sent)
    }

    /// Hands what a group operation queued to its transports: by encrypted
    /// SMS for members not on this account's relay (who have a phone
    /// number), through the relay agent for the others.
    fn after_group_change(&self) {
        // The operation committed: the hand-off's own failure (the store)
        // leaves the entries for the next `sms_tick`, and must not make the
        // operation look undone.
        if let Err(error) = carry_outbox_by_sms(&self.shared) {
            tracing::warn!(%error, "group SMS left for the next SMS tick");
        }
        self.shared.outbox_changed.notify_one();
    }

    /// Starts a session with every member on this account's relay that has
    /// none (joined through another member, say), as far as the relay
    /// allows; a member it fails for is left out of what follows and
    /// reported by the protocol (`GroupSent::unreached`). Returns the
    /// members not on this account's relay, for the SMS path.
    async fn reach_members(&self, group: &GroupId) -> Result<Vec<ContactId>> {
        let members = self.group(group)?.members;
        let mut elsewhere = Vec::new();
        for member in &members {
            if self.contact(member)?.reach == Reach::OurRelay {
                if let Err(error) = self.ensure_session(member).await {
                    tracing::warn!(%error, "no session with a group member");
                }
            } else {
                elsewhere.push(member.clone());
            }
        }
        Ok(elsewhere)
    }

    /// One page of a group's texts: the newest `limit` stored before
    /// `before_ms` (from the start if `None`), newest first. The next page
    /// is the one before the last text's `stored_at_ms`, which the store
    /// keeps unique within the group, so no text is skipped.
    pub fn group_messages(
        &self,
        group: &GroupId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<GroupMessage>> {
        let store = self.shared.store();
        if store.group(group)?.is_none() {
            return Err(Error::UnknownGroup);
        }
        store.group_messages(group, limit, before_ms)
    }
}
