//! Which way a text goes from the app facade: the conversation of a phone
//! number, sending to a contact by the route [`choose_route`] picks (relay,
//! encrypted SMS, relay later), plain SMS to numbers not on Sotto, and
//! carrying other envelopes (a timer change) by SMS.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::super::{Account, Reach, Shared};
use super::{commit_step, queue_step, SmsSettings};
use crate::error::{Error, Result};
use crate::message::MessageId;
use crate::messaging::Outgoing;
use crate::millis;
use crate::sms::plain;
use crate::sms::route::{on_sotto, route_facts};
use crate::sms::{choose_route, PhoneNumber, Route, Step};
use crate::store::{in_transaction, ContactId, NewQueuedSms, SottoStore};

/// Where a conversation with a phone number lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberConversation {
    /// The number belongs to a Sotto contact: their conversation.
    Contact(ContactId),
    /// Nobody on Sotto has it: the plain-SMS thread of the number.
    Plain(PhoneNumber),
}

/// How a text was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentText {
    /// Encrypted and stored in the contact's conversation; it went or goes
    /// by `route` ([`Route::Relay`], [`Route::RelayWhenOnline`] or
    /// [`Route::EncryptedSms`]).
    Encrypted {
        /// The way it travels.
        route: Route,
        /// Its id in the conversation.
        message_id: MessageId,
    },
    /// A plain SMS, stored in the number's thread and marked unencrypted.
    Plain {
        /// Its row in the plain-SMS model.
        id: i64,
    },
}

impl Account {
    /// The conversation with `number`: the Sotto contact who has it, or
    /// its plain-SMS thread. A number stays a plain thread until its
    /// contact is on Sotto: a key is trusted for them and no SMS handshake
    /// still waits for the number to show it holds that key.
    pub fn conversation_for_number(&self, number: &str) -> Result<NumberConversation> {
        let phone = self.parse_phone(number)?;
        let store = self.shared.store();
        Ok(match store.contact_by_phone(&phone)? {
            Some(contact) if on_sotto(&*store, &contact)? => NumberConversation::Contact(contact),
            _ => NumberConversation::Plain(phone),
        })
    }

    /// Records `number` (E.164) as the phone number of a contact, such as
    /// one added by invite, so that texts can go by encrypted SMS when the
    /// relay is out of reach, and SMS from the number reach the contact's
    /// conversation. A number that was another contact's moves to this one.
    pub fn link_contact_phone(&self, contact: &ContactId, number: &str) -> Result<()> {
        let phone = self.parse_phone(number)?;
        if !phone.is_e164() {
            return Err(Error::InvalidPhoneNumber);
        }
        in_transaction(&mut *self.shared.store(), |store| {
            if store.contact(contact)?.is_none() {
                return Err(Error::UnknownContact);
            }
            store.link_phone(&phone, contact)
        })
    }

    /// The phone numbers known for a contact.
    pub fn contact_phones(&self, contact: &ContactId) -> Result<Vec<PhoneNumber>> {
        self.shared.store().phones_of(contact)
    }

    /// Sends a text to `number`: encrypted to the Sotto contact who has it
    /// ([`Account::send_text_routed`]), else as a plain SMS.
    pub async fn send_text_to_number(&self, number: &str, text: &str) -> Result<SentText> {
        match self.conversation_for_number(number)? {
            NumberConversation::Contact(contact) => self.send_text_routed(&contact, text).await,
            NumberConversation::Plain(phone) => self.send_plain_sms(&phone, text),
        }
    }

    /// Sends a text to a contact by the route [`choose_route`] picks: the
    /// relay when the contact has one and the relay connection is up,
    /// encrypted SMS when we have their number, the relay later when
    /// neither works now, all within the user's [`crate::sms::TransportPolicy`]. A
    /// contact on Sotto is never downgraded to plain SMS here.
    pub async fn send_text_routed(&self, contact: &ContactId, text: &str) -> Result<SentText> {
        self.refuse_if_identity_changed(contact)?;
        let route = self.route_to(contact)?;
        let message_id = match route {
            Route::Relay | Route::RelayWhenOnline => self.send_text(contact, text).await?,
            Route::EncryptedSms => {
                let mut guard = self.endpoint()?;
                let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
                let now = SystemTime::now();
                let mut store = self.shared.store();
                let step = endpoint.send_text(&mut *store, contact, text, now, &mut rand::rng())?;
                let texts = commit_step(&mut store, &step, now, endpoint)?;
                texts
                    .into_iter()
                    .next()
                    .ok_or(Error::NoRoute("the text was not queued"))?
            }
            Route::PlainSms | Route::PlainMms => {
                let phone = self
                    .contact_phones(contact)?
                    .into_iter()
                    .next()
                    .ok_or(Error::NoRoute("no phone number for a plain SMS"))?;
                return self.send_plain_sms(&phone, text);
            }
        };
        Ok(SentText::Encrypted { route, message_id })
    }

    /// The route a text to `contact` would take now.
    pub fn route_to(&self, contact: &ContactId) -> Result<Route> {
        if self.contact(contact)?.reach != Reach::OurRelay {
            // A relay other than ours cannot be reached yet (no federation).
            return route_with(&self.shared, contact, false);
        }
        route_with(&self.shared, contact, true)
    }

    /// Stores a plain SMS to `phone` and queues it, in one commit: a crash
    /// leaves either both or neither.
    pub fn send_plain_sms(&self, phone: &PhoneNumber, text: &str) -> Result<SentText> {
        let now = SystemTime::now();
        let id = in_transaction(&mut *self.shared.store(), |store| {
            let outgoing = plain::send_sms(store, phone, text, now)?;
            let batch = store.sms_queue_new_batch()?;
            store.sms_queue_push(&NewQueuedSms {
                batch,
                to: phone,
                data_port: None,
                body: text.as_bytes(),
                encrypted: false,
                plain_message: Some(outgoing.id),
                at_ms: millis(now),
            })?;
            Ok(outgoing.id)
        })?;
        Ok(SentText::Plain { id })
    }

    /// Sends an envelope already queued by the messaging layer (a timer
    /// change, say) to `contact` by encrypted SMS instead of the relay.
    pub(crate) fn carry_by_sms(&self, contact: &ContactId, outgoing: &Outgoing) -> Result<()> {
        carry_by_sms(&self.shared, contact, outgoing)
    }
}

/// [`Account::route_to`] for the facade's tasks (the call shell), which
/// hold the shared state rather than the account.
pub(crate) fn route_to(shared: &Shared, contact: &ContactId) -> Result<Route> {
    let our_relay = {
        let store = shared.store();
        let stored = store.contact(contact)?.ok_or(Error::UnknownContact)?;
        stored.relay == Some(shared.settings().relay)
    };
    route_with(shared, contact, our_relay)
}

/// The route to `contact`; `our_relay`: whether their relay is ours (a
/// relay other than ours cannot be reached yet: no federation).
fn route_with(shared: &Shared, contact: &ContactId, our_relay: bool) -> Result<Route> {
    let data_up = shared.online.load(Ordering::Acquire);
    let (mut facts, policy) = {
        let store = shared.store();
        (
            route_facts(&*store, contact, data_up)?,
            SmsSettings::load(&store)?.policy,
        )
    };
    if facts.has_relay && !our_relay {
        facts.has_relay = false;
    }
    choose_route(&facts, &policy)
}

/// [`Account::carry_by_sms`] for the facade's tasks.
pub(crate) fn carry_by_sms(
    shared: &Shared,
    contact: &ContactId,
    outgoing: &Outgoing,
) -> Result<()> {
    let phone = shared
        .store()
        .phones_of(contact)?
        .into_iter()
        .next()
        .ok_or(Error::NoRoute("the contact has no phone number"))?;
    let mut guard = super::endpoint(shared)?;
    let endpoint = guard.as_mut().ok_or(Error::NoAccount)?;
    let now = SystemTime::now();
    let mut step = Step::default();
    let mut store = shared.store();
    // Under the endpoint's lock: an entry another caller carried meanwhile
    // (a tick, a group operation) is gone from the outbox and must not go
    // out twice.
    if !store.outbox_contains(outgoing.outbox_id)? {
        return Ok(());
    }
    endpoint.send_outgoing(&mut *store, &phone, outgoing, now, &mut step)?;
    queue_step(&mut store, &step, now).map(drop)
}

/// Sends by encrypted SMS what the outbox holds for contacts who are not on
/// this account's relay but have a phone number: group states, sender keys
/// and the 1:1 copies of group texts for such members. The relay agent
/// would only offer them to a relay that does not know the recipient, again
/// at every flush. Entries for contacts without any route stay where they
/// are (and fail at the relay, visibly), and so does an entry that cannot
/// be carried (too long for SMS, say): it is logged and the others still
/// go. Returns how many went by SMS.
pub(crate) fn carry_outbox_by_sms(shared: &Shared) -> Result<usize> {
    let our_relay = shared.settings().relay;
    let waiting: Vec<_> = {
        let store = shared.store();
        let mut waiting = Vec::new();
        for entry in store.outbox()? {
            let Some(contact) = store.contact(&entry.contact)? else {
                continue;
            };
            if contact.relay.as_ref() != Some(&our_relay)
                && !store.phones_of(&entry.contact)?.is_empty()
            {
                waiting.push(entry);
            }
        }
        waiting
    };
    let mut carried = 0;
    for entry in waiting {
        if !matches!(
            route_with(shared, &entry.contact, false),
            Ok(Route::EncryptedSms)
        ) {
            continue; // The user's policy keeps Sotto texts off SMS.
        }
        let outgoing = Outgoing {
            outbox_id: entry.id,
            message_id: entry.message_id,
            envelope: entry.envelope,
        };
        match carry_by_sms(shared, &entry.contact, &outgoing) {
            Ok(()) => carried += 1,
            Err(error) => tracing::warn!(%error, "an outbox entry could not go by SMS"),
        }
    }
    Ok(carried)
}
