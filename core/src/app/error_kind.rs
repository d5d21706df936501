//! The few kinds of failure a client acts on differently (a different
//! message, exit code or exception class), over the core's detailed
//! [`Error`].

use crate::error::Error;

/// What a client can do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No account here yet: create one.
    NoAccount,
    /// An account exists already.
    AccountExists,
    /// The key or passphrase is wrong.
    WrongKey,
    /// Another process has the store open.
    StoreBusy,
    /// The store is damaged, from a newer version, or cannot be written.
    Storage,
    /// Input the user gave is malformed (an invite, a name, a code).
    InvalidInput,
    /// No such contact.
    UnknownContact,
    /// A contact's identity key changed; the user must compare safety
    /// numbers and accept it.
    UntrustedIdentity,
    /// The relay cannot be reached, or the connection failed.
    Network,
    /// The relay refused the request.
    RelayRefused,
    /// The contact cannot be reached this way (no relay, another relay).
    NotDeliverable,
    /// Anything else: a bug or a protocol failure.
    Internal,
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoAccount => ErrorKind::NoAccount,
            Error::AccountExists => ErrorKind::AccountExists,
            Error::WrongKey => ErrorKind::WrongKey,
            Error::StoreLocked => ErrorKind::StoreBusy,
            Error::CorruptStore
            | Error::StoreTooNew(_)
            | Error::MissingSalt
            | Error::Storage(_)
            | Error::Io(_)
            | Error::KeyDerivation => ErrorKind::Storage,
            Error::InvalidInvite
            | Error::InvalidContactInvite(_)
            | Error::InvalidName
            | Error::InvalidSafetyCode
            | Error::MessageTooLong
            | Error::NoIdentityChange
            | Error::UnknownGroup
            | Error::NotGroupMember
            | Error::TooManyMembers
            | Error::NoSuchCall
            | Error::CallInProgress
            | Error::InvalidPhoneNumber
            | Error::InvalidLockedInboxKey
            | Error::PassphraseStore
            | Error::UnknownMessage => ErrorKind::InvalidInput,
            Error::UnknownContact => ErrorKind::UnknownContact,
            Error::UntrustedIdentity | Error::ConflictingIdentities => ErrorKind::UntrustedIdentity,
            Error::ProxyFailed
            | Error::CertificateMismatch
            | Error::RelayUnreachable
            | Error::RelayTimeout
            | Error::ConnectionClosed
            | Error::RelayProtocol(_) => ErrorKind::Network,
            Error::RelayRefused(_) => ErrorKind::RelayRefused,
            Error::NoRelay
            | Error::OtherRelay
            | Error::NoSession
            | Error::NoRoute(_)
            | Error::HandshakeIncomplete
            | Error::CallsThroughProxy => ErrorKind::NotDeliverable,
            _ => ErrorKind::Internal,
        }
    }
}
