//! Group conversations with libsignal sender keys (docs/groups.md).
//!
//! A group has a random id, a name and members (contacts). Its state goes
//! to every member as a `GroupUpdate` over their 1:1 Signal sessions; each
//! sender's `SenderKeyDistributionMessage` goes the same way, to every
//! member that lacks it, before that sender's next text. A text is then
//! encrypted once with the sender key (`group_encrypt`) and the same
//! ciphertext is queued for each member; a member reachable only by SMS gets
//! the text in its 1:1 session instead (per-recipient fan-out), with the
//! group id inside so it is filed in the group.
//!
//! Removing a member picks a new distribution id: every remaining member
//! makes a fresh sender key for it and sends it only to the remaining
//! members, so the removed one cannot read what follows.
//!
//! Like [`crate::messaging`], every operation is one store transaction and
//! does no I/O; the envelopes it queues go out through the outbox.

use std::time::SystemTime;

use libsignal_protocol::{
    create_sender_key_distribution_message, group_encrypt, process_sender_key_distribution_message,
    ProtocolAddress, SenderKeyDistributionMessage,
};
use rand::{CryptoRng, Rng};

use crate::error::{Error, Result};
use crate::message::{
    check_group_name, Body, Content, Envelope, EnvelopeKind, GroupMemberInfo, GroupUpdate,
    MessageId, MAX_GROUP_MEMBERS, MAX_TEXT_BYTES,
};
use crate::messaging::{send_in_transaction, Outgoing, Received};
use crate::relay::invite::RelayInvite;
use crate::store::{in_transaction, Contact, ContactId, Group, GroupId, GroupMessage, SottoStore};
use crate::{address_of, block_on, millis, session, DEVICE_ID};

/// The name a contact gets when it is first known as a member of a group.
pub const GROUP_MEMBER_NAME: &str = "Group member";

/// The libsignal address our own sender keys are stored under. Contacts'
/// addresses are 32 hex digits, so this name never collides with one.
fn own_address() -> ProtocolAddress {
    ProtocolAddress::new("self".to_owned(), DEVICE_ID)
}

/// What sending a group text queued.
#[derive(Clone, Debug)]
pub struct GroupSent {
    /// The text's id (the same for every member).
    pub message_id: MessageId,
    /// Members the sender-key ciphertext was queued for (relay path), with
    /// the outbox row of each.
    pub relay: Vec<(ContactId, i64)>,
    /// Members that get the text in their 1:1 session, for the SMS path
    /// (`SmsEndpoint::send_group_fanout`); also queued in the outbox.
    pub sms: Vec<(ContactId, Outgoing)>,
    /// Members nothing could be queued for: no session with them yet and
    /// none can be started here (they joined through another member and
    /// are reachable only by SMS, say).
    pub unreached: Vec<ContactId>,
}

/// What a received `GroupUpdate` changed, after its commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupChange {
    /// The group.
    pub group: GroupId,
    /// Members that are new (to this device).
    pub added: Vec<ContactId>,
    /// Members no longer in the group.
    pub removed: Vec<ContactId>,
    /// This account became a member (a new group, or added back).
    pub joined: bool,
    /// This account was removed.
    pub left: bool,
    /// Texts that arrived before this state made their senders members,
    /// now filed in the group (oldest first).
    pub released: Vec<GroupMessage>,
}

/// The most group texts held per sender while their membership is unknown.
pub const MAX_HELD_TEXTS_PER_SENDER: usize = 64;

/// How long a held group text waits for the state that makes its sender a
/// member (the state is normally seconds behind; a day covers a member
/// who was offline).
pub const HELD_TEXT_LIFETIME_MS: u64 = 24 * 3_600_000;

/// How far one received state may move a known group's revision on. Each
/// change adds one; a member who missed a few states still catches up,
/// but no member can jump the revision so far ahead (say to `u64::MAX`)
/// that no later state could ever be newer, which would freeze the group
/// against their own removal.
pub const MAX_REVISION_STEP: u64 = 1024;

/// The highest revision a group we do not know yet may arrive with.
const MAX_FIRST_REVISION: u64 = 1 << 32;

/// The revision after `group`'s.
fn next_revision(group: &Group) -> Result<u64> {
    group
        .revision
        .checked_add(1)
        .filter(|next| *next <= i64::MAX as u64)
        .ok_or(Error::CorruptStore)
}

/// Creates a group of `members` (contacts with a session) named `name`,
/// sends them its state and our sender key, and returns it. `own_relay` is
/// where this account receives, told to the members.
pub fn create_group<S, R>(
    store: &mut S,
    name: &str,
    members: &[ContactId],
    own_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Group>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let name = check_group_name(name).ok_or(Error::InvalidName)?;
    let mut members = members.to_vec();
    members.sort();
    members.dedup();
    in_transaction(store, |store| {
        check_members(store, &members, now)?;
        let mut group = Group {
            id: GroupId::random(rng),
            name,
            revision: 1,
            distribution_id: random_distribution(rng),
            members: members.clone(),
            key_sent_to: Vec::new(),
            active: true,
        };
        send_update(store, &group, &members, own_relay, now, rng)?;
        distribute_key(store, &mut group, now, rng)?;
        store.save_group(&group)?;
        Ok(group)
    })
}

/// Adds contacts (each with a session) to a group: every member gets the
/// new state, and the new members our sender key.
pub fn add_members<S, R>(
    store: &mut S,
    group: &GroupId,
    new: &[ContactId],
    own_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Group>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        let mut group = active_group(store, group)?;
        let new: Vec<ContactId> = new
            .iter()
            .filter(|c| !group.members.contains(c))
            .cloned()
            .collect();
        check_members(store, &new, now)?;
        group.members.extend(new);
        group.members.sort();
        group.members.dedup();
        if group.members.len() + 1 > MAX_GROUP_MEMBERS {
            return Err(Error::TooManyMembers);
        }
        group.revision = next_revision(&group)?;
        let members = group.members.clone();
        send_update(store, &group, &members, own_relay, now, rng)?;
        distribute_key(store, &mut group, now, rng)?;
        store.save_group(&group)?;
        Ok(group)
    })
}

/// Removes members from a group and rotates the sender keys: the group
/// moves to a new distribution id, for which every remaining member makes
/// a new sender key that only the remaining members get. The removed
/// members are told they were removed.
pub fn remove_members<S, R>(
    store: &mut S,
    group: &GroupId,
    removed: &[ContactId],
    own_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Group>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        let mut group = active_group(store, group)?;
        let gone: Vec<ContactId> = group
            .members
            .iter()
            .filter(|c| removed.contains(c))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Err(Error::NotGroupMember);
        }
        group.members.retain(|c| !gone.contains(c));
        group.revision = next_revision(&group)?;
        group.distribution_id = random_distribution(rng);
        group.key_sent_to.clear();
        let mut told = group.members.clone();
        told.extend(gone);
        send_update(store, &group, &told, own_relay, now, rng)?;
        distribute_key(store, &mut group, now, rng)?;
        store.save_group(&group)?;
        Ok(group)
    })
}

/// Leaves a group: the remaining members get a state without this account
/// and with a new distribution id (so they rotate their sender keys), and
/// the group stays here, inactive, with its texts.
pub fn leave_group<S, R>(
    store: &mut S,
    group: &GroupId,
    now: SystemTime,
    rng: &mut R,
) -> Result<Group>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        let mut group = active_group(store, group)?;
        group.revision = next_revision(&group)?;
        group.distribution_id = random_distribution(rng);
        group.key_sent_to.clear();
        group.active = false;
        let members = group.members.clone();
        send_state(store, &group, None, &members, now, rng)?;
        store.save_group(&group)?;
        Ok(group)
    })
}

/// Sends a text to a group and stores it. Members with a relay get the
/// text encrypted once with our sender key (after our sender key, if they
/// lack it); members without one, and those in `by_sms`, get it in their
/// 1:1 session for the SMS path.
pub fn send_group_text<S, R>(
    store: &mut S,
    group: &GroupId,
    text: &str,
    by_sms: &[ContactId],
    now: SystemTime,
    rng: &mut R,
) -> Result<GroupSent>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    if text.len() > MAX_TEXT_BYTES {
        return Err(Error::MessageTooLong);
    }
    let content = Content {
        id: MessageId::new(now, rng),
        sent_at_ms: millis(now),
        body: Body::GroupText {
            group: *group,
            text: text.to_owned(),
        },
    };
    in_transaction(store, |store| {
        let mut group = active_group(store, group)?;
        let mut sent = GroupSent {
            message_id: content.id,
            relay: Vec::new(),
            sms: Vec::new(),
            unreached: Vec::new(),
        };
        let mut relay_members = Vec::new();
        for member in &group.members {
            if !session::has_session(&*store, member, now)? {
                sent.unreached.push(member.clone());
            } else if by_sms.contains(member) || !has_relay(store, member)? {
                let outgoing = send_in_transaction(store, member, &content, now, rng, false)?;
                sent.sms.push((member.clone(), outgoing));
            } else {
                relay_members.push(member.clone());
            }
        }
        if !relay_members.is_empty() {
            distribute_key(store, &mut group, now, rng)?;
            let padded = zeroize::Zeroizing::new(content.to_padded_bytes()?);
            let distribution = uuid::Uuid::from_bytes(group.distribution_id);
            let message = block_on(group_encrypt(
                store,
                &own_address(),
                distribution,
                &padded,
                rng,
            ))?;
            let envelope = Envelope {
                kind: EnvelopeKind::SenderKey,
                ciphertext: message.serialized().to_vec(),
            };
            for member in relay_members {
                let outbox_id = store.push_outbox(&member, &content.id, &envelope)?;
                sent.relay.push((member, outbox_id));
            }
        }
        store.insert_group_message(&GroupMessage {
            id: content.id,
            group: group.id,
            sender: None,
            body: text.to_owned(),
            sent_at_ms: content.sent_at_ms,
            stored_at_ms: millis(now),
        })?;
        Ok(sent)
    })
}

/// Encrypts a group text we sent, again, in the 1:1 sessions of `members`
/// (under the same message id) and queues it: the SMS fan-out of a text
/// first sent over the relay, or a re-send. Members without a session are
/// skipped.
pub fn fan_out_again<S, R>(
    store: &mut S,
    group: &GroupId,
    message_id: &MessageId,
    members: &[ContactId],
    now: SystemTime,
    rng: &mut R,
) -> Result<Vec<(ContactId, Outgoing)>>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        let stored = store
            .outgoing_group_message(group, message_id)?
            .ok_or(Error::UnknownMessage)?;
        let content = Content {
            id: stored.id,
            sent_at_ms: stored.sent_at_ms,
            body: Body::GroupText {
                group: *group,
                text: stored.body,
            },
        };
        let mut queued = Vec::new();
        for member in members {
            if session::has_session(&*store, member, now)? {
                let outgoing = send_in_transaction(store, member, &content, now, rng, false)?;
                queued.push((member.clone(), outgoing));
            }
        }
        Ok(queued)
    })
}

fn random_distribution<R: Rng + CryptoRng>(rng: &mut R) -> [u8; 16] {
    // A version-4 UUID from our RNG.
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    *uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .as_bytes()
}

fn has_relay<S: SottoStore>(store: &S, contact: &ContactId) -> Result<bool> {
    Ok(store
        .contact(contact)?
        .ok_or(Error::UnknownContact)?
        .relay
        .is_some())
}

fn active_group<S: SottoStore>(store: &S, id: &GroupId) -> Result<Group> {
    let group = store.group(id)?.ok_or(Error::UnknownGroup)?;
    if !group.active {
        return Err(Error::NotGroupMember);
    }
    Ok(group)
}

/// Every member must be a contact we have a session with (the caller
/// starts sessions first), and the group must stay within bounds.
fn check_members<S: SottoStore>(store: &S, members: &[ContactId], now: SystemTime) -> Result<()> {
    if members.len() + 1 > MAX_GROUP_MEMBERS {
        return Err(Error::TooManyMembers);
    }
    for member in members {
        if store.contact(member)?.is_none() {
            return Err(Error::UnknownContact);
        }
        if !session::has_session(store, member, now)? {
            return Err(Error::NoSession);
        }
    }
    Ok(())
}

/// Queues the group's state for `recipients` (members, and members just
/// removed) in their 1:1 sessions.
fn send_update<S, R>(
    store: &mut S,
    group: &Group,
    recipients: &[ContactId],
    own_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Vec<Outgoing>>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let account = store.local_account()?.ok_or(Error::NoAccount)?;
    let us = GroupMemberInfo {
        identity: *account.identity.identity_key(),
        relay: own_relay.cloned(),
    };
    send_state(store, group, Some(us), recipients, now, rng)
}

/// Queues the group's state, listing `us` (none once we left) and the
/// group's members, for those of `recipients` we have a session with.
fn send_state<S, R>(
    store: &mut S,
    group: &Group,
    us: Option<GroupMemberInfo>,
    recipients: &[ContactId],
    now: SystemTime,
    rng: &mut R,
) -> Result<Vec<Outgoing>>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let mut members: Vec<GroupMemberInfo> = us.into_iter().collect();
    for member in &group.members {
        let identity = store.identity_record(member)?.ok_or(Error::NoSession)?.key;
        let relay = store.contact(member)?.ok_or(Error::UnknownContact)?.relay;
        members.push(GroupMemberInfo { identity, relay });
    }
    let update = GroupUpdate {
        group: group.id,
        revision: group.revision,
        name: group.name.clone(),
        members,
        distribution_id: uuid::Uuid::from_bytes(group.distribution_id),
    };
    let content = Content {
        id: MessageId::new(now, rng),
        sent_at_ms: millis(now),
        body: Body::GroupUpdate(update),
    };
    // A member we have no session with (one who joined through another
    // member and is reachable by SMS only, say) misses this state; the
    // change must not fail for the others.
    let mut queued = Vec::with_capacity(recipients.len());
    for to in recipients {
        if session::has_session(&*store, to, now)? {
            queued.push(send_in_transaction(store, to, &content, now, rng, false)?);
        }
    }
    Ok(queued)
}

/// Sends our sender key for the group's distribution to every member with
/// a relay and a session that lacks it, and records that they have it.
/// (Members reachable only by SMS get texts 1:1 and need no sender key.)
fn distribute_key<S, R>(
    store: &mut S,
    group: &mut Group,
    now: SystemTime,
    rng: &mut R,
) -> Result<()>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let mut lacking = Vec::new();
    for member in &group.members {
        if !group.key_sent_to.contains(member)
            && has_relay(store, member)?
            && session::has_session(&*store, member, now)?
        {
            lacking.push(member.clone());
        }
    }
    if lacking.is_empty() {
        return Ok(());
    }
    let distribution = block_on(create_sender_key_distribution_message(
        &own_address(),
        uuid::Uuid::from_bytes(group.distribution_id),
        store,
        rng,
    ))?;
    let content = Content {
        id: MessageId::new(now, rng),
        sent_at_ms: millis(now),
        body: Body::GroupSenderKey {
            group: group.id,
            distribution: distribution.serialized().to_vec(),
        },
    };
    for member in lacking {
        send_in_transaction(store, &member, &content, now, rng, false)?;
        group.key_sent_to.push(member);
    }
    group.key_sent_to.sort();
    group.key_sent_to.dedup();
    store.save_group(group)
}

/// The most contacts the group states from one sender may introduce
/// within [`INTRODUCTION_WINDOW_MS`]: enough to join two full groups of
/// strangers, few enough that a contact cannot fill the contact list with
/// made-up members of made-up groups.
pub const MAX_INTRODUCTIONS_PER_WINDOW: usize = 2 * MAX_GROUP_MEMBERS;

/// The window [`MAX_INTRODUCTIONS_PER_WINDOW`] counts over.
pub const INTRODUCTION_WINDOW_MS: u64 = 7 * 24 * 3_600_000;

/// The application setting counting the contacts `from`'s group states
/// introduced: "<window start ms> <count>".
fn introductions_key(from: &ContactId) -> String {
    format!("groups.introduced.{}", from.as_str())
}

/// Counts `new` contacts about to be introduced by `from`'s group state,
/// refusing the state if that would pass the sender's allowance for the
/// current window.
fn count_introductions<S: SottoStore>(
    store: &mut S,
    from: &ContactId,
    new: usize,
    now_ms: u64,
) -> Result<()> {
    if new == 0 {
        return Ok(());
    }
    let key = introductions_key(from);
    let (start, used) = store
        .app_setting(&key)?
        .and_then(|text| {
            let (start, used) = text.split_once(' ')?;
            Some((start.parse::<u64>().ok()?, used.parse::<usize>().ok()?))
        })
        .filter(|(start, _)| now_ms.saturating_sub(*start) < INTRODUCTION_WINDOW_MS)
        .unwrap_or((now_ms, 0));
    let used = used.saturating_add(new);
    if used > MAX_INTRODUCTIONS_PER_WINDOW {
        return Err(Error::MalformedContent(
            "group states introduce too many new members",
        ));
    }
    store.save_app_setting(&key, &format!("{start} {used}"))
}

/// Applies a group's state received from `from`, inside the receive
/// transaction. Members not yet known become contacts (named
/// [`GROUP_MEMBER_NAME`], their identity trusted on the word of the member
/// who sent the state, their relay as it says), at most
/// [`MAX_INTRODUCTIONS_PER_WINDOW`] from one sender's states.
pub(crate) fn apply_update<S, R>(
    store: &mut S,
    from: &ContactId,
    update: GroupUpdate,
    now_ms: u64,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let own = *store
        .local_account()?
        .ok_or(Error::NoAccount)?
        .identity
        .identity_key();
    let sender = store.identity_record(from)?.ok_or(Error::NoSession)?.key;
    let existing = store.group(&update.group)?;
    // A member may leave (a state without themselves); a group we do not
    // know must come from one of its members.
    if existing.is_none() && !update.members.iter().any(|m| m.identity == sender) {
        return Err(Error::MalformedContent(
            "group update from outside the group",
        ));
    }
    if let Some(group) = &existing {
        if !group.members.contains(from) {
            return Err(Error::NotGroupMember);
        }
        if update.revision <= group.revision {
            // An old or concurrent state: the one we have stays.
            return Ok(Received::Duplicate);
        }
        if update.revision - group.revision > MAX_REVISION_STEP {
            return Err(Error::MalformedContent("group revision jumps too far"));
        }
    } else if update.revision > MAX_FIRST_REVISION {
        return Err(Error::MalformedContent("group revision jumps too far"));
    }
    let active = update.members.iter().any(|m| m.identity == own);
    if existing.is_none() && !active {
        // A group we are not in and never were: nothing to keep.
        return Err(Error::NotGroupMember);
    }
    let mut strangers = Vec::new();
    for info in &update.members {
        if info.identity != own
            && !strangers.contains(&info.identity)
            && store.contact_by_identity(&info.identity)?.is_none()
        {
            strangers.push(info.identity);
        }
    }
    count_introductions(store, from, strangers.len(), now_ms)?;
    let mut members = Vec::new();
    for info in &update.members {
        if info.identity == own {
            continue;
        }
        let contact = match store.contact_by_identity(&info.identity)? {
            Some(contact) => contact,
            None => {
                let contact = ContactId::random(rng);
                store.save_contact(&Contact {
                    id: contact.clone(),
                    name: GROUP_MEMBER_NAME.to_owned(),
                    relay: info.relay.clone(),
                })?;
                store.trust_identity(&contact, &info.identity)?;
                contact
            }
        };
        members.push(contact);
    }
    members.sort();
    members.dedup();
    let distribution_id = *update.distribution_id.as_bytes();
    let same_keys = existing
        .as_ref()
        .is_some_and(|old| old.distribution_id == distribution_id);
    let (old_members, was_active, key_sent_to) = match existing {
        Some(old) => {
            let kept = if old.distribution_id == distribution_id {
                old.key_sent_to
                    .into_iter()
                    .filter(|c| members.contains(c))
                    .collect()
            } else {
                Vec::new()
            };
            (old.members, old.active, kept)
        }
        None => (Vec::new(), false, Vec::new()),
    };
    let change = GroupChange {
        group: update.group,
        added: members
            .iter()
            .filter(|c| !old_members.contains(c))
            .cloned()
            .collect(),
        removed: old_members
            .iter()
            .filter(|c| !members.contains(c))
            .cloned()
            .collect(),
        joined: active && !was_active,
        left: !active && was_active,
        released: Vec::new(),
    };
    if (!change.removed.is_empty() || change.left) && same_keys {
        // Removing someone must move the group to new sender keys, or the
        // removed member could read every later text.
        return Err(Error::MalformedContent(
            "members removed without new sender keys",
        ));
    }
    let mut change = change;
    for held in store.take_held_group_texts(&update.group)? {
        let member = held.sender.as_ref().is_some_and(|s| members.contains(s));
        let expired = held.stored_at_ms.saturating_add(HELD_TEXT_LIFETIME_MS) < now_ms;
        if !active || expired {
            // Removed, or waited too long: dropped.
        } else if member {
            if store.insert_group_message(&held)? {
                change.released.push(held);
            }
        } else {
            store.hold_group_text(&held)?;
        }
    }
    store.save_group(&Group {
        id: update.group,
        name: update.name,
        revision: update.revision,
        distribution_id,
        members,
        key_sent_to,
        active,
    })?;
    Ok(Received::GroupChanged(change))
}

/// The most sender keys kept per sender for distributions no group state
/// here vouches for yet (see [`apply_sender_key`]).
pub const MAX_PENDING_SENDER_KEYS: usize = 8;

/// Stores the sender key a contact sent for a group. The key of a member
/// of a group we are in, for the group's current distribution, is kept.
/// Any other key is kept too, but as one of at most
/// [`MAX_PENDING_SENDER_KEYS`] per sender: the sender's key may arrive
/// before the state that names them or moves the group to new keys (from
/// another member; messages from different senders are not ordered), and
/// the sender never sends it again (it records whom it sent the key to).
/// A key only lets us read texts, which are checked against the
/// membership when they arrive; the bound keeps a contact from piling up
/// keys for made-up groups.
pub(crate) fn apply_sender_key<S: SottoStore>(
    store: &mut S,
    from: &ContactId,
    group: GroupId,
    distribution: &[u8],
) -> Result<Received> {
    let message = SenderKeyDistributionMessage::try_from(distribution)
        .map_err(|_| Error::MalformedContent("bad sender key distribution"))?;
    let distribution_id = *message
        .distribution_id()
        .map_err(|_| Error::MalformedContent("bad sender key distribution"))?
        .as_bytes();
    let vouched = store.group(&group)?.is_some_and(|known| {
        known.active && known.members.contains(from) && known.distribution_id == distribution_id
    });
    if !vouched {
        make_room_for_pending_key(store, from, &distribution_id)?;
    }
    block_on(process_sender_key_distribution_message(
        &address_of(from),
        &message,
        store,
    ))?;
    Ok(Received::GroupSenderKey { group })
}

/// Forgets keys of `from` that no group we are in vouches for (the group's
/// current distribution, with `from` a member), until one more fits under
/// [`MAX_PENDING_SENDER_KEYS`]. Only `from`'s own keys go, so a contact
/// that sends too many pushes out nobody's keys but its own.
fn make_room_for_pending_key<S: SottoStore>(
    store: &mut S,
    from: &ContactId,
    incoming: &[u8; 16],
) -> Result<()> {
    let vouched: Vec<[u8; 16]> = store
        .groups()?
        .into_iter()
        .filter(|g| g.active && g.members.contains(from))
        .map(|g| g.distribution_id)
        .collect();
    let mut pending: Vec<[u8; 16]> = store
        .sender_key_distributions(from)?
        .into_iter()
        .filter(|d| !vouched.contains(d) && d != incoming)
        .collect();
    while pending.len() >= MAX_PENDING_SENDER_KEYS {
        if let Some(evicted) = pending.pop() {
            store.forget_sender_key(from, &evicted)?;
        }
    }
    Ok(())
}

/// Files a group text from `from`, who must be a member of a group we are
/// in. A text for a group we do not know yet, or from someone not (yet) a
/// member, is held: the state that says so may still be on its way from
/// another member (texts from different senders are not ordered), and
/// [`apply_update`] files it once it arrives. At most
/// [`MAX_HELD_TEXTS_PER_SENDER`] are held per sender.
pub(crate) fn apply_text<S: SottoStore>(
    store: &mut S,
    from: &ContactId,
    content: &Content,
    group: GroupId,
    text: String,
    now_ms: u64,
) -> Result<Received> {
    let message = GroupMessage {
        id: content.id,
        group,
        sender: Some(from.clone()),
        body: text,
        sent_at_ms: content.sent_at_ms,
        stored_at_ms: now_ms,
    };
    let stored = store.group(&group)?;
    if stored.as_ref().is_some_and(|g| !g.active) {
        return Err(Error::NotGroupMember);
    }
    if !stored.is_some_and(|g| g.members.contains(from)) {
        if store.held_group_text_count(from)? >= MAX_HELD_TEXTS_PER_SENDER {
            return Err(Error::NotGroupMember);
        }
        store.hold_group_text(&message)?;
        return Ok(Received::GroupTextHeld { group });
    }
    if !store.insert_group_message(&message)? {
        return Ok(Received::Duplicate);
    }
    Ok(Received::GroupText(message))
}
