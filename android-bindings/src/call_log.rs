//! The call log, as a fourth exported block of `Account`: read it a page
//! at a time, delete one entry, clear it. The core's call shell writes it
//! (`sotto_core::app::CallLogEntry`), so it needs no `connect()`; a client
//! reloads it after `CallEnded` or `CallMissed`.

use std::collections::HashMap;

use sotto_core::app::{self, CallDirection};

use crate::account::Account;
use crate::call_records::{call_id_text, CallEndReason, CallPath};
use crate::error::Result;

/// One call in the log.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct CallLogEntry {
    /// The entry's id, for `deleteCallLogEntry`.
    pub id: i64,
    /// The call's id (32 hex digits); null for a call that was never rung.
    pub call_id: Option<String>,
    /// The contact on the other end.
    pub contact_id: String,
    /// The contact's name now; null if the contact is gone.
    pub contact_name: Option<String>,
    /// Whether this phone placed the call.
    pub outgoing: bool,
    /// When it started ringing (or was refused), ms since the Unix epoch.
    pub started_at_ms: u64,
    /// When media first flowed; null if the call never connected.
    pub connected_at_ms: Option<u64>,
    /// When it ended.
    pub ended_at_ms: u64,
    /// How long it was connected, in ms (0 if it never was).
    pub duration_ms: u64,
    /// Why it ended; null for a call never rung (`whileBusy`, or an offer
    /// that came too late).
    pub end_reason: Option<CallEndReason>,
    /// The media path, if media ran.
    pub path: Option<CallPath>,
    /// An incoming call nobody answered here (timed out, the caller gave
    /// up, or never rung). A declined call is not missed.
    pub missed: bool,
    /// Not rung because another call was in progress.
    pub while_busy: bool,
    /// When the entry disappears (the contact's disappearing-messages
    /// timer after the call ended); null if it stays.
    pub expires_at_ms: Option<u64>,
}

impl std::fmt::Debug for CallLogEntry {
    // Who called and when is the user's data and stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLogEntry")
            .field("id", &self.id)
            .field("outgoing", &self.outgoing)
            .field("end_reason", &self.end_reason)
            .field("missed", &self.missed)
            .finish_non_exhaustive()
    }
}

impl CallLogEntry {
    fn new(entry: app::CallLogEntry, names: &HashMap<String, String>) -> Self {
        let contact_id = entry.contact.as_str().to_owned();
        Self {
            id: entry.id,
            call_id: entry.call_id.as_ref().map(call_id_text),
            contact_name: names.get(&contact_id).cloned(),
            contact_id,
            outgoing: entry.direction == CallDirection::Outgoing,
            started_at_ms: entry.started_at_ms,
            connected_at_ms: entry.connected_at_ms,
            ended_at_ms: entry.ended_at_ms,
            duration_ms: entry.duration_ms(),
            end_reason: entry.end_reason.map(CallEndReason::from),
            path: entry.path.map(CallPath::from),
            missed: entry.is_missed(),
            while_busy: entry.while_busy,
            expires_at_ms: entry.expires_at_ms,
        }
    }
}

#[uniffi::export]
impl Account {
    /// One page of the call log: the newest `limit` calls that started
    /// before `before_ms` (from the newest if null), newest first. For the
    /// next page pass the `startedAtMs` of the last entry returned. Calls
    /// with a contact under "keep no history" are not logged.
    pub fn call_log(&self, limit: u32, before_ms: Option<u64>) -> Result<Vec<CallLogEntry>> {
        let app = self.core.app()?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let page = app.call_log(limit, before_ms)?;
        // One lookup of the names per page, not one per entry.
        let names: HashMap<String, String> = app
            .contacts()?
            .into_iter()
            .map(|contact| (contact.id.as_str().to_owned(), contact.name))
            .collect();
        Ok(page
            .into_iter()
            .map(|entry| CallLogEntry::new(entry, &names))
            .collect())
    }

    /// Deletes one entry of the call log; returns whether it was there.
    pub fn delete_call_log_entry(&self, id: i64) -> Result<bool> {
        Ok(self.core.app()?.delete_call_log_entry(id)?)
    }

    /// Deletes the whole call log; returns how many entries went.
    pub fn clear_call_log(&self) -> Result<u32> {
        let deleted = self.core.app()?.clear_call_log(None)?;
        Ok(u32::try_from(deleted).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use sotto_core::call::{CallId, EndReason, PathKind};
    use sotto_core::store::ContactId;

    use super::*;

    fn entry(
        direction: CallDirection,
        connected: Option<u64>,
        reason: Option<EndReason>,
    ) -> app::CallLogEntry {
        app::CallLogEntry {
            id: 7,
            call_id: reason.map(|_| CallId([0xab; 16])),
            contact: ContactId::from_string("c1".into()),
            direction,
            started_at_ms: 1_000,
            connected_at_ms: connected,
            ended_at_ms: 61_000,
            end_reason: reason,
            path: connected.map(|_| PathKind::Relayed),
            while_busy: reason.is_none(),
            expires_at_ms: None,
        }
    }

    #[test]
    fn an_answered_call_has_its_duration_name_and_path() {
        let names = HashMap::from([("c1".to_owned(), "Alice".to_owned())]);
        let record = CallLogEntry::new(
            entry(
                CallDirection::Outgoing,
                Some(6_000),
                Some(EndReason::HungUpHere),
            ),
            &names,
        );
        assert!(record.outgoing);
        assert_eq!(record.contact_name.as_deref(), Some("Alice"));
        assert_eq!(record.duration_ms, 55_000);
        assert_eq!(record.path, Some(CallPath::Relayed));
        assert_eq!(record.end_reason, Some(CallEndReason::HungUpHere));
        assert_eq!(record.call_id.as_deref(), Some("ab".repeat(16).as_str()));
        assert!(!record.missed);
    }

    #[test]
    fn a_call_not_rung_is_missed_with_no_reason_and_a_gone_contact_has_no_name() {
        let record = CallLogEntry::new(entry(CallDirection::Incoming, None, None), &HashMap::new());
        assert!(record.missed && record.while_busy);
        assert_eq!(record.end_reason, None);
        assert_eq!(record.call_id, None);
        assert_eq!(record.contact_name, None);
        assert_eq!(record.duration_ms, 0);
        let declined = CallLogEntry::new(
            entry(CallDirection::Incoming, None, Some(EndReason::DeclinedHere)),
            &HashMap::new(),
        );
        assert!(!declined.missed, "a declined call is not missed");
    }
}
