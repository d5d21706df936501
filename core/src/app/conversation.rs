//! Per-conversation settings and trust that the facade offers beside
//! sending: the disappearing-messages timer (told to the contact over the
//! route a text would take) and taking back a verification.

use std::time::SystemTime;

use super::Account;
use crate::error::{Error, Result};
use crate::history;
use crate::session;
use crate::sms::Route;
use crate::store::{in_transaction, ContactId, SottoStore};

impl Account {
    /// [`Error::UntrustedIdentity`] while the contact's new identity key
    /// waits for the user ([`Account::accept_new_identity`]): a text now
    /// would go to the old key, whose owner may be gone.
    pub(crate) fn refuse_if_identity_changed(&self, contact: &ContactId) -> Result<()> {
        session::refuse_while_key_offered(&*self.shared.store(), contact)
    }

    /// Sets the conversation's disappearing-messages timer in seconds (0
    /// turns it off) and tells the contact, by the relay or by encrypted
    /// SMS as a text would go. Texts stored from now on disappear `seconds`
    /// after they were stored.
    pub async fn set_disappearing_timer(&self, contact: &ContactId, seconds: u32) -> Result<()> {
        self.refuse_if_identity_changed(contact)?;
        let route = self.route_to(contact)?;
        if matches!(route, Route::Relay | Route::RelayWhenOnline) {
            self.ensure_session(contact).await?;
        }
        if !route.encrypted() {
            return Err(Error::NoRoute("the contact is not on Sotto"));
        }
        let outgoing = history::set_expiration_timer(
            &mut *self.shared.store(),
            contact,
            seconds,
            SystemTime::now(),
            &mut rand::rng(),
        )?;
        match route {
            Route::EncryptedSms => self.carry_by_sms(contact, &outgoing),
            _ => {
                self.shared.outbox_changed.notify_one();
                Ok(())
            }
        }
    }

    /// The conversation's disappearing-messages timer in seconds (0: off).
    pub fn disappearing_timer(&self, contact: &ContactId) -> Result<u32> {
        let store = self.shared.store();
        if store.contact(contact)?.is_none() {
            return Err(Error::UnknownContact);
        }
        Ok(store.conversation_settings(contact)?.expire_timer_secs)
    }

    /// Takes back the verification of the contact's safety number (the
    /// user is no longer sure it was compared).
    pub fn clear_verified(&self, contact: &ContactId) -> Result<()> {
        in_transaction(&mut *self.shared.store(), |store| {
            if store.identity_record(contact)?.is_none() {
                return Err(Error::UnknownContact);
            }
            store.set_identity_verified(contact, false)
        })
    }

    /// How many received texts of the conversation the user has not read
    /// ([`Account::mark_conversation_read`]).
    pub fn unread_count(&self, contact: &ContactId) -> Result<usize> {
        let store = self.shared.store();
        if store.contact(contact)?.is_none() {
            return Err(Error::UnknownContact);
        }
        store.unread_count(contact)
    }

    /// How many texts from the contact wait, undecrypted, for the user to
    /// accept their new identity key ([`Account::accept_new_identity`]).
    pub fn held_message_count(&self, contact: &ContactId) -> Result<usize> {
        Ok(self.shared.store().held_envelopes(contact)?.len())
    }

    /// Marks every text of the conversation read: unread counts drop to 0,
    /// and the contact gets a read receipt for the texts that were unread
    /// if read receipts are on. Returns how many were unread.
    pub fn mark_conversation_read(&self, contact: &ContactId) -> Result<usize> {
        let unread = {
            let mut store = self.shared.store();
            if store.contact(contact)?.is_none() {
                return Err(Error::UnknownContact);
            }
            in_transaction(&mut *store, |store| store.mark_all_read(contact))?
        };
        let count = unread.len();
        self.mark_read(contact, unread)?;
        Ok(count)
    }
}
