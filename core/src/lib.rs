//! `sotto-core`: Sotto's identity, Signal-protocol sessions, message format
//! and encrypted store.
//!
//! The protocol layer is free functions over a [`SottoStore`], a clock value
//! and an RNG, as in libsignal; it does no I/O of its own. Storage is the
//! [`SottoStore`] trait with an in-memory and an SQLCipher implementation.
//!
//! - [`prekeys`]: the account, prekey rotation and our own bundles;
//! - [`session`]: starting sessions from a contact's bundle, trust;
//! - [`messaging`]: sending and receiving, one transaction per message;
//! - [`groups`]: group conversations with libsignal sender keys;
//! - [`safety`]: safety numbers;
//! - [`history`]: disappearing messages and "keep no history";
//! - [`message`]: the wire format; [`padding`]: length hiding;
//! - [`relay`]: the relay protocol, sealed sender and the TLS client;
//! - [`call`]: call signalling, call keys, the call state machine and the
//!   media path (direct UDP or TURN).
//! - [`sms`]: encrypted SMS, the discovery handshake, transport choice and
//!   the plain-SMS model.
//! - [`app`]: the application facade clients wrap (an `Account` with its
//!   store, settings, contacts and relay connection).

#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod app;
mod bundle;
pub mod call;
mod error;
pub mod groups;
pub mod history;
mod locked_inbox;
pub mod message;
pub mod messaging;
pub mod padding;
pub mod prekeys;
pub mod relay;
pub mod safety;
pub mod session;
mod signal_views;
pub mod sms;
pub mod store;

use std::time::{SystemTime, UNIX_EPOCH};

pub use bundle::{decode_bundle, encode_bundle};
pub use error::{Error, Result};
pub use libsignal_protocol::{IdentityKey, PreKeyBundle};
pub use locked_inbox::seal as seal_for_locked_inbox;

/// The libsignal device id of every Sotto account (one device per account).
pub const DEVICE_ID: libsignal_protocol::DeviceId = match libsignal_protocol::DeviceId::new(1) {
    Ok(id) => id,
    Err(_) => panic!("1 is a valid device id"),
};

/// The libsignal address of a contact: its opaque local id and our one device.
pub(crate) fn address_of(contact: &store::ContactId) -> libsignal_protocol::ProtocolAddress {
    libsignal_protocol::ProtocolAddress::new(contact.as_str().to_owned(), DEVICE_ID)
}

/// Runs a libsignal future to completion. Our stores never suspend, so this
/// never blocks on anything but the store call itself.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub(crate) fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
