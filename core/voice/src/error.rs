//! The one error type of `sotto-voice`.
//!
//! Messages never carry key material or audio; packet errors name the
//! failed check only, so a log line cannot leak what the packet held.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the media pipeline.
#[derive(Debug, displaydoc::Display, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// the datagram is neither RTP nor RTCP (RFC 7983 first-byte rules)
    NotMedia,
    /// the packet is malformed: {0}
    Malformed(&'static str),
    /// the packet failed SRTP/SRTCP authentication (wrong key or tampered)
    AuthenticationFailed,
    /// the packet is a replay (already received, or older than the replay window)
    Replayed,
    /// the packet comes from an SSRC this session does not receive from
    UnknownSsrc,
    /// the packet's payload type is not one this session negotiated
    UnknownPayloadType,
    /// the SRTP packet index space of this key is exhausted; re-key the call
    KeyExhausted,
    /// an audio frame must be {expected} samples, got {got}
    FrameSize {
        /// samples per frame the pipeline works with
        expected: usize,
        /// samples handed in
        got: usize,
    },
    /// the configuration is invalid: {0}
    Config(&'static str),
    /// the Opus codec failed: {0}
    Codec(String),
    /// WAV file error: {0}
    Wav(String),
    /// audio device error: {0}
    Device(String),
}

impl From<opus::Error> for Error {
    fn from(e: opus::Error) -> Self {
        // libopus errors are fixed strings about codec state; no audio in them.
        Error::Codec(e.description().to_owned())
    }
}

impl From<hound::Error> for Error {
    fn from(e: hound::Error) -> Self {
        Error::Wav(e.to_string())
    }
}
