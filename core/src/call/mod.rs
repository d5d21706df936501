//! Encrypted calls: signalling, keys, the call state machine, the media
//! path, and the driver that runs the voice pipeline (`sotto-voice`: Opus,
//! RTP, SRTP, jitter buffer, audio I/O) on the chosen [`MediaPath`] with
//! the [`MediaKeys`] made here.
//!
//! - [`signal`]: the `CallSignal` message (offer, answer, key reveal,
//!   candidates, hangup, busy, reject), sent and received through
//!   [`crate::messaging`] like any Sotto message;
//! - [`keys`]: the ephemeral X25519 exchange, HKDF-SHA256 to per-direction
//!   SRTP master keys and salts, and the two-word short authentication
//!   string;
//! - [`machine`]: the pure call state machine, with timeouts and glare;
//! - [`session`]: one call's key bookkeeping, from the machine's effects
//!   to signals with key material and back to keys;
//! - [`controller`]: all of it for one phone, as actions for an async
//!   shell to perform (no I/O itself);
//! - [`path`]: candidates, authenticated connectivity checks, direct UDP or
//!   TURN, and the datagram pipe;
//! - [`turn`]: TURN REST-API credentials and the TURN client allocation;
//! - [`media`]: the voice pipeline on a tokio task, fed by an audio source
//!   and the path, played out to a sink.
//!
//! `docs/calls.md` specifies the formats and the key schedule.

pub mod controller;
pub mod keys;
pub mod machine;
pub mod media;
pub mod path;
mod pgp_words;
pub mod session;
pub mod signal;
pub mod turn;

pub use controller::{Action, CallController};
pub use keys::{
    CallKeys, CallParties, CalleeHandshake, CallerHandshake, EphemeralKey, KeyCommitment,
    MediaKeys, PathKey, Sas, SrtpKeys,
};
pub use machine::{
    step, CallMachine, CallRef, CallState, CallTimeouts, Effect, EndReason, Input, Outbound, Role,
    Transition, UiEvent,
};
pub use media::{start_media, MediaHandle, MediaOutcome, MediaStatus};
pub use path::{LocalCandidates, MediaPath, PathConfig, PathKind, PathPolicy};
pub use session::{CallSession, KeyProgress};
pub use signal::{
    is_stale_offer, send_signal, CallId, CallSignal, Candidate, CandidateKind, ReceivedSignal,
    SignalKind,
};
pub use turn::{rest_credentials, rest_password, TurnAllocation, TurnCredentials, TurnServer};

use crate::error::{Error, Result};
use crate::store::{ContactId, SottoStore};

/// The identity keys of a call with `contact`, in caller/callee order for
/// `role`: ours from the account, theirs as trusted for the contact.
pub fn identities<S: SottoStore>(
    store: &S,
    contact: &ContactId,
    role: Role,
) -> Result<(
    libsignal_protocol::IdentityKey,
    libsignal_protocol::IdentityKey,
)> {
    let ours = *store
        .local_account()?
        .ok_or(Error::NoAccount)?
        .identity
        .identity_key();
    let theirs = store
        .identity_record(contact)?
        .ok_or(Error::UnknownContact)?
        .key;
    Ok(match role {
        Role::Caller => (ours, theirs),
        Role::Callee => (theirs, ours),
    })
}
