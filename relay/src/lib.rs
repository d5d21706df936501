//! `sotto-relay`: the Sotto relay server.
//!
//! - [`storage`]: what the relay keeps (accounts, prekeys, sealed
//!   envelopes), behind a trait with an embedded SQLite implementation;
//! - [`identity`]: its TLS certificate and sealed-sender trust root;
//! - [`server`]: the TLS 1.3 server and the protocol of
//!   `docs/relay-protocol.md`;
//! - [`config`]: `relay.toml` and its defaults;
//! - [`turn`]: the embedded TURN server and the TURN credentials issued
//!   to accounts for calls.

#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod config;
pub mod identity;
pub mod server;
pub mod storage;
pub mod turn;
