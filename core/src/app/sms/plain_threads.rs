//! The plain-SMS threads as the app facade offers them: pages of a
//! thread, received MMS with their parts, and importing the phone's
//! existing SMS/MMS history. Every plain message crossed the network
//! unencrypted, and the model says so.

use std::time::SystemTime;

use super::super::Account;
use super::SmsStatus;
use crate::error::{Error, Result};
use crate::sms::plain::{self, HistoryItem, ImportReport};
use crate::sms::PhoneNumber;
use crate::store::{Attachment, PlainMessage, PlainState, PlainThread, SottoStore};

impl Account {
    /// Every plain-SMS thread, most recent first.
    pub fn plain_threads(&self) -> Result<Vec<PlainThread>> {
        self.shared.store().plain_threads()
    }

    /// One page of a plain thread, newest first (paged as
    /// [`Account::messages`]).
    pub fn plain_messages(
        &self,
        phone: &PhoneNumber,
        limit: usize,
        before_ms: Option<u64>,
    ) -> Result<Vec<PlainMessage>> {
        self.shared.store().plain_messages(phone, limit, before_ms)
    }

    /// Hands in an MMS the phone received and downloaded (its text and its
    /// parts): stored in the plain thread of the sender, attachments as
    /// blobs in the encrypted store. Returns the thread and the row.
    pub fn mms_received(
        &self,
        sender: &str,
        text: &str,
        attachments: Vec<Attachment>,
    ) -> Result<(PhoneNumber, i64)> {
        let from = self.parse_phone(sender)?;
        let id = plain::receive_mms(
            &mut *self.shared.store(),
            &from,
            text,
            attachments,
            SystemTime::now(),
        )?;
        Ok((from, id))
    }

    /// Stores an MMS the user sends to `number` (its text and attachments,
    /// the attachments as blobs in the encrypted store) in the plain thread,
    /// pending. The app encodes and sends it itself (an MMS is no SMS: it
    /// never enters the SMS queue), then reports the outcome with
    /// [`Account::report_mms_status`]. Returns the thread and the row.
    ///
    /// [`Error::MalformedSms`] for an MMS with neither text nor
    /// attachments, [`Error::MessageTooLong`] over
    /// [`plain::MAX_MMS_BYTES`] (the limit of received MMS).
    pub fn send_plain_mms(
        &self,
        number: &str,
        text: &str,
        attachments: Vec<Attachment>,
    ) -> Result<(PhoneNumber, i64)> {
        if text.is_empty() && attachments.is_empty() {
            return Err(Error::MalformedSms("an MMS needs a text or an attachment"));
        }
        let to = self.parse_phone(number)?;
        let id = plain::send_mms(
            &mut *self.shared.store(),
            &to,
            text,
            attachments,
            SystemTime::now(),
        )?;
        Ok((to, id))
    }

    /// Records what became of an MMS from [`Account::send_plain_mms`]: sent
    /// (the carrier's MMS centre took it), delivered (a delivery report
    /// came) or failed. States only move forward, as for plain SMS.
    /// Returns whether the state changed: false for a report that would
    /// move it backwards, or for an id that is no stored outgoing message.
    pub fn report_mms_status(&self, id: i64, status: SmsStatus) -> Result<bool> {
        let state = match status {
            SmsStatus::Sent => PlainState::Sent,
            SmsStatus::Delivered => PlainState::Delivered,
            SmsStatus::Failed => PlainState::Failed,
        };
        plain::set_state(&mut *self.shared.store(), id, state)
    }

    /// The attachments of a plain message (an MMS), in order.
    pub fn plain_attachments(&self, id: i64) -> Result<Vec<Attachment>> {
        self.shared.store().plain_attachments(id)
    }

    /// Imports a batch of the phone's SMS/MMS history into the plain
    /// threads, national numbers read with the SMS region. Safe to repeat:
    /// what was imported before (by the provider's id) is skipped.
    pub fn import_sms_history(&self, items: &[HistoryItem]) -> Result<ImportReport> {
        let region = self.sms_settings()?.region;
        plain::import_history(&mut *self.shared.store(), items, &region)
    }
}
