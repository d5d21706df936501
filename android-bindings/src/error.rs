//! The one public error of the bindings, and the one place where the core's
//! errors become it ([`From<sotto_core::Error>`]).
//!
//! The core has one variant per failure; a caller needs fewer, each of which
//! it can act on (ask for the key again, tell the user the store is in use,
//! retry later, show "compare safety numbers"). Messages are fixed texts:
//! they never carry user data, keys, ids or paths. The mapping below also
//! decides what gets logged: failures a caller cannot explain (storage,
//! network, bugs) are logged with the core's message, which carries no user
//! data either.

use sotto_core::Error as CoreError;

/// What went wrong, in terms a caller can act on. Kotlin sees it as the
/// sealed class `SottoException`, one subclass per variant; each message is
/// the variant's doc text.
#[derive(Debug, PartialEq, Eq, displaydoc::Display, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum SottoError {
    /// there is no account in this directory yet; create one
    NoAccount,
    /// there is already an account in this directory; open it
    AccountExists,
    /// the key or passphrase is wrong, or the file is not a Sotto store
    WrongKey,
    /// the store is already open (in another process, or through another account handle)
    StoreLocked,
    /// the store cannot be used: {0}
    StoreUnusable(&'static str),
    /// reading or writing the store failed; the disk may be full or failing
    Storage,
    /// the relay could not be reached; Sotto will retry
    Network,
    /// the relay refused the request or does not match its invite: {0}
    Relay(&'static str),
    /// the contact's identity key changed; compare the new safety number, then trust it
    UntrustedIdentity,
    /// there is no session with this contact yet
    NoSession,
    /// the contact cannot be reached this way: {0}
    NotDeliverable(&'static str),
    /// no such contact
    UnknownContact,
    /// no such message
    UnknownMessage,
    /// invalid input: {0}
    InvalidInput(&'static str),
    /// a received message could not be read: {0}
    Undecryptable(&'static str),
    /// the account this object belongs to has been closed
    AccountClosed,
    /// the account is not connected to its relay; call connect() first
    NotConnected,
    /// there is no call to answer, decline or hang up
    NoSuchCall,
    /// another call is in progress; hang it up first
    CallInProgress,
    /// no such group
    UnknownGroup,
    /// this account is not a member of the group (it left or was removed), or a contact named is not one
    NotGroupMember,
    /// a group has at most 256 members
    TooManyMembers,
    /// this call waits for the network and cannot be made from inside a listener callback; hand it to another thread
    CalledFromCallback,
    /// internal error in Sotto (a bug); the log has details
    Internal,
}

impl From<CoreError> for SottoError {
    fn from(error: CoreError) -> Self {
        use CoreError as E;
        let mapped = match &error {
            E::NoAccount => SottoError::NoAccount,
            E::AccountExists => SottoError::AccountExists,
            E::WrongKey => SottoError::WrongKey,
            E::StoreLocked => SottoError::StoreLocked,
            E::CorruptStore => SottoError::StoreUnusable("it is damaged or not a Sotto store"),
            E::StoreTooNew(_) => {
                SottoError::StoreUnusable("it was written by a newer version of Sotto")
            }
            E::MissingSalt => SottoError::StoreUnusable(
                "the passphrase salt file beside it is missing or damaged",
            ),
            E::Storage(_) => SottoError::Storage,
            E::Io(io) if is_network_failure(io) => SottoError::Network,
            E::Io(_) => SottoError::Storage,
            E::ProxyFailed | E::RelayUnreachable | E::RelayTimeout => SottoError::Network,
            E::CertificateMismatch => SottoError::Relay(
                "it is not vouched for by the invite's trust root (a wrong invite, an outdated relay, or someone in between)",
            ),
            E::RelayRefused(why) | E::RelayProtocol(why) => SottoError::Relay(why),
            E::UntrustedIdentity | E::ConflictingIdentities => SottoError::UntrustedIdentity,
            E::TooManyHeld => SottoError::Undecryptable(
                "too many messages wait for the contact's new identity to be trusted",
            ),
            E::NoSession => SottoError::NoSession,
            E::UnknownContact => SottoError::UnknownContact,
            E::UnknownMessage => SottoError::UnknownMessage,
            E::InvalidInvite => SottoError::InvalidInput("the relay invite is malformed"),
            E::InvalidContactInvite(why) => SottoError::InvalidInput(why),
            E::InvalidName => {
                SottoError::InvalidInput("the name is empty, too long, or holds control characters")
            }
            E::NoIdentityChange => {
                SottoError::InvalidInput("the contact presented no such new identity key")
            }
            E::NoRelay => SottoError::NotDeliverable("no relay is known for the contact"),
            E::OtherRelay => SottoError::NotDeliverable(
                "the contact is on another relay, and delivery across relays is not supported yet",
            ),
            E::InvalidSafetyCode => {
                SottoError::InvalidInput("the scanned code is not a Sotto safety-number code")
            }
            E::InvalidBundle => SottoError::InvalidInput(
                "the prekey bundle is malformed or its signatures do not verify",
            ),
            E::MessageTooLong => SottoError::InvalidInput("the message is too long"),
            E::InvalidLockedInboxKey => SottoError::InvalidInput("the locked-inbox key is malformed"),
            E::InvalidPhoneNumber => SottoError::InvalidInput("the phone number is not valid"),
            E::PassphraseStore => SottoError::InvalidInput(
                "a store opened with a passphrase is not rekeyed with a raw key",
            ),
            E::MalformedSms(why) => SottoError::InvalidInput(why),
            E::NoRoute(why) => SottoError::NotDeliverable(why),
            E::HandshakeIncomplete => SottoError::NotDeliverable(
                "the SMS handshake with this number is not complete yet",
            ),
            E::MalformedEnvelope(why) | E::Undecryptable(why) | E::MalformedContent(why) => {
                SottoError::Undecryptable(why)
            }
            E::NoSuchCall => SottoError::NoSuchCall,
            E::CallInProgress => SottoError::CallInProgress,
            E::UnknownGroup => SottoError::UnknownGroup,
            E::NotGroupMember => SottoError::NotGroupMember,
            E::TooManyMembers => SottoError::TooManyMembers,
            // The connection's call shell stopped: the account was
            // disconnected (or is closing) meanwhile.
            E::ConnectionClosed => SottoError::NotConnected,
            E::CallsThroughProxy => SottoError::NotDeliverable(
                "calls do not go through the proxy: turn the proxy off to call",
            ),
            E::InvalidSenderCertificate => {
                SottoError::Undecryptable("the sender certificate is invalid or expired")
            }
            // Everything else means the bindings or the core misused an API
            // (the account always exists once opened, transactions are the
            // core's business) or libsignal failed internally.
            _ => SottoError::Internal,
        };
        if matches!(
            mapped,
            SottoError::Storage
                | SottoError::Network
                | SottoError::Relay(_)
                | SottoError::StoreUnusable(_)
                | SottoError::Internal
        ) {
            // The core's messages carry no user data (see `sotto_core::Error`).
            tracing::warn!(error = %error, "sotto call failed");
        }
        mapped
    }
}

/// Whether an I/O error is a failed connection rather than a failed disk:
/// the core reports both as `Error::Io`, and only the kind tells them apart.
fn is_network_failure(error: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        error.kind(),
        K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::AddrNotAvailable
            | K::BrokenPipe
            | K::TimedOut
            | K::UnexpectedEof
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
    )
}

/// Result alias of the exported API.
pub type Result<T, E = SottoError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_what_a_caller_can_act_on() {
        let cases = [
            (CoreError::WrongKey, SottoError::WrongKey),
            (CoreError::StoreLocked, SottoError::StoreLocked),
            (CoreError::UntrustedIdentity, SottoError::UntrustedIdentity),
            (CoreError::NoSession, SottoError::NoSession),
            (CoreError::UnknownContact, SottoError::UnknownContact),
            (CoreError::ProxyFailed, SottoError::Network),
            (CoreError::NestedTransaction, SottoError::Internal),
            (
                CoreError::PassphraseStore,
                SottoError::InvalidInput(
                    "a store opened with a passphrase is not rekeyed with a raw key",
                ),
            ),
            (CoreError::AccountExists, SottoError::AccountExists),
            (CoreError::NoAccount, SottoError::NoAccount),
            (CoreError::NoSuchCall, SottoError::NoSuchCall),
            (CoreError::CallInProgress, SottoError::CallInProgress),
            (CoreError::UnknownGroup, SottoError::UnknownGroup),
            (CoreError::NotGroupMember, SottoError::NotGroupMember),
            (CoreError::TooManyMembers, SottoError::TooManyMembers),
            (CoreError::ConnectionClosed, SottoError::NotConnected),
            (CoreError::RelayUnreachable, SottoError::Network),
            (CoreError::RelayTimeout, SottoError::Network),
            (CoreError::AlreadyConnected, SottoError::Internal),
            (
                CoreError::InvalidName,
                SottoError::InvalidInput(
                    "the name is empty, too long, or holds control characters",
                ),
            ),
            (
                CoreError::Io(std::io::ErrorKind::ConnectionRefused.into()),
                SottoError::Network,
            ),
            (
                CoreError::Io(std::io::ErrorKind::PermissionDenied.into()),
                SottoError::Storage,
            ),
            (
                CoreError::RelayRefused("mailbox full"),
                SottoError::Relay("mailbox full"),
            ),
        ];
        for (core, expected) in cases {
            assert_eq!(SottoError::from(core), expected);
        }
        assert!(matches!(
            SottoError::from(CoreError::StoreTooNew(9)),
            SottoError::StoreUnusable(_)
        ));
        assert!(matches!(
            SottoError::from(CoreError::OtherRelay),
            SottoError::NotDeliverable(_)
        ));
        assert!(matches!(
            SottoError::from(CoreError::InvalidContactInvite("it is empty")),
            SottoError::InvalidInput("it is empty")
        ));
        assert!(matches!(
            SottoError::from(CoreError::InvalidSafetyCode),
            SottoError::InvalidInput(_)
        ));
        assert!(matches!(
            SottoError::from(CoreError::NoRoute("the contact is not on Sotto")),
            SottoError::NotDeliverable("the contact is not on Sotto")
        ));
        assert!(matches!(
            SottoError::from(CoreError::InvalidPhoneNumber),
            SottoError::InvalidInput(_)
        ));
        assert!(matches!(
            SottoError::from(CoreError::Undecryptable("duplicated message")),
            SottoError::Undecryptable("duplicated message")
        ));
    }

    #[test]
    fn messages_are_fixed_texts() {
        assert_eq!(
            SottoError::WrongKey.to_string(),
            "the key or passphrase is wrong, or the file is not a Sotto store"
        );
        assert_eq!(
            SottoError::InvalidInput("the database key must be 32 bytes").to_string(),
            "invalid input: the database key must be 32 bytes"
        );
    }
}
