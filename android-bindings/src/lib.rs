//! `sotto-ffi`: the UniFFI surface of the Sotto core, for the Android app
//! (Kotlin) and later iOS. `docs/ffi.md` describes it for the app's authors.
//!
//! The surface is coarse: a few objects with blocking methods, plain
//! records, one error enum, and events through a listener interface. The
//! async runtime belongs to this crate (one per open account); audio and
//! packets never cross it.
//!
//! - [`account`]: the exported `Account`, a thin shell over
//!   `account_core::AccountCore`, which does the work with the core;
//! - [`events`]: `AccountEvent`, the `AccountListener` the app implements,
//!   and `Subscription`;
//! - [`error`]: `SottoError` and the one mapping from the core's errors;
//! - [`records`]: the plain values (options, safety numbers, contacts,
//!   messages);
//! - [`sms`]: the SMS bridge (incoming SMS, the outgoing queue, routed
//!   sending, plain threads) and the per-conversation calls (timer, trust,
//!   proxy), as a second exported block of `Account`, and [`sms_records`]
//!   its plain values;
//! - [`calls`]: encrypted calls (place, answer, reject, hang up, mute,
//!   speaker, status) as a third exported block of `Account`, and
//!   [`call_records`] their plain values (the audio spec, phases, end
//!   reasons, stats);
//! - [`call_log`]: the call log (a page, delete one, clear) as a fourth
//!   exported block of `Account`;
//! - [`groups`]: encrypted group conversations (create, members, leave,
//!   texts) as a fifth exported block of `Account`, and [`group_records`]
//!   their plain values;
//! - [`receipts`]: the receipt settings, a sixth exported block;
//! - `relay_link`: the relay connection, run on the account's runtime, and
//!   its events (call events included).
//!
//! The Kotlin bindings are generated from the built library by
//! `scripts/kotlin-test.sh` (uniffi-bindgen in library mode) and never
//! edited by hand.

#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod account;
mod account_core;
pub mod automatic_sms;
pub mod call_log;
pub mod call_records;
pub mod calls;
pub mod error;
pub mod events;
pub mod group_records;
pub mod groups;
pub mod receipts;
pub mod records;
mod relay_link;
mod runtime;
pub mod sms;
pub mod sms_records;

pub use account::Account;
pub use call_log::CallLogEntry;
pub use call_records::{CallAudioSpec, CallEndReason, CallPath, CallPhase, CallStats, CallStatus};
pub use error::SottoError;
pub use events::{AccountEvent, AccountListener, ListenerError, Subscription};
pub use group_records::{GroupInfo, GroupMessage, GroupSentText, GroupUpdate};
pub use records::{
    AccountOptions, ContactSummary, ConversationSummary, DeliveryState, MaintenanceReport, Message,
    OfferedIdentity, SafetyNumber,
};

uniffi::setup_scaffolding!();
