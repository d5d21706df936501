//! `sotto-ffi`: the UniFFI surface of the Sotto core for Kotlin.
//!
//! Nothing is built here yet; issue 5 builds it. This crate exists so the
//! workspace has the layout of `DESIGN.md`, and it deliberately exports
//! nothing.
