//! `sotto-relay`: the Sotto relay server — sealed-sender mailbox, prekey
//! directory, call signalling and TURN media relay.
//!
//! Nothing is built here yet; issue 3 builds it. This crate exists so the
//! workspace has the layout of `DESIGN.md`, and it deliberately exports
//! nothing, so nothing can mistake it for a working relay.
