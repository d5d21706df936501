//! Encrypted group conversations, as a fourth exported block of `Account`:
//! create, list, add and remove members, leave, send a text, and the paged
//! texts. The work is the core's (`sotto_core::app::Account`'s group
//! methods; the protocol, libsignal sender keys, in `sotto_core::groups`,
//! described in `docs/groups.md`); this file only converts (the records are
//! in [`crate::group_records`]). Texts and changes from the other members
//! arrive as `AccountEvent.GroupMessageReceived` and `GroupChanged`. What
//! the core hands to the SMS bridge for members not on this account's
//! relay is announced as `OutgoingSmsWaiting`, like any SMS.

use crate::account::Account;
use crate::error::Result;
use crate::events::AccountEvent;
use crate::group_records::{
    contact_ids, parse_group_id, GroupInfo, GroupMessage, GroupSentText, GroupUpdate,
};
use crate::sms::announce_waiting_sms;

#[uniffi::export]
impl Account {
    /// Creates a group named `name` with the contacts `memberIds` and sends
    /// them its state and this account's sender key (through the relay;
    /// sessions are started first where missing, which may fetch prekeys
    /// and so wait for the network). Returns the group.
    ///
    /// Throws `InvalidInput` for an empty or over-long name,
    /// `TooManyMembers` over 256 members, `UnknownContact` for a stale id,
    /// `NoSession`/`NotDeliverable`/`Network` when a member cannot be
    /// reached, `CalledFromCallback` from a listener.
    pub fn create_group(&self, name: String, member_ids: Vec<String>) -> Result<GroupInfo> {
        let app = self.core.app()?;
        let members = contact_ids(member_ids);
        let group = self
            .runtime
            .block_on(async { app.create_group(&name, &members).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(group.into())
    }

    /// Every group this account knows, by name, including those it left or
    /// was removed from (`active` false).
    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        let groups = self.core.app()?.groups()?;
        Ok(groups.into_iter().map(Into::into).collect())
    }

    /// One group. Throws `UnknownGroup` for a stale id, `InvalidInput` for
    /// a malformed one.
    pub fn group(&self, group_id: String) -> Result<GroupInfo> {
        let id = parse_group_id(&group_id)?;
        Ok(self.core.app()?.group(&id)?.into())
    }

    /// Adds contacts to a group: every member gets the new state, the new
    /// members this account's sender key. Returns the group.
    ///
    /// Throws `UnknownGroup`, `NotGroupMember` (this account left or was
    /// removed), `TooManyMembers`, `UnknownContact`, the network errors of
    /// `createGroup`, `CalledFromCallback` from a listener.
    pub fn add_group_members(
        &self,
        group_id: String,
        member_ids: Vec<String>,
    ) -> Result<GroupInfo> {
        let id = parse_group_id(&group_id)?;
        let app = self.core.app()?;
        let members = contact_ids(member_ids);
        let group = self
            .runtime
            .block_on(async { app.add_group_members(&id, &members).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(group.into())
    }

    /// Removes members from a group. The group's sender keys are rotated,
    /// so they cannot read what is sent afterwards, and they are sent
    /// nothing more. Returns the group.
    ///
    /// Throws as `addGroupMembers`.
    pub fn remove_group_members(
        &self,
        group_id: String,
        member_ids: Vec<String>,
    ) -> Result<GroupInfo> {
        let id = parse_group_id(&group_id)?;
        let app = self.core.app()?;
        let members = contact_ids(member_ids);
        let group = self
            .runtime
            .block_on(async { app.remove_group_members(&id, &members).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(group.into())
    }

    /// Leaves a group: the others get a state without this account and
    /// rotate their keys. The group and its texts stay here, inactive.
    ///
    /// Throws `UnknownGroup`, `NotGroupMember` when already out,
    /// `CalledFromCallback` from a listener.
    pub fn leave_group(&self, group_id: String) -> Result<GroupInfo> {
        let id = parse_group_id(&group_id)?;
        let app = self.core.app()?;
        let group = self
            .runtime
            .block_on(async { app.leave_group(&id).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(group.into())
    }

    /// Sends a text to a group and stores it. Members on this account's
    /// relay get it encrypted once with this account's sender key, sent
    /// at once when connected, else with the next connection. Returns the
    /// text's id and which members it is queued for.
    ///
    /// Throws `UnknownGroup`, `NotGroupMember`, `InvalidInput` for a text
    /// that is too long, `CalledFromCallback` from a listener.
    pub fn send_group_text(&self, group_id: String, text: String) -> Result<GroupSentText> {
        let id = parse_group_id(&group_id)?;
        let app = self.core.app()?;
        let sent = self
            .runtime
            .block_on(async { app.send_group_text(&id, &text).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(sent.into())
    }

    /// One page of a group's texts, newest first: the newest `limit` stored
    /// before `beforeMs` (null: the newest), whose last `storedAtMs` is the
    /// cursor for the next page.
    pub fn group_messages(
        &self,
        group_id: String,
        limit: u32,
        before_ms: Option<u64>,
    ) -> Result<Vec<GroupMessage>> {
        let id = parse_group_id(&group_id)?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let page = self.core.app()?.group_messages(&id, limit, before_ms)?;
        Ok(page.into_iter().map(Into::into).collect())
    }
}

/// The events of a change a member made to a group: `GroupChanged`, then
/// each text it released (texts that came before the change that made
/// their senders members) as `GroupMessageReceived`, oldest first, so that
/// every group text reaches the app as exactly one `GroupMessageReceived`.
pub(crate) fn group_change_events(change: sotto_core::groups::GroupChange) -> Vec<AccountEvent> {
    let released: Vec<AccountEvent> = change
        .released
        .iter()
        .cloned()
        .map(|message| AccountEvent::GroupMessageReceived {
            message: message.into(),
        })
        .collect();
    let mut events = vec![AccountEvent::GroupChanged {
        group_id: crate::group_records::group_id_text(&change.group),
        change: Some(GroupUpdate::from(change)),
    }];
    events.extend(released);
    events
}

#[cfg(test)]
mod tests {
    use sotto_core::groups::GroupChange;
    use sotto_core::message::MessageId;
    use sotto_core::store::{ContactId, GroupId, GroupMessage as CoreMessage};

    use super::*;

    fn ids(texts: &[&str]) -> Vec<ContactId> {
        texts
            .iter()
            .map(|text| ContactId::from_string((*text).to_owned()))
            .collect()
    }

    #[test]
    fn a_change_is_published_before_the_texts_it_released() {
        let group = GroupId([7; 16]);
        let held = CoreMessage {
            id: MessageId([1; 16]),
            group,
            sender: Some(ContactId::from_string("carol".into())),
            body: "early".into(),
            sent_at_ms: 10,
            stored_at_ms: 20,
        };
        let events = group_change_events(GroupChange {
            group,
            added: ids(&["carol"]),
            removed: Vec::new(),
            joined: false,
            left: false,
            released: vec![held],
        });
        assert_eq!(events.len(), 2);
        let AccountEvent::GroupChanged { group_id, change } = &events[0] else {
            panic!("the change comes first");
        };
        assert_eq!(group_id, &"07".repeat(16));
        assert_eq!(
            change.as_ref().map(|c| c.added.clone()),
            Some(vec!["carol".to_owned()])
        );
        let AccountEvent::GroupMessageReceived { message } = &events[1] else {
            panic!("then the released text");
        };
        assert_eq!(message.body, "early");
        assert_eq!(message.sender_id.as_deref(), Some("carol"));
    }
}
