//! The one error type of `sotto-core`.
//!
//! Messages never contain user data: no phone numbers, no contact ids, no
//! message text and no key material. libsignal's own errors can carry a
//! protocol address, so they are mapped here to a fixed description instead
//! of being formatted.

use libsignal_protocol::SignalProtocolError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// the database key or passphrase is wrong (or the file is not a Sotto database)
    WrongKey,
    /// the store is not a Sotto database, or it is damaged
    CorruptStore,
    /// the store was written by a newer version of Sotto (schema {0})
    StoreTooNew(u32),
    /// the store is open in another process
    StoreLocked,
    /// the passphrase salt beside the database is missing or malformed
    MissingSalt,
    /// this store is locked with a passphrase; only a store opened with a raw key can be rekeyed
    PassphraseStore,
    /// storage error: {0}
    Storage(#[from] rusqlite::Error),
    /// file error: {0}
    Io(#[from] std::io::Error),
    /// key derivation failed
    KeyDerivation,
    /// this store holds no account yet
    NoAccount,
    /// this store already holds an account
    AccountExists,
    /// this message is already stored
    AlreadyStored,
    /// no such message
    UnknownMessage,
    /// no such contact
    UnknownContact,
    /// no session with this contact yet; process their prekey bundle first
    NoSession,
    /// the contact's identity key changed; verify the new safety number and re-trust it
    UntrustedIdentity,
    /// too many messages from this contact wait for its new identity key to be trusted; this one was refused
    TooManyHeld,
    /// the prekey bundle is malformed or its signatures do not verify
    InvalidBundle,
    /// the envelope is malformed: {0}
    MalformedEnvelope(&'static str),
    /// the message could not be decrypted: {0}
    Undecryptable(&'static str),
    /// the decrypted content is malformed: {0}
    MalformedContent(&'static str),
    /// the message is too long
    MessageTooLong,
    /// the scanned safety-number code is malformed or from another version
    InvalidSafetyCode,
    /// a transaction is already open on this store
    NestedTransaction,
    /// no transaction is open on this store
    NoTransaction,
    /// the SOCKS5 proxy refused or failed to connect to the relay
    ProxyFailed,
    /// the relay invite is malformed
    InvalidInvite,
    /// the relay is not vouched for by the invite's trust root (a wrong invite, a relay older than this client, or someone in between)
    CertificateMismatch,
    /// the relay refused the request ({0})
    RelayRefused(&'static str),
    /// the relay broke the protocol: {0}
    RelayProtocol(&'static str),
    /// the sender certificate is invalid or expired
    InvalidSenderCertificate,
    /// Signal protocol error: {0}
    Protocol(&'static str),
    /// call key agreement failed: {0}
    CallKeys(&'static str),
    /// no media path to the other side of the call could be established
    NoMediaPath,
    /// the call's media pipeline failed: {0}
    Media(#[from] sotto_voice::Error),
    /// TURN failed: {0}
    Turn(&'static str),
    /// the SMS is malformed: {0}
    MalformedSms(&'static str),
    /// the phone number is not valid
    InvalidPhoneNumber,
    /// no transport may carry this message under the current policy: {0}
    NoRoute(&'static str),
    /// the contact invite is not valid: {0}
    InvalidContactInvite(&'static str),
    /// the contact name is empty, longer than 100 characters, or has control characters
    InvalidName,
    /// the locked-inbox key is malformed
    InvalidLockedInboxKey,
    /// a new session from a number whose SMS handshake is not complete; not accepted
    HandshakeIncomplete,
    /// no identity change is waiting for this contact (or not under this key)
    NoIdentityChange,
    /// more than one new identity key is offered for this contact; compare each safety number and reject the ones that do not match
    ConflictingIdentities,
    /// cannot reach the relay (is it running, and is its address right?)
    RelayUnreachable,
    /// this contact has no relay address, so no session can be started over the relay
    NoRelay,
    /// this contact receives on another relay; delivery across relays is not supported yet
    OtherRelay,
    /// the relay did not answer in time
    RelayTimeout,
    /// this account is connected already; close that connection first
    AlreadyConnected,
    /// no such group
    UnknownGroup,
    /// not a member of this group (or this account is no longer one)
    NotGroupMember,
    /// a group has at most 256 members
    TooManyMembers,
    /// no call is in a state that allows this (nothing is ringing to answer, or there is no call to hang up)
    NoSuchCall,
    /// another call is in progress; hang it up first
    CallInProgress,
    /// the connection to the relay was closed; connect again
    ConnectionClosed,
    /// calls do not go through the proxy (their media would show this device's address to the relay); turn the proxy off to call
    CallsThroughProxy,
}

impl From<SignalProtocolError> for Error {
    fn from(e: SignalProtocolError) -> Self {
        use SignalProtocolError as E;
        match e {
            E::UntrustedIdentity(_) => Error::UntrustedIdentity,
            E::SessionNotFound(_) => Error::NoSession,
            E::SignatureValidationFailed => Error::InvalidBundle,
            E::InvalidPreKeyId | E::InvalidSignedPreKeyId | E::InvalidKyberPreKeyId => {
                Error::Undecryptable("unknown or already used prekey")
            }
            E::DuplicatedMessage(..) => Error::Undecryptable("duplicated message"),
            E::InvalidMessage(_, why) => Error::Undecryptable(why),
            E::CiphertextMessageTooShort(_)
            | E::InvalidProtobufEncoding
            | E::UnrecognizedCiphertextVersion(_)
            | E::LegacyCiphertextVersion(_)
            | E::UnrecognizedMessageVersion(_) => Error::MalformedEnvelope("bad ciphertext"),
            E::NoKeyTypeIdentifier
            | E::BadKeyType(_)
            | E::BadKeyLength(..)
            | E::BadKEMKeyType(_)
            | E::WrongKEMKeyType(..) => Error::Protocol("malformed key"),
            E::InvalidSessionStructure(_) | E::InvalidState(..) => {
                Error::Protocol("session state is invalid")
            }
            E::InvalidRegistrationId(..) => Error::Protocol("invalid registration id"),
            E::ApplicationCallbackError(_, inner) => {
                let inner: Box<dyn std::error::Error + Send + Sync> = inner;
                match inner.downcast::<StoreFailure>() {
                    Ok(failure) => failure.0,
                    Err(_) => Error::Protocol("store callback failed"),
                }
            }
            _ => Error::Protocol("other protocol failure"),
        }
    }
}

/// Carries one of our own errors through libsignal's store callbacks, so
/// that a storage failure inside `message_decrypt` comes back out as itself.
#[derive(Debug)]
pub(crate) struct StoreFailure(pub(crate) Error);

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreFailure {}

// libsignal requires callback errors to be `UnwindSafe`. A `StoreFailure` is
// only ever moved back out and never observed across a caught panic.
impl std::panic::UnwindSafe for StoreFailure {}

impl StoreFailure {
    /// Wraps a core error for return from a libsignal store trait method.
    pub(crate) fn into_signal(err: Error, operation: &'static str) -> SignalProtocolError {
        SignalProtocolError::ApplicationCallbackError(operation, Box::new(StoreFailure(err)))
    }
}
