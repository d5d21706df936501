//! `sotto-voice`: the media half of a Sotto call.
//!
//! Audio frames in, protected datagrams out, and back: Opus (48 kHz mono,
//! 20 ms, in-band FEC, optional DTX) in RTP (RFC 3550, RFC 7587), with RED
//! (RFC 2198) copies while the peer reports loss, protected by SRTP/SRTCP
//! AEAD_AES_256_GCM (RFC 7714), RTCP reports driving bitrate and redundancy,
//! and an adaptive jitter buffer. The crate does no network I/O and does not
//! know the Signal session: the call layer hands it [`SrtpKeys`] and moves
//! its datagrams.
//!
//! - [`MediaSession`]: the whole pipeline of one call;
//! - [`srtp`], [`rtp`], [`rtcp`]: the wire formats;
//! - [`codec`], [`jitter`], [`adapt`]: the audio path and its control;
//! - [`impair`]: a seeded network impairment simulator for tests and
//!   benchmarks;
//! - [`audio`]: WAV, synthetic and (feature `device`) cpal audio I/O.

#![deny(unsafe_code)]
#![warn(clippy::unwrap_used)]

pub mod adapt;
pub mod audio;
pub mod codec;
mod error;
pub mod impair;
pub mod jitter;
mod keys;
pub mod rtcp;
pub mod rtp;
mod session;
pub mod srtp;

pub use error::{Error, Result};
pub use jitter::{FrameSource, JitterConfig, JitterStats};
pub use keys::{SrtpKeys, MASTER_KEY_LEN, MASTER_SALT_LEN};
pub use session::{classify, DatagramKind, MediaConfig, MediaSession, MediaStats, Received};
