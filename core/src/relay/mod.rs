//! Talking to a Sotto relay: the wire format (shared with `sotto-relay`),
//! invites, sealed sender, and the TLS client.
//!
//! - [`wire`]: frames, the authentication challenge, the channel binding
//!   that vouches for each TLS connection, account ids. No I/O.
//! - [`invite`]: the string a relay prints for clients (address and the
//!   trust root, which roots sealed sender and, through the server key it
//!   certifies, vouches for each TLS connection to the relay).
//! - [`sealed`]: wrapping our envelopes in libsignal sealed sender, and
//!   unwrapping them, so the relay never learns who sent what.
//! - [`client`]: the TLS connection (tokio + rustls) with its requests.
//! - [`agent`]: keeps an account connected: reconnects, flushes the outbox,
//!   receives and acknowledges after commit.

pub mod agent;
pub mod client;
pub mod invite;
pub mod sealed;
pub mod wire;
