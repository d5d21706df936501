//! The SMS bridge and the per-conversation calls of the exported
//! `Account` (a second `#[uniffi::export]` block, so the SMS surface reads
//! apart from the relay one): incoming SMS in, queued SMS out with status
//! reports, sending by route, plain threads, SMS settings, the timer, trust
//! and the proxy. The work is in `sotto_core::app` (its `sms` module); this
//! file only converts (the records are in `sms_records`) and publishes
//! events.

use std::sync::Arc;

use sotto_core::app::{self, SmsReceived, SmsSettings as CoreSettings};
use sotto_core::sms::{SmsBody, TransportPolicy};
use sotto_core::store::{ContactId, Direction, TextTransport};

use crate::account::Account;
use crate::account_core::{message_id_text, AccountCore};
use crate::error::{Result, SottoError};
use crate::events::AccountEvent;
use crate::group_records::{group_id_text, GroupMessage};
use crate::records::{DeliveryState, Message, OfferedIdentity};
use crate::sms_records::{
    core_attachment, core_plain_state, plain_state, sent_text, HistoryItem, ImportReport,
    IncomingSms, MmsAttachment, NumberConversation, OutgoingSms, PlainMessage, PlainThread,
    SentText, SmsContent, SmsSettings, SmsStatus, SmsTickReport,
};

#[uniffi::export]
impl Account {
    /// Hands in a text SMS the phone received (`sender` as the carrier
    /// gave it; a long SMS as the joined text). Then take the SMS the core
    /// wants sent (`OutgoingSmsWaiting` says when there are some).
    ///
    /// Throws `InvalidInput` for a sender address that is no number, short
    /// code or sender name (the SMS is not stored).
    pub fn sms_received(&self, sender: String, body: String) -> Result<IncomingSms> {
        let app = self.core.app()?;
        let received = app.sms_received(&sender, &body)?;
        Ok(self.after_sms(&app, received))
    }

    /// Hands in a data SMS received on Sotto's port (6284).
    pub fn sms_data_received(&self, sender: String, data: Vec<u8>) -> Result<IncomingSms> {
        let app = self.core.app()?;
        let received = app.sms_data_received(&sender, &data)?;
        Ok(self.after_sms(&app, received))
    }

    /// Takes the SMS waiting to be sent, oldest first; each is handed out
    /// once. Report each with `reportSmsStatus`. SMS handed out but never
    /// reported come again after the account is reopened (a killed app may
    /// not have sent them).
    pub fn take_outgoing_sms(&self) -> Result<Vec<OutgoingSms>> {
        let taken = self.core.app()?.take_outgoing_sms()?;
        Ok(taken
            .into_iter()
            .map(|sms| OutgoingSms {
                id: sms.id,
                destination: sms.to.as_str().to_owned(),
                content: match sms.body {
                    SmsBody::Text(text) => SmsContent::Text { text },
                    SmsBody::Data { port, bytes } => SmsContent::Data { port, bytes },
                },
                encrypted: sms.encrypted,
            })
            .collect())
    }

    /// Queues again every SMS reported failed (when the phone has service
    /// again, or the user taps "retry"); plain ones go back to pending.
    /// Returns how many; `OutgoingSmsWaiting` follows.
    pub fn retry_failed_sms(&self) -> Result<u32> {
        let app = self.core.app()?;
        let count = app.retry_failed_sms()?;
        announce_waiting_sms(&self.core, &app);
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// How many SMS wait to be taken or reported.
    pub fn waiting_sms(&self) -> Result<u32> {
        Ok(u32::try_from(self.core.app()?.waiting_sms()?).unwrap_or(u32::MAX))
    }

    /// Reports what became of an SMS from `takeOutgoingSms`. A plain SMS
    /// takes the state; an encrypted text is sent when all its parts are,
    /// delivered when all are, each published as `DeliveryStateChanged`.
    /// A failed SMS waits for `retryFailedSms`. Throws `UnknownMessage` for
    /// an id the queue no longer holds (its batch was delivered, or it was
    /// forgotten days later by `smsTick`).
    pub fn report_sms_status(&self, id: i64, status: SmsStatus) -> Result<()> {
        let status = match status {
            SmsStatus::Sent => app::SmsStatus::Sent,
            SmsStatus::Delivered => app::SmsStatus::Delivered,
            SmsStatus::Failed => app::SmsStatus::Failed,
        };
        let failed = status == app::SmsStatus::Failed;
        for moved in self.core.app()?.report_sms_status(id, status)? {
            self.core.events().emit(AccountEvent::DeliveryStateChanged {
                contact_id: moved.contact.as_str().to_owned(),
                // A failed SMS leaves its text pending in the core; the
                // app shows it failed until `retryFailedSms`.
                state: if failed {
                    DeliveryState::Failed
                } else {
                    moved.state.into()
                },
                message_ids: vec![message_id_text(&moved.message_id)],
            });
        }
        Ok(())
    }

    /// Drives SMS timeouts (resend requests, incomplete messages,
    /// handshake retries); call it now and then (a minute is plenty), then
    /// take the outgoing SMS.
    pub fn sms_tick(&self) -> Result<SmsTickReport> {
        let app = self.core.app()?;
        let tick = app.sms_tick()?;
        announce_waiting_sms(&self.core, &app);
        Ok(SmsTickReport {
            incomplete: u32::try_from(tick.incomplete).unwrap_or(u32::MAX),
            handshakes_unanswered: u32::try_from(tick.handshakes_unanswered).unwrap_or(u32::MAX),
            automatic_sms_held_back: u32::try_from(tick.automatic_sms_held_back)
                .unwrap_or(u32::MAX),
        })
    }

    /// Starts the Sotto discovery handshake with `number` by SMS (our
    /// identity, a prekey bundle and our relay, about 16 SMS); returns the
    /// contact, made and named `name` if new. `IncomingSms.Handshake` with
    /// `sessionReady` tells when it completed.
    pub fn start_sms_handshake(&self, number: String, name: String) -> Result<String> {
        let app = self.core.app()?;
        let contact = app.start_sms_handshake(&number, &name)?;
        announce_waiting_sms(&self.core, &app);
        Ok(contact.as_str().to_owned())
    }

    /// The conversation with a phone number: the Sotto contact who has it,
    /// or its plain thread. Throws `InvalidInput` for no valid number.
    pub fn conversation_for_number(&self, number: String) -> Result<NumberConversation> {
        Ok(match self.core.app()?.conversation_for_number(&number)? {
            app::NumberConversation::Contact(contact) => NumberConversation::Contact {
                contact_id: contact.as_str().to_owned(),
            },
            app::NumberConversation::Plain(phone) => NumberConversation::Plain {
                phone: phone.as_str().to_owned(),
            },
        })
    }

    /// Records a phone number (E.164, or national in the SMS region) for a
    /// contact, such as one added by invite: texts may then go by encrypted
    /// SMS, and SMS from the number reach the contact's conversation.
    /// Throws `InvalidInput` for a short code or no number,
    /// `UnknownContact` for a stale id.
    pub fn link_contact_phone(&self, contact_id: String, number: String) -> Result<()> {
        let contact = ContactId::from_string(contact_id);
        Ok(self.core.app()?.link_contact_phone(&contact, &number)?)
    }

    /// The phone numbers known for a contact (E.164).
    pub fn contact_phones(&self, contact_id: String) -> Result<Vec<String>> {
        let contact = ContactId::from_string(contact_id);
        Ok(self
            .core
            .app()?
            .contact_phones(&contact)?
            .iter()
            .map(|phone| phone.as_str().to_owned())
            .collect())
    }

    /// Sends a text to a contact by the best route now: the relay when
    /// the contact has ours and it is connected, encrypted SMS when we have
    /// their number, the relay later otherwise, within the SMS settings.
    /// A Sotto contact is never sent plain SMS.
    ///
    /// Throws `NotDeliverable` when no route is allowed, `UntrustedIdentity`
    /// when the contact's key changed (trust it first), `NoSession` when
    /// neither side has a session yet, `CalledFromCallback` from a listener.
    pub fn send_text_routed(&self, contact_id: String, text: String) -> Result<SentText> {
        let app = self.core.app()?;
        let contact = ContactId::from_string(contact_id);
        let sent = self
            .runtime
            .block_on(async { app.send_text_routed(&contact, &text).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(sent_text(sent))
    }

    /// Sends a text to a phone number: encrypted to the Sotto contact who
    /// has it (as `sendTextRouted`), otherwise a plain SMS.
    pub fn send_text_to_number(&self, number: String, text: String) -> Result<SentText> {
        let app = self.core.app()?;
        let sent = self
            .runtime
            .block_on(async { app.send_text_to_number(&number, &text).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(sent_text(sent))
    }

    /// Hands in an MMS the phone received and downloaded: its text and its
    /// parts, stored in the sender's plain thread (`IncomingSms.Plain`).
    /// Throws `InvalidInput` for an MMS over 4 MiB or a sender that is no
    /// number.
    pub fn mms_received(
        &self,
        sender: String,
        text: String,
        attachments: Vec<MmsAttachment>,
    ) -> Result<IncomingSms> {
        let attachments = attachments.into_iter().map(core_attachment).collect();
        let (phone, id) = self.core.app()?.mms_received(&sender, &text, attachments)?;
        Ok(IncomingSms::Plain {
            phone: phone.as_str().to_owned(),
            plain_id: id,
        })
    }

    /// Stores an MMS the user sends to `number` (text and attachments) in
    /// the plain thread as pending and returns its `plainId`. The app
    /// encodes the `m-send-req`, sends it with `SmsManager`, and reports
    /// the outcome with `reportMmsStatus`; an MMS never enters
    /// `takeOutgoingSms`. Throws `InvalidInput` for an MMS with neither text
    /// nor attachments, over 4 MiB, or to no valid number.
    pub fn send_plain_mms(
        &self,
        number: String,
        text: String,
        attachments: Vec<MmsAttachment>,
    ) -> Result<i64> {
        let attachments = attachments.into_iter().map(core_attachment).collect();
        let (_, id) = self
            .core
            .app()?
            .send_plain_mms(&number, &text, attachments)?;
        Ok(id)
    }

    /// Reports what became of an MMS from `sendPlainMms`: `SENT` (the
    /// carrier's MMS centre took it), `DELIVERED`, or `FAILED`. Returns
    /// whether its state changed (states only move forward; false for an id
    /// that is no outgoing message).
    pub fn report_mms_status(&self, plain_id: i64, status: SmsStatus) -> Result<bool> {
        let status = match status {
            SmsStatus::Sent => app::SmsStatus::Sent,
            SmsStatus::Delivered => app::SmsStatus::Delivered,
            SmsStatus::Failed => app::SmsStatus::Failed,
        };
        Ok(self.core.app()?.report_mms_status(plain_id, status)?)
    }

    /// The attachments of a plain message (an MMS), in order.
    pub fn plain_attachments(&self, plain_id: i64) -> Result<Vec<MmsAttachment>> {
        Ok(self
            .core
            .app()?
            .plain_attachments(plain_id)?
            .into_iter()
            .map(|a| MmsAttachment {
                mime: a.mime,
                data: a.data,
            })
            .collect())
    }

    /// Imports a batch of the phone's SMS/MMS history into the plain
    /// threads, in one transaction (call it with batches of a few hundred).
    /// Safe to repeat.
    pub fn import_sms_history(&self, items: Vec<HistoryItem>) -> Result<ImportReport> {
        let items: Vec<_> = items
            .into_iter()
            .map(|item| sotto_core::sms::plain::HistoryItem {
                external_id: item.external_id,
                address: item.address,
                direction: if item.outgoing {
                    Direction::Outgoing
                } else {
                    Direction::Incoming
                },
                body: item.body,
                at_ms: item.at_ms,
                state: core_plain_state(item.state),
                attachments: item.attachments.into_iter().map(core_attachment).collect(),
            })
            .collect();
        let report = self.core.app()?.import_sms_history(&items)?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(ImportReport {
            imported: count(report.imported),
            already_there: count(report.already_there),
            unreadable_address: count(report.unreadable_address),
        })
    }

    /// Every plain thread, most recent first, with its unread count.
    pub fn plain_threads(&self) -> Result<Vec<PlainThread>> {
        let app = self.core.app()?;
        app.plain_threads()?
            .into_iter()
            .map(|thread| {
                let unread = app.plain_unread_count(&thread.phone)?;
                Ok(PlainThread {
                    phone: thread.phone.as_str().to_owned(),
                    last_at_ms: thread.last_at_ms,
                    messages: thread.messages,
                    unread_count: u32::try_from(unread).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Marks a plain thread read (its unread count drops to 0; plain SMS
    /// have no read receipts). Returns how many were unread. Throws
    /// `InvalidInput` for no valid number.
    pub fn mark_plain_thread_read(&self, phone: String) -> Result<u32> {
        let app = self.core.app()?;
        let phone = app.parse_phone(&phone)?;
        let count = app.mark_plain_thread_read(&phone)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// One page of a plain thread: the newest `limit` messages before
    /// `before_ms` (null: the newest), newest first.
    pub fn plain_messages(
        &self,
        phone: String,
        limit: u32,
        before_ms: Option<u64>,
    ) -> Result<Vec<PlainMessage>> {
        let app = self.core.app()?;
        let phone = app.parse_phone(&phone)?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(app
            .plain_messages(&phone, limit, before_ms)?
            .into_iter()
            .map(|m| PlainMessage {
                id: m.id,
                phone: m.phone.as_str().to_owned(),
                outgoing: m.direction == Direction::Outgoing,
                body: m.body,
                parts: m.parts,
                at_ms: m.at_ms,
                state: plain_state(m.state),
                attachment_count: m.attachment_count,
            })
            .collect())
    }

    /// The SMS settings.
    pub fn sms_settings(&self) -> Result<SmsSettings> {
        let settings = self.core.app()?.sms_settings()?;
        Ok(SmsSettings {
            never_encrypted_sms: settings.policy.never_encrypted_sms,
            sms_only: settings.policy.sms_only,
            region: settings.region,
            data_sms: settings.data_sms,
        })
    }

    /// Saves the SMS settings (data SMS takes effect when the account is
    /// next opened). Throws `InvalidInput` for an unknown region.
    pub fn set_sms_settings(&self, settings: SmsSettings) -> Result<()> {
        Ok(self.core.app()?.save_sms_settings(&CoreSettings {
            policy: TransportPolicy {
                never_encrypted_sms: settings.never_encrypted_sms,
                sms_only: settings.sms_only,
            },
            region: settings.region,
            data_sms: settings.data_sms,
        })?)
    }

    /// Sets the disappearing-messages timer of a conversation in seconds
    /// (0 turns it off) and tells the contact, by the route a text would
    /// take. Throws `NotDeliverable` for a contact not on Sotto.
    pub fn set_disappearing_timer(&self, contact_id: String, seconds: u32) -> Result<()> {
        let app = self.core.app()?;
        let contact = ContactId::from_string(contact_id);
        self.runtime
            .block_on(async { app.set_disappearing_timer(&contact, seconds).await })??;
        announce_waiting_sms(&self.core, &app);
        Ok(())
    }

    /// The public key SMS are sealed to while the account is locked
    /// (`sealForLockedInbox`), made on first use. Keep it in a file beside
    /// the database, readable while locked: it opens nothing.
    pub fn locked_inbox_key(&self) -> Result<Vec<u8>> {
        Ok(self.core.app()?.locked_inbox_key()?)
    }

    /// Opens one record sealed to `lockedInboxKey` while the account was
    /// locked. Throws `Undecryptable` for a damaged record or one sealed to
    /// another key.
    pub fn open_locked_inbox(&self, sealed: Vec<u8>) -> Result<Vec<u8>> {
        let record = self.core.app()?.open_locked_inbox(&sealed)?;
        Ok(record.to_vec())
    }

    /// The numbers whose hello or first encrypted message waits for the
    /// user (`IncomingSms.StrangerWaiting`).
    pub fn sms_strangers_waiting(&self) -> Result<Vec<String>> {
        let waiting = self.core.app()?.sms_strangers_waiting()?;
        Ok(waiting.iter().map(|p| p.as_str().to_owned()).collect())
    }

    /// The user agrees to talk to `number` by Sotto: its hello is answered
    /// (its thread stays plain until the handshake completes), or its
    /// first message is taken; the contact is created as `name`. Returns
    /// what that turned out to be (`Handshake`, or `Encrypted` for a first
    /// message). Throws `UnknownContact` when nothing waits from `number`.
    pub fn accept_sms_stranger(&self, number: String, name: String) -> Result<IncomingSms> {
        let app = self.core.app()?;
        let received = app.accept_sms_stranger(&number, &name)?;
        Ok(self.after_sms(&app, received))
    }

    /// Forgets what `number` sent, without answering or storing it.
    pub fn decline_sms_stranger(&self, number: String) -> Result<()> {
        Ok(self.core.app()?.decline_sms_stranger(&number)?)
    }

    /// The new identity keys offered in the contact's name (after
    /// `IdentityChanged`), oldest first, each with the safety number to
    /// show: the screen compares the offered key, never the trusted one.
    /// More than one is a conflict to show as an alert.
    pub fn offered_identities(&self, contact_id: String) -> Result<Vec<OfferedIdentity>> {
        let contact = ContactId::from_string(contact_id);
        let offered = self.core.app()?.offered_identities(&contact)?;
        Ok(offered.into_iter().map(OfferedIdentity::from).collect())
    }

    /// Trusts `identity_key`, the offered key whose safety number the user
    /// compared (`offeredIdentities`), and decrypts the texts held for it;
    /// returns them, oldest first (each is also published as
    /// `MessageReceived`). The new key is not verified. Throws
    /// `InvalidInput` when that key is not offered, and
    /// `UntrustedIdentity` while another key is offered too (it may have
    /// come after the user looked).
    pub fn trust_new_identity(
        &self,
        contact_id: String,
        identity_key: Vec<u8>,
    ) -> Result<Vec<Message>> {
        let app = self.core.app()?;
        let contact = ContactId::from_string(contact_id);
        let key = crate::account_core::parse_identity(&identity_key)?;
        let mut released = Vec::new();
        for result in app.accept_new_identity(&contact, &key)? {
            match result {
                Ok(sotto_core::messaging::Received::Text(message)) => {
                    let transport = app.text_transports(&contact, &[message.id])?;
                    let transport = transport.into_iter().next().unwrap_or_default();
                    let message = Message::from(message).with_transport(transport);
                    self.core.events().emit(AccountEvent::MessageReceived {
                        message: message.clone(),
                        new_contact: false,
                    });
                    released.push(message);
                }
                Ok(_) => {}
                // One held envelope that cannot be read is dropped; the
                // others are still released.
                Err(error) => {
                    tracing::warn!(%error, "a held message could not be decrypted");
                }
            }
        }
        Ok(released)
    }

    /// Drops, undecrypted, the texts held under `identity_key`: an offered
    /// key whose safety number did not match the contact's phone. Returns
    /// how many were dropped.
    pub fn reject_new_identity(&self, contact_id: String, identity_key: Vec<u8>) -> Result<u32> {
        let contact = ContactId::from_string(contact_id);
        let key = crate::account_core::parse_identity(&identity_key)?;
        let dropped = self.core.app()?.reject_new_identity(&contact, &key)?;
        Ok(u32::try_from(dropped).unwrap_or(u32::MAX))
    }

    /// How many received texts of the conversation are unread (since the
    /// last `markConversationRead`).
    pub fn unread_count(&self, contact_id: String) -> Result<u32> {
        let contact = ContactId::from_string(contact_id);
        let count = self.core.app()?.unread_count(&contact)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Marks the whole conversation read: its unread count drops to 0 and
    /// the contact gets a read receipt if read receipts are on. Returns how
    /// many texts were unread.
    pub fn mark_conversation_read(&self, contact_id: String) -> Result<u32> {
        let contact = ContactId::from_string(contact_id);
        let count = self.core.app()?.mark_conversation_read(&contact)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// How many texts from the contact wait, undecrypted, for
    /// `trustNewIdentity`.
    pub fn held_message_count(&self, contact_id: String) -> Result<u32> {
        let contact = ContactId::from_string(contact_id);
        let count = self.core.app()?.held_message_count(&contact)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Takes back the verified mark of a contact (the safety number must be
    /// compared again).
    pub fn clear_contact_verified(&self, contact_id: String) -> Result<()> {
        let contact = ContactId::from_string(contact_id);
        Ok(self.core.app()?.clear_verified(&contact)?)
    }

    /// The SOCKS5 proxy the relay is reached through (`host:port` of Tor or
    /// Orbot, such as `127.0.0.1:9050`), or null for a direct connection.
    pub fn socks5_proxy(&self) -> Result<Option<String>> {
        Ok(self
            .core
            .app()?
            .settings()
            .socks5
            .map(|proxy| proxy.to_string()))
    }

    /// Sets (or with null clears) the SOCKS5 proxy; it applies from the
    /// next `connect`. Throws `InvalidInput` unless it is an IP address and
    /// port.
    pub fn set_socks5_proxy(&self, proxy: Option<String>) -> Result<()> {
        let app = self.core.app()?;
        let socks5 = proxy
            .map(|text| {
                text.trim().parse().map_err(|_| {
                    SottoError::InvalidInput("the proxy must be an IP address and a port")
                })
            })
            .transpose()?;
        app.update_settings(|settings| settings.socks5 = socks5)?;
        Ok(())
    }
}

impl Account {
    /// Publishes what the app should hear about an incoming SMS, and the
    /// SMS it made waiting.
    fn after_sms(&self, app: &Arc<app::Account>, received: SmsReceived) -> IncomingSms {
        let incoming = match received {
            SmsReceived::Plain { phone, id } => IncomingSms::Plain {
                phone: phone.as_str().to_owned(),
                plain_id: id,
            },
            SmsReceived::Text { message, .. } => {
                let message = Message::from(message).with_transport(TextTransport {
                    by_sms: true,
                    sms_failed: false,
                });
                self.core.events().emit(AccountEvent::MessageReceived {
                    message: message.clone(),
                    new_contact: false,
                });
                IncomingSms::Encrypted { message }
            }
            SmsReceived::Handshake {
                contact,
                session_ready,
            } => IncomingSms::Handshake {
                contact_id: contact.as_str().to_owned(),
                session_ready,
            },
            SmsReceived::IdentityChanged { contact } => {
                let contact_id = contact.as_str().to_owned();
                self.core.events().emit(AccountEvent::IdentityChanged {
                    contact_id: contact_id.clone(),
                });
                IncomingSms::IdentityChanged { contact_id }
            }
            SmsReceived::TimerChanged { contact, seconds } => {
                self.core
                    .events()
                    .emit(AccountEvent::DisappearingTimerChanged {
                        contact_id: contact.as_str().to_owned(),
                        seconds,
                    });
                IncomingSms::Control
            }
            SmsReceived::GroupText { message } => {
                let message = GroupMessage::from(message);
                self.core.events().emit(AccountEvent::GroupMessageReceived {
                    message: message.clone(),
                });
                IncomingSms::Group {
                    group_id: message.group_id.clone(),
                    message: Some(message),
                }
            }
            SmsReceived::GroupChanged { group } => {
                let group_id = group_id_text(&group);
                self.core.events().emit(AccountEvent::GroupChanged {
                    group_id: group_id.clone(),
                    change: None,
                });
                IncomingSms::Group {
                    group_id,
                    message: None,
                }
            }
            SmsReceived::StrangerWaiting { phone } => IncomingSms::StrangerWaiting {
                phone: phone.as_str().to_owned(),
            },
            SmsReceived::PartOfEncrypted => IncomingSms::PartOfEncrypted,
            SmsReceived::Control => IncomingSms::Control,
            SmsReceived::Unusable => IncomingSms::Unusable,
        };
        announce_waiting_sms(&self.core, app);
        incoming
    }
}

/// Publishes `OutgoingSmsWaiting` to `core`'s listeners when SMS wait to be
/// taken (after an SMS came in, a text was sent, or the connection queued
/// call signals for a contact reachable only by SMS).
pub(crate) fn announce_waiting_sms(core: &AccountCore, app: &app::Account) {
    match app.sms_to_take() {
        Ok(0) => {}
        Ok(count) => core.events().emit(AccountEvent::OutgoingSmsWaiting {
            count: u32::try_from(count).unwrap_or(u32::MAX),
        }),
        Err(error) => tracing::warn!(%error, "could not count the waiting SMS"),
    }
}

/// Seals `record` (an SMS the phone received while the account is locked,
/// as the app encodes it) to the account's `lockedInboxKey`, for the spool
/// file that waits for the next unlock. Needs no open account. HPKE (RFC
/// 9180: X25519, HKDF-SHA256, AES-256-GCM): only the unlocked account opens
/// it. Throws `InvalidInput` for a malformed key or a record over 256 KiB.
#[uniffi::export]
pub fn seal_for_locked_inbox(public_key: Vec<u8>, record: Vec<u8>) -> Result<Vec<u8>> {
    Ok(sotto_core::seal_for_locked_inbox(&public_key, &record)?)
}
