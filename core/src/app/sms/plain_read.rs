//! The read state of plain-SMS threads on the app facade: unread counts
//! for the thread list and marking a thread read, as Sotto conversations
//! have ([`Account::unread_count`], [`Account::mark_conversation_read`]).
//! Plain SMS have no read receipts, so nothing is sent. History imported
//! from the phone counts as read.

use super::super::Account;
use crate::error::Result;
use crate::sms::PhoneNumber;
use crate::store::in_transaction;

impl Account {
    /// How many SMS/MMS received in the plain thread of `phone` are unread
    /// (since the last [`Account::mark_plain_thread_read`]; imported
    /// history counts as read).
    pub fn plain_unread_count(&self, phone: &PhoneNumber) -> Result<usize> {
        self.shared.store().plain_unread_count(phone)
    }

    /// Marks the whole plain thread of `phone` read; returns how many
    /// messages were unread.
    pub fn mark_plain_thread_read(&self, phone: &PhoneNumber) -> Result<usize> {
        in_transaction(&mut *self.shared.store(), |store| {
            store.mark_plain_thread_read(phone)
        })
    }
}
