//! Sending and receiving Sotto messages over a Signal session.
//!
//! Each operation is one store transaction:
//! - sending encrypts (advancing the ratchet), stores the message row and
//!   queues the envelope in the outbox, then commits;
//! - receiving decrypts (advancing the ratchet and consuming prekeys),
//!   de-duplicates by message id, applies the content, then commits. The
//!   function returns only after the commit, so a transport may acknowledge
//!   the envelope exactly when this returns `Ok`: a crash before that means
//!   the envelope is delivered again, and a crash after it cannot lose it.

use std::cell::RefCell;
use std::time::{Duration, SystemTime};

use libsignal_protocol::{
    CiphertextMessage, PreKeySignalMessage, SignalMessage, SignalProtocolError,
};
use rand::{CryptoRng, Rng};

use crate::error::{Error, Result};
use crate::message::{Body, Content, Envelope, EnvelopeKind, MessageId, ReceiptKind};
use crate::relay::invite::RelayInvite;
use crate::signal_views::View;
use crate::store::{
    in_transaction, ContactId, DeliveryState, Direction, HeldEnvelope, SottoStore, StoredMessage,
};
use crate::{address_of, block_on, millis};

/// A message encrypted and queued for sending.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Its outbox row; pass it to [`mark_sent`] once a transport took it.
    pub outbox_id: i64,
    /// The message's id.
    pub message_id: MessageId,
    /// What to hand to the transport.
    pub envelope: Envelope,
}

/// What an incoming envelope turned out to be, after its commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// A text message. It is stored unless the conversation keeps no history.
    Text(StoredMessage),
    /// Receipts for our messages; `updated` of them changed state.
    Receipt {
        /// Delivered or read.
        kind: ReceiptKind,
        /// The messages the receipt names.
        message_ids: Vec<MessageId>,
        /// How many stored messages moved forward.
        updated: usize,
    },
    /// The contact set the disappearing-messages timer (seconds, 0 = off).
    ExpirationTimerChanged(u32),
    /// Call signalling, for the call layer ([`crate::call`]). Nothing is
    /// stored; the ratchet step and the de-duplication record are.
    CallSignal(crate::call::ReceivedSignal),
    /// The contact's side of a discovery handshake. Its relay address, if
    /// it has one, is now the contact's (the session authenticates it).
    ContactHandshake(crate::message::ContactHandshake),
    /// A group text, filed in its group (see [`crate::groups`]).
    GroupText(crate::store::GroupMessage),
    /// A member sent a group's new state; it is applied.
    GroupChanged(crate::groups::GroupChange),
    /// A group text from someone who is not a member of the group as this
    /// device knows it (yet): it is held, and filed when a group state
    /// makes the sender a member (see [`crate::groups::GroupChange::released`]).
    GroupTextHeld {
        /// The group it names.
        group: crate::store::GroupId,
    },
    /// A member sent their sender key for a group; it is stored.
    GroupSenderKey {
        /// The group it is for.
        group: crate::store::GroupId,
    },
    /// Already received before: a replayed ciphertext (nothing changed) or a
    /// re-encrypted copy of a message we have (only the ratchet moved on).
    /// The transport may acknowledge it.
    Duplicate,
    /// The sender's identity key changed. The envelope is kept undecrypted
    /// until the user re-trusts the contact (`session::trust_new_identity`).
    HeldForUntrustedIdentity,
}

/// Encrypts a text for `contact` and queues it.
pub fn send_text<S, R>(
    store: &mut S,
    contact: &ContactId,
    text: &str,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    send_body(store, contact, Body::Text(text.to_owned()), now, rng)
}

/// [`send_text`] with the relay we receive on riding along
/// (`Content.sender_relay`): how an SMS handshake that promised it
/// ([`crate::message::ContactHandshake::relay_follows`]) delivers it.
pub fn send_text_with_relay<S, R>(
    store: &mut S,
    contact: &ContactId,
    text: &str,
    sender_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let body = Body::Text(text.to_owned());
    send_body_with_relay(store, contact, body, sender_relay, now, rng)
}

/// Sends delivery or read receipts for messages received from `contact`.
pub fn send_receipt<S, R>(
    store: &mut S,
    contact: &ContactId,
    kind: ReceiptKind,
    message_ids: Vec<MessageId>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    send_body(
        store,
        contact,
        Body::Receipt { kind, message_ids },
        now,
        rng,
    )
}

/// Encrypts any body for `contact` and queues it; texts are also stored
/// (unless the conversation keeps no history).
pub fn send_body<S, R>(
    store: &mut S,
    contact: &ContactId,
    body: Body,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    send_body_with_relay(store, contact, body, None, now, rng)
}

/// [`send_body`] with our relay riding along, if any.
fn send_body_with_relay<S, R>(
    store: &mut S,
    contact: &ContactId,
    body: Body,
    sender_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let content = Content {
        id: MessageId::new(now, rng),
        sent_at_ms: millis(now),
        body,
    };
    in_transaction(store, |store| {
        send_with_relay(store, contact, &content, sender_relay, now, rng, true)
    })
}

/// Encrypts several bodies (one per recipient, or several for one) and
/// queues them, all in one transaction: one durable commit for the batch,
/// as for fanning a message out to the members of a group.
pub fn send_batch<S, R>(
    store: &mut S,
    items: &[(ContactId, Body)],
    now: SystemTime,
    rng: &mut R,
) -> Result<Vec<Outgoing>>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        items
            .iter()
            .map(|(contact, body)| {
                let content = Content {
                    id: MessageId::new(now, rng),
                    sent_at_ms: millis(now),
                    body: body.clone(),
                };
                send_in_transaction(store, contact, &content, now, rng, true)
            })
            .collect()
    })
}

/// Encrypts a stored outgoing text again, under the same message id, and
/// queues it: for when a transport lost it. The receiver keeps one copy.
pub fn resend<S, R>(
    store: &mut S,
    contact: &ContactId,
    message_id: &MessageId,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    resend_with_relay(store, contact, message_id, None, now, rng)
}

/// [`resend`] for a text whose first copy carried our relay
/// ([`send_text_with_relay`]): the fresh copy carries it too.
pub fn resend_with_relay<S, R>(
    store: &mut S,
    contact: &ContactId,
    message_id: &MessageId,
    sender_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        let stored = store
            .outgoing_message(contact, message_id)?
            .ok_or(Error::UnknownMessage)?;
        let content = Content {
            id: stored.id,
            sent_at_ms: stored.sent_at_ms,
            body: Body::Text(stored.body),
        };
        send_with_relay(store, contact, &content, sender_relay, now, rng, false)
    })
}

pub(crate) fn send_in_transaction<S, R>(
    store: &mut S,
    contact: &ContactId,
    content: &Content,
    now: SystemTime,
    rng: &mut R,
    store_text: bool,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    send_with_relay(store, contact, content, None, now, rng, store_text)
}

fn send_with_relay<S, R>(
    store: &mut S,
    contact: &ContactId,
    content: &Content,
    sender_relay: Option<&RelayInvite>,
    now: SystemTime,
    rng: &mut R,
    store_text: bool,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    if store.contact(contact)?.is_none() {
        return Err(Error::UnknownContact);
    }
    let padded = zeroize::Zeroizing::new(content.to_padded_bytes_with_relay(sender_relay)?);
    let address = address_of(contact);
    let ciphertext = {
        let cell = RefCell::new(&mut *store);
        let view = View::new(&cell);
        block_on(libsignal_protocol::message_encrypt(
            &padded,
            &address,
            &mut view.clone(),
            &mut view.clone(),
            now,
            rng,
        ))?
    };
    let envelope = match ciphertext {
        CiphertextMessage::PreKeySignalMessage(m) => Envelope {
            kind: EnvelopeKind::PreKey,
            ciphertext: m.serialized().to_vec(),
        },
        CiphertextMessage::SignalMessage(m) => Envelope {
            kind: EnvelopeKind::Signal,
            ciphertext: m.serialized().to_vec(),
        },
        _ => return Err(Error::Protocol("unexpected ciphertext type")),
    };
    if let (Body::Text(text), true) = (&content.body, store_text) {
        let settings = store.conversation_settings(contact)?;
        if !settings.keep_no_history {
            let now_ms = millis(now);
            store.insert_message(&StoredMessage {
                id: content.id,
                contact: contact.clone(),
                direction: Direction::Outgoing,
                body: text.clone(),
                sent_at_ms: content.sent_at_ms,
                stored_at_ms: now_ms,
                state: DeliveryState::Pending,
                expires_at_ms: expiry(now_ms, settings.expire_timer_secs),
            })?;
        }
    }
    let outbox_id = store.push_outbox(contact, &content.id, &envelope)?;
    Ok(Outgoing {
        outbox_id,
        message_id: content.id,
        envelope,
    })
}

/// Records that a transport took an outbox entry: it leaves the outbox and
/// its message becomes [`DeliveryState::Sent`].
pub fn mark_sent<S: SottoStore>(store: &mut S, outbox_id: i64) -> Result<()> {
    in_transaction(store, |store| {
        if let Some(entry) = store.take_outbox(outbox_id)? {
            store.advance_delivery_state(&entry.contact, &entry.message_id, DeliveryState::Sent)?;
        }
        Ok(())
    })
}

/// Decrypts and applies one envelope from `contact`, committing before it
/// returns. `Ok` means the transport may now acknowledge the envelope.
///
/// Errors leave the store unchanged. A malformed or undecryptable envelope
/// will fail the same way again, so the transport may drop it; a storage
/// error is worth retrying.
pub fn receive<S, R>(
    store: &mut S,
    contact: &ContactId,
    envelope_bytes: &[u8],
    now: SystemTime,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let envelope = Envelope::from_bytes(envelope_bytes)?;
    receive_envelope(store, contact, &envelope, now, rng)
}

/// How many envelopes of one contact wait, at most, for its new identity
/// to be trusted; more are refused with [`Error::TooManyHeld`].
pub const MAX_HELD_ENVELOPES: usize = 1000;

/// [`receive`] for an envelope already parsed.
fn receive_envelope<S, R>(
    store: &mut S,
    contact: &ContactId,
    envelope: &Envelope,
    now: SystemTime,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    if store.contact(contact)?.is_none() {
        return Err(Error::UnknownContact);
    }
    match in_transaction(store, |store| {
        receive_in_transaction(store, contact, envelope, now, rng)
    }) {
        Err(Error::UntrustedIdentity) => {
            // Anyone who can send from the contact's number (SMS senders
            // can be forged) could otherwise fill the store; refused before
            // the trial below costs a decryption.
            if store.held_envelope_count(contact)? >= MAX_HELD_ENVELOPES {
                return Err(Error::TooManyHeld);
            }
            let offered = prekey_identity(envelope)?;
            if let Some(key) = &offered {
                // The key in a PreKey message's header is the sender's word
                // only: it is offered to the user only if the message
                // really decrypts under it.
                decrypts_under(store, contact, key, envelope, now, rng)?;
            }
            in_transaction(store, |store| {
                if store.held_envelope_count(contact)? >= MAX_HELD_ENVELOPES {
                    return Err(Error::TooManyHeld);
                }
                store.hold_envelope(contact, envelope, offered.as_ref())
            })?;
            tracing::warn!("identity key changed; envelope held until re-trust");
            Ok(Received::HeldForUntrustedIdentity)
        }
        other => other,
    }
}

/// Decrypts and applies a batch of envelopes, as drained from a mailbox, in
/// one transaction: one durable commit for the whole batch. Returns one
/// result per envelope, in order, after the commit; the transport may then
/// acknowledge every envelope whose result is `Ok`.
///
/// If any envelope fails (malformed, undecryptable, or from a changed
/// identity), the batch transaction is rolled back and every envelope is
/// processed on its own with [`receive`], so one bad envelope costs speed,
/// never another envelope.
pub fn receive_batch<S, R>(
    store: &mut S,
    batch: &[(ContactId, Vec<u8>)],
    now: SystemTime,
    rng: &mut R,
) -> Result<Vec<Result<Received>>>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let fast = in_transaction(store, |store| {
        let mut results = Vec::with_capacity(batch.len());
        for (contact, bytes) in batch {
            let envelope = Envelope::from_bytes(bytes)?;
            if store.contact(contact)?.is_none() {
                return Err(Error::UnknownContact);
            }
            results.push(Ok(receive_in_transaction(
                store, contact, &envelope, now, rng,
            )?));
        }
        Ok(results)
    });
    match fast {
        Ok(results) => Ok(results),
        Err(Error::Storage(e)) => Err(Error::Storage(e)),
        Err(_) => Ok(batch
            .iter()
            .map(|(contact, bytes)| receive(store, contact, bytes, now, rng))
            .collect()),
    }
}

/// What a sealed relay delivery turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedReceived {
    /// The sender, as found (or, for a first message from an unknown
    /// identity, created) among our contacts.
    pub contact: ContactId,
    /// Whether the contact was created for this message.
    pub new_contact: bool,
    /// What the envelope inside was.
    pub received: Received,
}

/// Receives a sealed-sender delivery from the relay: unseals it, checks the
/// sender certificate against the relay's `trust_root` as of
/// `relay_received_at` (when the relay accepted the envelope, so a message
/// that waited in the mailbox is not refused for the age of its
/// certificate), checks that a PreKey message carries the same identity as
/// the certificate, finds the contact by that identity (creating an
/// "Unknown sender" contact on first contact, trusted on first use, in the
/// same transaction as the decryption), and then decrypts and commits like
/// [`receive`]. `Ok` means the relay delivery may be acknowledged.
pub fn receive_sealed<S, R>(
    store: &mut S,
    payload: &[u8],
    trust_root: &libsignal_protocol::PublicKey,
    relay_received_at: SystemTime,
    now: SystemTime,
    rng: &mut R,
) -> Result<SealedReceived>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    receive_sealed_inner(
        store,
        payload,
        trust_root,
        None,
        relay_received_at,
        now,
        rng,
    )
}

/// [`receive_sealed`] for a delivery from `relay`, the relay this account
/// receives on: the sender certificate is checked against the relay's trust
/// root, and a contact created for a first message records `relay` as the
/// contact's relay (the relay issued their certificate, so they have an
/// account there).
pub fn receive_sealed_via_relay<S, R>(
    store: &mut S,
    payload: &[u8],
    relay: &crate::relay::invite::RelayInvite,
    relay_received_at: SystemTime,
    now: SystemTime,
    rng: &mut R,
) -> Result<SealedReceived>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    receive_sealed_inner(
        store,
        payload,
        &relay.trust_root,
        Some(relay),
        relay_received_at,
        now,
        rng,
    )
}

fn receive_sealed_inner<S, R>(
    store: &mut S,
    payload: &[u8],
    trust_root: &libsignal_protocol::PublicKey,
    relay: Option<&crate::relay::invite::RelayInvite>,
    relay_received_at: SystemTime,
    now: SystemTime,
    rng: &mut R,
) -> Result<SealedReceived>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let unsealed = crate::relay::sealed::unseal(store, payload, trust_root, relay_received_at)?;
    if prekey_identity(&unsealed.envelope)?.is_some_and(|identity| identity != unsealed.sender) {
        return Err(Error::InvalidSenderCertificate);
    }
    if let Some(contact) = store.contact_by_identity(&unsealed.sender)? {
        // A contact whose SMS handshake waits for its number (we answered a
        // hello whose sender may have forged the number) gets no new
        // session from anywhere: only a message in the session our answer
        // made may complete that handshake (`sms::endpoint`).
        if unsealed.envelope.kind == EnvelopeKind::PreKey && store.handshake_pending(&contact)? {
            return Err(Error::HandshakeIncomplete);
        }
        let received = receive_envelope(store, &contact, &unsealed.envelope, now, rng)?;
        return Ok(SealedReceived {
            contact,
            new_contact: false,
            received,
        });
    }
    // First contact: the new contact exists only if the message decrypts.
    let contact = ContactId::random(rng);
    let received = in_transaction(store, |store| {
        store.save_contact(&crate::store::Contact {
            id: contact.clone(),
            name: "Unknown sender".into(),
            relay: relay.cloned(),
        })?;
        store.trust_identity(&contact, &unsealed.sender)?;
        receive_in_transaction(store, &contact, &unsealed.envelope, now, rng)
    })?;
    Ok(SealedReceived {
        contact,
        new_contact: true,
        received,
    })
}

/// The identity key a PreKey envelope presents (`None` for a Signal
/// message, which carries none).
fn prekey_identity(envelope: &Envelope) -> Result<Option<libsignal_protocol::IdentityKey>> {
    match envelope.kind {
        EnvelopeKind::PreKey => PreKeySignalMessage::try_from(&envelope.ciphertext[..])
            .map(|message| Some(*message.identity_key()))
            .map_err(|_| Error::MalformedEnvelope("bad PreKey message")),
        EnvelopeKind::Signal | EnvelopeKind::SenderKey => Ok(None),
    }
}

/// Whether `envelope` decrypts once `key` is trusted for `contact` (as
/// accepting the key would do: the old session dropped), tried in a
/// transaction that is always rolled back, so nothing of it stays.
fn decrypts_under<S, R>(
    store: &mut S,
    contact: &ContactId,
    key: &libsignal_protocol::IdentityKey,
    envelope: &Envelope,
    now: SystemTime,
    rng: &mut R,
) -> Result<()>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    crate::store::rolled_back(store, |store| {
        store.trust_identity(contact, key)?;
        store.delete_session(contact)?;
        receive_in_transaction(store, contact, envelope, now, rng).map(drop)
    })
}

/// Processes an envelope that was held for an untrusted identity, now that
/// the identity may have been trusted. It is dropped from the held list when
/// it decrypts, is a duplicate, or can never decrypt.
pub(crate) fn receive_held<S, R>(
    store: &mut S,
    held: &HeldEnvelope,
    now: SystemTime,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    // Decrypting it and dropping it from the held list commit together.
    let result = in_transaction(store, |store| {
        let received = receive_in_transaction(store, &held.contact, &held.envelope, now, rng)?;
        store.remove_held_envelope(held.id)?;
        Ok(received)
    });
    // A failure that will never go away drops it too; an untrusted identity
    // or a storage error keeps it for a later try.
    let permanent =
        matches!(&result, Err(e) if !matches!(e, Error::UntrustedIdentity | Error::Storage(_)));
    if permanent {
        in_transaction(store, |store| store.remove_held_envelope(held.id))?;
    }
    result
}

pub(crate) fn receive_in_transaction<S, R>(
    store: &mut S,
    contact: &ContactId,
    envelope: &Envelope,
    now: SystemTime,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let address = address_of(contact);
    if envelope.kind == EnvelopeKind::SenderKey {
        return receive_sender_key_message(store, contact, envelope, now, rng);
    }
    let ciphertext = match envelope.kind {
        EnvelopeKind::PreKey => CiphertextMessage::PreKeySignalMessage(
            PreKeySignalMessage::try_from(&envelope.ciphertext[..])
                .map_err(|_| Error::MalformedEnvelope("bad PreKey message"))?,
        ),
        EnvelopeKind::Signal => CiphertextMessage::SignalMessage(
            SignalMessage::try_from(&envelope.ciphertext[..])
                .map_err(|_| Error::MalformedEnvelope("bad Signal message"))?,
        ),
        EnvelopeKind::SenderKey => return Err(Error::MalformedEnvelope("not a session message")),
    };
    let decrypted = {
        let cell = RefCell::new(&mut *store);
        let view = View::new(&cell);
        block_on(libsignal_protocol::message_decrypt(
            &ciphertext,
            &address,
            &mut view.clone(),
            &mut view.clone(),
            &mut view.clone(),
            &view.clone(),
            &mut view.clone(),
            rng,
        ))
    };
    let padded = match decrypted {
        Ok(padded) => zeroize::Zeroizing::new(padded),
        // The message key was already used: this exact ciphertext was
        // received. libsignal fails before writing anything in this case.
        Err(SignalProtocolError::DuplicatedMessage(..)) => return Ok(Received::Duplicate),
        // Other failures (a PreKey message replayed after its session was
        // replaced, say) may follow writes such as a saved identity; the
        // error rolls them back.
        Err(e) => return Err(e.into()),
    };
    let (content, sender_relay) = Content::from_padded_bytes_with_relay(&padded)?;
    let now_ms = millis(now);
    if !store.record_received_id(contact, &content.id, now_ms)? {
        // A re-sent copy of a message we have: the ratchet step above is
        // kept (it is committed), the content is not applied twice.
        return Ok(Received::Duplicate);
    }
    if let Some(relay) = &sender_relay {
        learn_relay(store, contact, relay)?;
    }
    apply_content(store, contact, content, now_ms, rng)
}

/// A group text encrypted with the sender's sender key: decrypted with the
/// key they distributed, then de-duplicated and filed like any message.
/// Nothing but a group text may travel this way.
fn receive_sender_key_message<S, R>(
    store: &mut S,
    contact: &ContactId,
    envelope: &Envelope,
    now: SystemTime,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let decrypted = block_on(libsignal_protocol::group_decrypt(
        &envelope.ciphertext,
        store,
        &address_of(contact),
    ));
    let padded = match decrypted {
        Ok(padded) => zeroize::Zeroizing::new(padded),
        Err(SignalProtocolError::DuplicatedMessage(..)) => return Ok(Received::Duplicate),
        Err(SignalProtocolError::NoSenderKeyState { .. }) => {
            return Err(Error::Undecryptable("no sender key for this group"))
        }
        Err(e) => return Err(e.into()),
    };
    let content = Content::from_padded_bytes(&padded)?;
    if !matches!(content.body, Body::GroupText { .. }) {
        return Err(Error::MalformedContent(
            "only group texts travel under a sender key",
        ));
    }
    let now_ms = millis(now);
    if !store.record_received_id(contact, &content.id, now_ms)? {
        return Ok(Received::Duplicate);
    }
    apply_content(store, contact, content, now_ms, rng)
}

/// Records the relay a contact told us, from inside their session.
fn learn_relay<S: SottoStore>(
    store: &mut S,
    contact: &ContactId,
    relay: &RelayInvite,
) -> Result<()> {
    if let Some(mut stored) = store.contact(contact)? {
        if stored.relay.as_ref() != Some(relay) {
            stored.relay = Some(relay.clone());
            store.save_contact(&stored)?;
        }
    }
    Ok(())
}

fn apply_content<S, R>(
    store: &mut S,
    contact: &ContactId,
    content: Content,
    now_ms: u64,
    rng: &mut R,
) -> Result<Received>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    match content.body {
        Body::Text(body) => {
            let settings = store.conversation_settings(contact)?;
            let message = StoredMessage {
                id: content.id,
                contact: contact.clone(),
                direction: Direction::Incoming,
                body,
                sent_at_ms: content.sent_at_ms,
                stored_at_ms: now_ms,
                state: DeliveryState::Received,
                expires_at_ms: expiry(now_ms, settings.expire_timer_secs),
            };
            if !settings.keep_no_history {
                store.insert_message(&message)?;
            }
            Ok(Received::Text(message))
        }
        Body::Receipt { kind, message_ids } => {
            let state = match kind {
                ReceiptKind::Delivered => DeliveryState::Delivered,
                ReceiptKind::Read => DeliveryState::Read,
            };
            let mut updated = 0;
            for id in &message_ids {
                if store.advance_delivery_state(contact, id, state)? {
                    updated += 1;
                }
            }
            Ok(Received::Receipt {
                kind,
                message_ids,
                updated,
            })
        }
        Body::ExpirationTimer(seconds) => {
            let mut settings = store.conversation_settings(contact)?;
            settings.expire_timer_secs = seconds;
            store.save_conversation_settings(contact, &settings)?;
            Ok(Received::ExpirationTimerChanged(seconds))
        }
        Body::CallSignal(signal) => Ok(Received::CallSignal(crate::call::ReceivedSignal {
            signal,
            sent_at_ms: content.sent_at_ms,
        })),
        Body::ContactHandshake(handshake) => {
            if let Some(relay) = &handshake.relay {
                learn_relay(store, contact, relay)?;
            }
            Ok(Received::ContactHandshake(handshake))
        }
        Body::GroupText { group, ref text } => {
            let text = text.clone();
            crate::groups::apply_text(store, contact, &content, group, text, now_ms)
        }
        Body::GroupUpdate(update) => {
            crate::groups::apply_update(store, contact, update, now_ms, rng)
        }
        Body::GroupSenderKey {
            group,
            distribution,
        } => crate::groups::apply_sender_key(store, contact, group, &distribution),
    }
}

fn expiry(now_ms: u64, timer_secs: u32) -> Option<u64> {
    (timer_secs > 0).then(|| now_ms + Duration::from_secs(timer_secs.into()).as_millis() as u64)
}
