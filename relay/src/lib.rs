//! `sotto-relay`: the Sotto relay server.
//!
//! - [`storage`]: what the relay keeps (accounts, prekeys, sealed
//!   envelopes), behind a trait with an embedded SQLite implementation;
//! - [`identity`]: its TLS certificate and sealed-sender trust root;
//! - [`prekeys`]: the exact form and signatures every uploaded prekey
//!   must have;
//! - [`server`]: the TLS 1.3 server and the protocol of
//!   `docs/relay-protocol.md`;
//! - [`source_address`]: connections per source address;
//! - [`config`]: `relay.toml` and its defaults;
//! - [`turn`]: the embedded TURN server and the TURN credentials issued
//!   to accounts for calls.
//! - [`serve`]: running a relay from its configuration (the `sotto-relay`
//!   binary and `sotto relay serve`);
//! - [`load`]: the load benchmark (`cargo bench --bench relay_load` and
//!   `sotto bench relay`).

#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod config;
pub mod identity;
pub mod load;
pub mod prekeys;
pub mod serve;
pub mod server;
pub mod source_address;
pub mod storage;
pub mod turn;
