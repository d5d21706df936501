//! `InMemStore`: the in-memory twin of `SqlCipherStore`, for tests and for
//! benchmarks against raw libsignal. Transactions snapshot the whole state
//! and restore it on rollback, so both stores behave the same under the
//! conformance suite.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use libsignal_protocol::{
    Direction as SignalDirection, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore,
    KyberPreKeyId, KyberPreKeyRecord, KyberPreKeyStore, PreKeyId, PreKeyRecord, PreKeyStore,
    ProtocolAddress, PublicKey, SenderKeyRecord, SenderKeyStore, SessionRecord, SessionStore,
    SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord, SignedPreKeyStore,
};

use super::{
    Attachment, Contact, ContactId, ConversationSettings, DeliveryState, Direction, HeldEnvelope,
    HeldSmsPart, IdentityRecord, LocalAccount, NewPlainMessage, OutboxEntry, PlainMessage,
    PlainState, PlainThread, PreKeyState, SottoStore, StoredMessage,
};
use super::{Group, GroupId, GroupMessage, SentSms};
use crate::error::{Error, Result, StoreFailure};
use crate::message::{Envelope, MessageId};
use crate::sms::phone::PhoneNumber;

type SignalResult<T> = std::result::Result<T, SignalProtocolError>;

#[derive(Clone, Default)]
struct State {
    account: Option<LocalAccount>,
    prekey_state: PreKeyState,
    prekeys: BTreeMap<u32, PreKeyRecord>,
    signed_prekeys: BTreeMap<u32, SignedPreKeyRecord>,
    kyber_prekeys: BTreeMap<u32, KyberPreKeyRecord>,
    kyber_last_resort: BTreeSet<u32>,
    kyber_base_keys_seen: HashSet<(u32, u32, Vec<u8>)>,
    identities: HashMap<ContactId, IdentityRecord>,
    sessions: HashMap<ContactId, SessionRecord>,
    sender_keys: HashMap<(String, u32, [u8; 16]), SenderKeyRecord>,
    contacts: BTreeMap<ContactId, Contact>,
    settings: HashMap<ContactId, ConversationSettings>,
    messages: Vec<StoredMessage>,
    /// (contact, id, direction) of every stored message, for uniqueness.
    message_keys: HashSet<(ContactId, MessageId, bool)>,
    received_ids: HashSet<(ContactId, MessageId)>,
    outbox: BTreeMap<i64, OutboxEntry>,
    held: BTreeMap<i64, HeldEnvelope>,
    app_settings: BTreeMap<String, String>,
    next_row_id: i64,
    phones: BTreeMap<PhoneNumber, ContactId>,
    handshake_pending: BTreeSet<PhoneNumber>,
    plain: BTreeMap<i64, (PlainMessage, Vec<Attachment>)>,
    plain_external_ids: HashSet<String>,
    sms_parts: BTreeMap<i64, HeldSmsPart>,
    groups: BTreeMap<GroupId, Group>,
    group_messages: Vec<GroupMessage>,
    held_group_texts: Vec<GroupMessage>,
    sms_sent: BTreeMap<i64, SentSms>,
}

/// A [`SottoStore`] that lives in memory only. A clone is an independent
/// copy (the fuzzers start every input from one prepared store).
#[derive(Clone, Default)]
pub struct InMemStore {
    state: State,
    /// The state as it was at `begin`, restored by `rollback`.
    snapshot: Option<State>,
}

impl InMemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn next_row_id(&mut self) -> i64 {
        self.state.next_row_id += 1;
        self.state.next_row_id
    }
}

fn message_key(m: &StoredMessage) -> (ContactId, MessageId, bool) {
    (m.contact.clone(), m.id, m.direction == Direction::Outgoing)
}

fn contact_of(address: &ProtocolAddress) -> ContactId {
    ContactId::from_string(address.name().to_owned())
}

fn no_account(op: &'static str) -> SignalProtocolError {
    StoreFailure::into_signal(Error::NoAccount, op)
}

#[async_trait(?Send)]
impl IdentityKeyStore for InMemStore {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        let account = self.state.account.as_ref();
        account
            .map(|a| a.identity)
            .ok_or_else(|| no_account("get_identity_key_pair"))
    }

    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        let account = self.state.account.as_ref();
        account
            .map(|a| a.registration_id)
            .ok_or_else(|| no_account("get_local_registration_id"))
    }

    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SignalResult<IdentityChange> {
        let contact = contact_of(address);
        let changed = match self.state.identities.get(&contact) {
            Some(record) if record.key == *identity => return Ok(IdentityChange::NewOrUnchanged),
            Some(_) => true,
            None => false,
        };
        self.state.identities.insert(
            contact,
            IdentityRecord {
                key: *identity,
                verified: false,
            },
        );
        Ok(IdentityChange::from_changed(changed))
    }

    async fn is_trusted_identity(
        &self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
        _direction: SignalDirection,
    ) -> SignalResult<bool> {
        // Trust on first use; afterwards only the key the user trusted.
        Ok(match self.state.identities.get(&contact_of(address)) {
            None => true,
            Some(record) => record.key == *identity,
        })
    }

    async fn get_identity(&self, address: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        Ok(self
            .state
            .identities
            .get(&contact_of(address))
            .map(|r| r.key))
    }
}

#[async_trait(?Send)]
impl PreKeyStore for InMemStore {
    async fn get_pre_key(&self, id: PreKeyId) -> SignalResult<PreKeyRecord> {
        self.state
            .prekeys
            .get(&id.into())
            .cloned()
            .ok_or(SignalProtocolError::InvalidPreKeyId)
    }

    async fn save_pre_key(&mut self, id: PreKeyId, record: &PreKeyRecord) -> SignalResult<()> {
        self.state.prekeys.insert(id.into(), record.clone());
        Ok(())
    }

    async fn remove_pre_key(&mut self, id: PreKeyId) -> SignalResult<()> {
        self.state.prekeys.remove(&id.into());
        Ok(())
    }
}

#[async_trait(?Send)]
impl SignedPreKeyStore for InMemStore {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SignalResult<SignedPreKeyRecord> {
        let record = self.state.signed_prekeys.get(&id.into()).cloned();
        record.ok_or(SignalProtocolError::InvalidSignedPreKeyId)
    }

    async fn save_signed_pre_key(
        &mut self,
        id: SignedPreKeyId,
        record: &SignedPreKeyRecord,
    ) -> SignalResult<()> {
        self.state.signed_prekeys.insert(id.into(), record.clone());
        Ok(())
    }
}

#[async_trait(?Send)]
impl KyberPreKeyStore for InMemStore {
    async fn get_kyber_pre_key(&self, id: KyberPreKeyId) -> SignalResult<KyberPreKeyRecord> {
        let record = self.state.kyber_prekeys.get(&id.into()).cloned();
        record.ok_or(SignalProtocolError::InvalidKyberPreKeyId)
    }

    async fn save_kyber_pre_key(
        &mut self,
        id: KyberPreKeyId,
        record: &KyberPreKeyRecord,
    ) -> SignalResult<()> {
        self.state.kyber_prekeys.insert(id.into(), record.clone());
        Ok(())
    }

    async fn mark_kyber_pre_key_used(
        &mut self,
        id: KyberPreKeyId,
        ec_prekey_id: SignedPreKeyId,
        base_key: &PublicKey,
    ) -> SignalResult<()> {
        let id: u32 = id.into();
        if !self.state.kyber_last_resort.contains(&id) {
            self.state.kyber_prekeys.remove(&id);
            return Ok(());
        }
        let seen = (id, ec_prekey_id.into(), base_key.serialize().to_vec());
        if !self.state.kyber_base_keys_seen.insert(seen) {
            return Err(SignalProtocolError::InvalidMessage(
                libsignal_protocol::CiphertextMessageType::PreKey,
                "reused base key",
            ));
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl SessionStore for InMemStore {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        Ok(self.state.sessions.get(&contact_of(address)).cloned())
    }

    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> SignalResult<()> {
        self.state
            .sessions
            .insert(contact_of(address), record.clone());
        Ok(())
    }
}

#[async_trait(?Send)]
impl SenderKeyStore for InMemStore {
    async fn store_sender_key(
        &mut self,
        sender: &ProtocolAddress,
        distribution_id: uuid::Uuid,
        record: &SenderKeyRecord,
    ) -> SignalResult<()> {
        let key = (
            sender.name().to_owned(),
            sender.device_id().into(),
            *distribution_id.as_bytes(),
        );
        self.state.sender_keys.insert(key, record.clone());
        Ok(())
    }

    async fn load_sender_key(
        &mut self,
        sender: &ProtocolAddress,
        distribution_id: uuid::Uuid,
    ) -> SignalResult<Option<SenderKeyRecord>> {
        let key = (
            sender.name().to_owned(),
            sender.device_id().into(),
            *distribution_id.as_bytes(),
        );
        Ok(self.state.sender_keys.get(&key).cloned())
    }
}

/// `stored_at_ms`, or the millisecond after the newest of `others` if that
/// is later: a conversation's times stay unique, so they are exact paging
/// cursors (see [`SottoStore::insert_message`]).
fn unique_stored_at(stored_at_ms: u64, others: impl Iterator<Item = u64>) -> u64 {
    let after_newest = others.map(|ms| ms.saturating_add(1)).max().unwrap_or(0);
    stored_at_ms.max(after_newest)
}

impl SottoStore for InMemStore {
    fn begin(&mut self) -> Result<()> {
        if self.snapshot.is_some() {
            return Err(Error::NestedTransaction);
        }
        self.snapshot = Some(self.state.clone());
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.snapshot.take().map(|_| ()).ok_or(Error::NoTransaction)
    }

    fn rollback(&mut self) -> Result<()> {
        self.state = self.snapshot.take().ok_or(Error::NoTransaction)?;
        Ok(())
    }

    fn local_account(&self) -> Result<Option<LocalAccount>> {
        Ok(self.state.account.clone())
    }

    fn create_local_account(&mut self, account: &LocalAccount) -> Result<()> {
        if self.state.account.is_some() {
            return Err(Error::AccountExists);
        }
        self.state.account = Some(account.clone());
        Ok(())
    }

    fn prekey_state(&self) -> Result<PreKeyState> {
        Ok(self.state.prekey_state.clone())
    }

    fn save_prekey_state(&mut self, state: &PreKeyState) -> Result<()> {
        self.state.prekey_state = state.clone();
        Ok(())
    }

    fn one_time_prekey_ids(&self) -> Result<Vec<u32>> {
        Ok(self.state.prekeys.keys().copied().collect())
    }

    fn one_time_kyber_prekey_ids(&self) -> Result<Vec<u32>> {
        let last_resort = &self.state.kyber_last_resort;
        let ids = self.state.kyber_prekeys.keys().copied();
        Ok(ids.filter(|id| !last_resort.contains(id)).collect())
    }

    fn signed_prekey_ids(&self) -> Result<Vec<u32>> {
        Ok(self.state.signed_prekeys.keys().copied().collect())
    }

    fn last_resort_kyber_prekey_ids(&self) -> Result<Vec<u32>> {
        let kyber = &self.state.kyber_prekeys;
        let ids = self.state.kyber_last_resort.iter().copied();
        Ok(ids.filter(|id| kyber.contains_key(id)).collect())
    }

    fn mark_kyber_last_resort(&mut self, id: u32) -> Result<()> {
        if self.state.kyber_prekeys.contains_key(&id) {
            self.state.kyber_last_resort.insert(id);
        }
        Ok(())
    }

    fn remove_signed_prekey(&mut self, id: u32) -> Result<()> {
        self.state.signed_prekeys.remove(&id);
        Ok(())
    }

    fn remove_kyber_prekey(&mut self, id: u32) -> Result<()> {
        self.state.kyber_prekeys.remove(&id);
        self.state.kyber_last_resort.remove(&id);
        self.state.kyber_base_keys_seen.retain(|(k, _, _)| *k != id);
        Ok(())
    }

    fn identity_record(&self, contact: &ContactId) -> Result<Option<IdentityRecord>> {
        Ok(self.state.identities.get(contact).cloned())
    }

    fn trust_identity(&mut self, contact: &ContactId, key: &IdentityKey) -> Result<()> {
        let record = IdentityRecord {
            key: *key,
            verified: false,
        };
        self.state.identities.insert(contact.clone(), record);
        Ok(())
    }

    fn contact_by_identity(&self, key: &IdentityKey) -> Result<Option<ContactId>> {
        let mut found: Vec<&ContactId> = self
            .state
            .identities
            .iter()
            .filter(|(_, record)| record.key == *key)
            .map(|(contact, _)| contact)
            .collect();
        // Deterministic when two contacts share a key, as in SQL.
        found.sort();
        Ok(found.first().map(|c| (*c).clone()))
    }

    fn set_identity_verified(&mut self, contact: &ContactId, verified: bool) -> Result<()> {
        let record = self
            .state
            .identities
            .get_mut(contact)
            .ok_or(Error::UnknownContact)?;
        record.verified = verified;
        Ok(())
    }

    fn delete_session(&mut self, contact: &ContactId) -> Result<()> {
        self.state.sessions.remove(contact);
        Ok(())
    }

    fn save_contact(&mut self, contact: &Contact) -> Result<()> {
        self.state
            .contacts
            .insert(contact.id.clone(), contact.clone());
        Ok(())
    }

    fn contact(&self, id: &ContactId) -> Result<Option<Contact>> {
        Ok(self.state.contacts.get(id).cloned())
    }

    fn contacts(&self) -> Result<Vec<Contact>> {
        let mut contacts: Vec<Contact> = self.state.contacts.values().cloned().collect();
        contacts.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(contacts)
    }

    fn conversation_settings(&self, contact: &ContactId) -> Result<ConversationSettings> {
        Ok(self
            .state
            .settings
            .get(contact)
            .copied()
            .unwrap_or_default())
    }

    fn save_conversation_settings(
        &mut self,
        contact: &ContactId,
        settings: &ConversationSettings,
    ) -> Result<()> {
        self.state.settings.insert(contact.clone(), *settings);
        Ok(())
    }

    fn insert_message(&mut self, message: &StoredMessage) -> Result<()> {
        if !self.state.message_keys.insert(message_key(message)) {
            return Err(Error::AlreadyStored);
        }
        let conversation = self
            .state
            .messages
            .iter()
            .filter(|m| m.contact == message.contact);
        let mut stored = message.clone();
        stored.stored_at_ms =
            unique_stored_at(stored.stored_at_ms, conversation.map(|m| m.stored_at_ms));
        self.state.messages.push(stored);
        Ok(())
    }

    fn messages(
        &self,
        contact: &ContactId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<StoredMessage>> {
        // Newest first; ties keep insertion order reversed, as SQL's row id does.
        let mut found: Vec<&StoredMessage> = self
            .state
            .messages
            .iter()
            .filter(|m| &m.contact == contact && before_ms.is_none_or(|b| m.stored_at_ms < b))
            .collect();
        found.reverse();
        found.sort_by_key(|m| std::cmp::Reverse(m.stored_at_ms));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    fn outgoing_message(
        &self,
        contact: &ContactId,
        id: &MessageId,
    ) -> Result<Option<StoredMessage>> {
        let found =
            self.state.messages.iter().find(|m| {
                &m.contact == contact && &m.id == id && m.direction == Direction::Outgoing
            });
        Ok(found.cloned())
    }

    fn advance_delivery_state(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        state: DeliveryState,
    ) -> Result<bool> {
        let message =
            self.state.messages.iter_mut().find(|m| {
                &m.contact == contact && &m.id == id && m.direction == Direction::Outgoing
            });
        match message {
            Some(m) if m.state < state => {
                m.state = state;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_expired_messages(&mut self, now_ms: u64) -> Result<usize> {
        let before = self.state.messages.len();
        let keys = &mut self.state.message_keys;
        self.state.messages.retain(|m| {
            let keep = m.expires_at_ms.is_none_or(|at| at > now_ms);
            if !keep {
                keys.remove(&message_key(m));
            }
            keep
        });
        Ok(before - self.state.messages.len())
    }

    fn delete_conversation_messages(&mut self, contact: &ContactId) -> Result<usize> {
        let before = self.state.messages.len();
        self.state.messages.retain(|m| &m.contact != contact);
        self.state.message_keys.retain(|(c, _, _)| c != contact);
        Ok(before - self.state.messages.len())
    }

    fn record_received_id(
        &mut self,
        contact: &ContactId,
        id: &MessageId,
        _now_ms: u64,
    ) -> Result<bool> {
        Ok(self.state.received_ids.insert((contact.clone(), *id)))
    }

    fn push_outbox(
        &mut self,
        contact: &ContactId,
        message_id: &MessageId,
        envelope: &Envelope,
    ) -> Result<i64> {
        let id = self.next_row_id();
        let entry = OutboxEntry {
            id,
            contact: contact.clone(),
            message_id: *message_id,
            envelope: envelope.clone(),
        };
        self.state.outbox.insert(id, entry);
        Ok(id)
    }

    fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        Ok(self.state.outbox.values().cloned().collect())
    }

    fn take_outbox(&mut self, id: i64) -> Result<Option<OutboxEntry>> {
        Ok(self.state.outbox.remove(&id))
    }

    fn hold_envelope(
        &mut self,
        contact: &ContactId,
        envelope: &Envelope,
        offered_identity: Option<&IdentityKey>,
    ) -> Result<i64> {
        let id = self.next_row_id();
        let held = HeldEnvelope {
            id,
            contact: contact.clone(),
            envelope: envelope.clone(),
            offered_identity: offered_identity.copied(),
        };
        self.state.held.insert(id, held);
        Ok(id)
    }

    fn held_envelopes(&self, contact: &ContactId) -> Result<Vec<HeldEnvelope>> {
        let held = self.state.held.values().filter(|h| &h.contact == contact);
        Ok(held.cloned().collect())
    }

    fn held_envelope_count(&self, contact: &ContactId) -> Result<usize> {
        Ok(self
            .state
            .held
            .values()
            .filter(|h| &h.contact == contact)
            .count())
    }

    fn remove_held_envelope(&mut self, id: i64) -> Result<()> {
        self.state.held.remove(&id);
        Ok(())
    }

    fn app_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self.state.app_settings.get(key).cloned())
    }

    fn save_app_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.state
            .app_settings
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        Ok(())
    }
    fn link_phone(&mut self, phone: &PhoneNumber, contact: &ContactId) -> Result<()> {
        self.state.phones.insert(phone.clone(), contact.clone());
        self.state.handshake_pending.remove(phone);
        Ok(())
    }

    fn set_handshake_pending(&mut self, phone: &PhoneNumber, pending: bool) -> Result<()> {
        if pending && self.state.phones.contains_key(phone) {
            self.state.handshake_pending.insert(phone.clone());
        } else {
            self.state.handshake_pending.remove(phone);
        }
        Ok(())
    }

    fn handshake_pending(&self, contact: &ContactId) -> Result<bool> {
        Ok(self
            .state
            .handshake_pending
            .iter()
            .any(|phone| self.state.phones.get(phone) == Some(contact)))
    }

    fn contact_by_phone(&self, phone: &PhoneNumber) -> Result<Option<ContactId>> {
        Ok(self.state.phones.get(phone).cloned())
    }

    fn phones_of(&self, contact: &ContactId) -> Result<Vec<PhoneNumber>> {
        let phones = self.state.phones.iter().filter(|(_, c)| *c == contact);
        Ok(phones.map(|(p, _)| p.clone()).collect())
    }

    fn insert_plain_message(&mut self, m: &NewPlainMessage) -> Result<Option<i64>> {
        if let Some(external) = &m.external_id {
            if !self.state.plain_external_ids.insert(external.clone()) {
                return Ok(None);
            }
        }
        let id = self.next_row_id();
        let message = PlainMessage {
            id,
            phone: m.phone.clone(),
            direction: m.direction,
            body: m.body.clone(),
            parts: m.parts,
            at_ms: m.at_ms,
            state: m.state,
            attachment_count: m.attachments.len() as u32,
        };
        self.state
            .plain
            .insert(id, (message, m.attachments.clone()));
        Ok(Some(id))
    }

    fn plain_messages(
        &self,
        phone: &PhoneNumber,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<PlainMessage>> {
        let before = before_ms.unwrap_or(u64::MAX);
        let mut thread: Vec<&PlainMessage> = self
            .state
            .plain
            .values()
            .map(|(m, _)| m)
            .filter(|m| &m.phone == phone && m.at_ms < before)
            .collect();
        thread.sort_by_key(|m| std::cmp::Reverse((m.at_ms, m.id)));
        Ok(thread.into_iter().take(limit).cloned().collect())
    }

    fn plain_attachments(&self, id: i64) -> Result<Vec<Attachment>> {
        let found = self.state.plain.get(&id);
        Ok(found.map(|(_, a)| a.clone()).unwrap_or_default())
    }

    fn set_plain_state(&mut self, id: i64, state: PlainState) -> Result<bool> {
        match self.state.plain.get_mut(&id) {
            Some((message, _)) if message.state.may_become(state) => {
                message.state = state;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn plain_threads(&self) -> Result<Vec<PlainThread>> {
        let mut threads: BTreeMap<&PhoneNumber, PlainThread> = BTreeMap::new();
        for (m, _) in self.state.plain.values() {
            let thread = threads.entry(&m.phone).or_insert_with(|| PlainThread {
                phone: m.phone.clone(),
                last_at_ms: 0,
                messages: 0,
            });
            thread.last_at_ms = thread.last_at_ms.max(m.at_ms);
            thread.messages += 1;
        }
        let mut threads: Vec<PlainThread> = threads.into_values().collect();
        threads.sort_by(|a, b| b.last_at_ms.cmp(&a.last_at_ms).then(a.phone.cmp(&b.phone)));
        Ok(threads)
    }

    fn hold_sms_part(&mut self, part: &HeldSmsPart) -> Result<i64> {
        let id = self.next_row_id();
        let mut part = part.clone();
        part.id = id;
        self.state.sms_parts.insert(id, part);
        Ok(id)
    }

    fn held_sms_parts(&self) -> Result<Vec<HeldSmsPart>> {
        Ok(self.state.sms_parts.values().cloned().collect())
    }

    fn keep_sent_sms(&mut self, sent: &SentSms) -> Result<i64> {
        let id = self.next_row_id();
        let mut sent = sent.clone();
        sent.id = id;
        self.state.sms_sent.insert(id, sent);
        Ok(id)
    }

    fn sent_sms(&self) -> Result<Vec<SentSms>> {
        Ok(self.state.sms_sent.values().cloned().collect())
    }

    fn set_sent_sms_refreshes(&mut self, id: i64, refreshes_left: u8) -> Result<()> {
        if let Some(sent) = self.state.sms_sent.get_mut(&id) {
            sent.refreshes_left = refreshes_left;
        }
        Ok(())
    }

    fn forget_sent_sms(&mut self, id: i64) -> Result<()> {
        self.state.sms_sent.remove(&id);
        Ok(())
    }

    fn release_sms_parts(&mut self, phone: &PhoneNumber, wire_id: u32, count: u8) -> Result<usize> {
        let before = self.state.sms_parts.len();
        self.state
            .sms_parts
            .retain(|_, p| !(&p.phone == phone && p.wire_id == wire_id && p.count == count));
        Ok(before - self.state.sms_parts.len())
    }

    fn save_group(&mut self, group: &Group) -> Result<()> {
        let mut group = group.clone();
        group.members.sort();
        group.members.dedup();
        group.key_sent_to.sort();
        group.key_sent_to.dedup();
        self.state.groups.insert(group.id, group);
        Ok(())
    }

    fn group(&self, id: &GroupId) -> Result<Option<Group>> {
        Ok(self.state.groups.get(id).cloned())
    }

    fn groups(&self) -> Result<Vec<Group>> {
        let mut all: Vec<Group> = self.state.groups.values().cloned().collect();
        all.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(all)
    }

    fn insert_group_message(&mut self, message: &GroupMessage) -> Result<bool> {
        let exists =
            self.state.group_messages.iter().any(|m| {
                m.group == message.group && m.sender == message.sender && m.id == message.id
            });
        if !exists {
            let group = self
                .state
                .group_messages
                .iter()
                .filter(|m| m.group == message.group);
            let mut stored = message.clone();
            stored.stored_at_ms =
                unique_stored_at(stored.stored_at_ms, group.map(|m| m.stored_at_ms));
            self.state.group_messages.push(stored);
        }
        Ok(!exists)
    }

    fn group_messages(
        &self,
        group: &GroupId,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<GroupMessage>> {
        // Newest first; ties keep insertion order reversed, as SQL's row id does.
        let mut found: Vec<&GroupMessage> = self
            .state
            .group_messages
            .iter()
            .filter(|m| &m.group == group && before_ms.is_none_or(|b| m.stored_at_ms < b))
            .collect();
        found.reverse();
        found.sort_by_key(|m| std::cmp::Reverse(m.stored_at_ms));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    fn outgoing_group_message(
        &self,
        group: &GroupId,
        id: &MessageId,
    ) -> Result<Option<GroupMessage>> {
        Ok(self
            .state
            .group_messages
            .iter()
            .find(|m| &m.group == group && m.sender.is_none() && &m.id == id)
            .cloned())
    }

    fn hold_group_text(&mut self, message: &GroupMessage) -> Result<()> {
        self.state.held_group_texts.push(message.clone());
        Ok(())
    }

    fn held_group_text_count(&self, sender: &ContactId) -> Result<usize> {
        Ok(self
            .state
            .held_group_texts
            .iter()
            .filter(|m| m.sender.as_ref() == Some(sender))
            .count())
    }

    fn sender_key_distributions(&self, sender: &ContactId) -> Result<Vec<[u8; 16]>> {
        let mut found: Vec<[u8; 16]> = self
            .state
            .sender_keys
            .keys()
            .filter(|(name, _, _)| name == sender.as_str())
            .map(|(_, _, distribution)| *distribution)
            .collect();
        found.sort();
        found.dedup();
        Ok(found)
    }

    fn forget_sender_key(&mut self, sender: &ContactId, distribution: &[u8; 16]) -> Result<()> {
        self.state
            .sender_keys
            .retain(|(name, _, kept), _| !(name == sender.as_str() && kept == distribution));
        Ok(())
    }

    fn take_held_group_texts(&mut self, group: &GroupId) -> Result<Vec<GroupMessage>> {
        let (taken, kept) = std::mem::take(&mut self.state.held_group_texts)
            .into_iter()
            .partition(|m| &m.group == group);
        self.state.held_group_texts = kept;
        Ok(taken)
    }
}
