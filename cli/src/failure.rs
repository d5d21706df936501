//! What a failed command reports: an exit code from the documented set, a
//! message that carries no user data (no names, texts, keys or numbers),
//! and a hint that says what to do next. `docs/cli.md` lists the codes.

use sotto_core::app::ErrorKind;

/// Exit codes (`docs/cli.md`).
pub mod code {
    /// An unexpected failure (a bug, or a protocol failure).
    pub const INTERNAL: u8 = 1;
    /// Bad flags or arguments (clap's own code).
    pub const USAGE: u8 = 2;
    /// No account in the data directory, or (for `init`) one already.
    pub const ACCOUNT: u8 = 3;
    /// Wrong passphrase or key, or none available.
    pub const KEY: u8 = 4;
    /// Another sotto process has this account open.
    pub const BUSY: u8 = 5;
    /// The store or a file cannot be read or written.
    pub const STORAGE: u8 = 6;
    /// Malformed input: an invite, a name, a text, a code.
    pub const INPUT: u8 = 7;
    /// No such contact or group, or a name that fits several.
    pub const CONTACT: u8 = 8;
    /// A contact's identity key changed and is not trusted yet.
    pub const UNTRUSTED: u8 = 9;
    /// The relay cannot be reached or refused, or the contact cannot be
    /// reached over it.
    pub const NETWORK: u8 = 10;
    /// `--timeout` ran out before what was asked for happened.
    pub const TIMEOUT: u8 = 11;
    /// A call did not happen: declined, busy, not answered, or no media
    /// path.
    pub const CALL: u8 = 12;
}

/// A failed command.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// A short machine-readable kind, for `--json`.
    pub kind: &'static str,
    /// What went wrong (no user data).
    pub message: String,
    /// What to do next.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with `code`, `kind`, `message` and a `hint`.
    pub fn new(code: u8, kind: &'static str, message: impl Into<String>, hint: &str) -> Self {
        Self {
            code,
            kind,
            message: message.into(),
            hint: (!hint.is_empty()).then(|| hint.to_owned()),
        }
    }

    /// Invalid user input.
    pub fn input(message: impl Into<String>, hint: &str) -> Self {
        Self::new(code::INPUT, "invalid_input", message, hint)
    }
}

impl From<sotto_core::Error> for Failure {
    fn from(error: sotto_core::Error) -> Self {
        Failure::from(&error)
    }
}

impl From<&sotto_core::Error> for Failure {
    fn from(error: &sotto_core::Error) -> Self {
        use sotto_core::Error as E;
        let message = error.to_string();
        if let E::UnknownGroup = error {
            return Self::new(
                code::CONTACT,
                "unknown_group",
                message,
                "`sotto groups` lists names and ids",
            );
        }
        let (code, kind, hint) = match error.kind() {
            ErrorKind::NoAccount => (
                code::ACCOUNT,
                "no_account",
                "create one with `sotto init --relay <relay invite>`, or pass the right --data-dir",
            ),
            ErrorKind::AccountExists => (
                code::ACCOUNT,
                "account_exists",
                "this data directory already holds an account; pass another --data-dir",
            ),
            ErrorKind::WrongKey => (
                code::KEY,
                "wrong_key",
                "check the passphrase (prompt or SOTTO_PASSPHRASE) or the --key-file",
            ),
            ErrorKind::StoreBusy => (
                code::BUSY,
                "store_busy",
                "another sotto process (listen, chat, send) has this account open; stop it or wait for it",
            ),
            ErrorKind::Storage => (
                code::STORAGE,
                "storage",
                "check that the data directory exists, is writable, and is not damaged",
            ),
            ErrorKind::InvalidInput => (
                code::INPUT,
                "invalid_input",
                match error {
                    E::InvalidContactInvite(_) => {
                        "ask your contact to run `sotto invite` and copy the whole line"
                    }
                    E::InvalidInvite => "copy the relay invite exactly as `sotto relay serve` printed it",
                    E::InvalidName => "give a name of 1 to 100 printable characters",
                    E::NoIdentityChange => "nothing to accept; `sotto verify <contact>` shows the safety number",
                    E::NotGroupMember => "you left this group or were removed from it; `sotto groups` shows which",
                    E::TooManyMembers => "a group has at most 256 members, you included",
                    _ => "",
                },
            ),
            ErrorKind::UnknownContact => (
                code::CONTACT,
                "unknown_contact",
                "`sotto contacts` lists names and ids",
            ),
            ErrorKind::UntrustedIdentity => (
                code::UNTRUSTED,
                "untrusted_identity",
                "a new identity key is offered in the contact's name: `sotto verify <contact>` shows its safety number to compare, then `sotto trust <contact> --safety-number <digits>` accepts it",
            ),
            ErrorKind::Network => (
                code::NETWORK,
                "network",
                "check that the relay is running and its address in the invite is reachable",
            ),
            ErrorKind::RelayRefused => (
                code::NETWORK,
                "relay_refused",
                "the relay refused the request; try again later",
            ),
            ErrorKind::NotDeliverable => (
                code::NETWORK,
                "not_deliverable",
                "add the contact from their invite (`sotto contact add`); contacts on other relays cannot be reached yet",
            ),
            _ => (code::INTERNAL, "internal", ""),
        };
        Self::new(code, kind, message, hint)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::from(sotto_core::Error::Io(error))
    }
}
