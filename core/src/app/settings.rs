//! The account's settings, kept in the encrypted store (the `app_settings`
//! table: a key and a text value per setting).
//!
//! | key | value |
//! |---|---|
//! | `relay` | the relay invite the account receives on |
//! | `socks5` | `host:port` of a SOCKS5 proxy (Tor/Orbot); empty or absent for none |
//! | `delivery_receipts` | `true`/`false`: tell senders when a text arrived |
//! | `read_receipts` | `true`/`false`: tell senders when a text was read |
//! | `relay_only_calls` | `true`/`false`: media of calls through TURN only (default off) |
//! | `sms_automatic_per_hour` | the most SMS sent per hour without the user asking (default 30) |

use std::net::SocketAddr;

use crate::error::{Error, Result};
use crate::relay::invite::RelayInvite;
use crate::sms::endpoint::DEFAULT_AUTOMATIC_SMS_PER_HOUR;
use crate::store::SottoStore;

const RELAY: &str = "relay";
const SOCKS5: &str = "socks5";
const DELIVERY_RECEIPTS: &str = "delivery_receipts";
const READ_RECEIPTS: &str = "read_receipts";
const RELAY_ONLY_CALLS: &str = "relay_only_calls";
const AUTOMATIC_SMS_PER_HOUR: &str = "sms_automatic_per_hour";

/// What the user chose for this account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppSettings {
    /// The relay this account receives on (its own invite).
    pub relay: RelayInvite,
    /// A SOCKS5 proxy to reach the relay through (Tor/Orbot), if any.
    pub socks5: Option<SocketAddr>,
    /// Send delivery receipts for texts received (default on).
    pub delivery_receipts: bool,
    /// Send read receipts when texts are marked read (default on).
    pub read_receipts: bool,
    /// "Always relay calls": call media goes through the relay's TURN
    /// server only, so a peer never learns this device's address (default
    /// off). Applied when a connection starts.
    pub relay_only_calls: bool,
    /// The most SMS per hour Sotto sends without the user asking: resends
    /// of parts, handshake answers and their retries, resend requests
    /// (default [`DEFAULT_AUTOMATIC_SMS_PER_HOUR`]). SMS senders can be
    /// forged, so this bounds what a stranger can make the phone spend;
    /// what the cap holds back is asked for again or retried later (see
    /// `docs/sms-transport.md`). 0 sends none. Applies at once.
    pub automatic_sms_per_hour: u32,
}

impl AppSettings {
    /// Defaults for a new account on `relay`.
    pub fn new(relay: RelayInvite) -> Self {
        Self {
            relay,
            socks5: None,
            delivery_receipts: true,
            read_receipts: true,
            relay_only_calls: false,
            automatic_sms_per_hour: DEFAULT_AUTOMATIC_SMS_PER_HOUR,
        }
    }

    /// Reads the settings; [`Error::NoAccount`] if the relay was never set
    /// (the account was not created through [`super::Account::create`]).
    pub(crate) fn load<S: SottoStore>(store: &S) -> Result<Self> {
        let relay = store.app_setting(RELAY)?.ok_or(Error::NoAccount)?;
        let relay = RelayInvite::parse(&relay).map_err(|_| Error::CorruptStore)?;
        let socks5 = store
            .app_setting(SOCKS5)?
            .filter(|text| !text.is_empty())
            .map(|text| text.parse().map_err(|_| Error::CorruptStore))
            .transpose()?;
        let flag_or = |key: &str, default: bool| -> Result<bool> {
            match store.app_setting(key)?.as_deref() {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(_) => Err(Error::CorruptStore),
            }
        };
        Ok(Self {
            relay,
            socks5,
            delivery_receipts: flag_or(DELIVERY_RECEIPTS, true)?,
            read_receipts: flag_or(READ_RECEIPTS, true)?,
            relay_only_calls: flag_or(RELAY_ONLY_CALLS, false)?,
            automatic_sms_per_hour: match store.app_setting(AUTOMATIC_SMS_PER_HOUR)? {
                None => DEFAULT_AUTOMATIC_SMS_PER_HOUR,
                Some(text) => text.parse().map_err(|_| Error::CorruptStore)?,
            },
        })
    }

    /// Writes every setting (inside the caller's transaction).
    pub(crate) fn save<S: SottoStore>(&self, store: &mut S) -> Result<()> {
        store.save_app_setting(RELAY, &self.relay.to_string())?;
        match self.socks5 {
            Some(proxy) => store.save_app_setting(SOCKS5, &proxy.to_string())?,
            // No proxy is an empty value, which overwrites an earlier one.
            None => store.save_app_setting(SOCKS5, "")?,
        }
        store.save_app_setting(DELIVERY_RECEIPTS, bool_text(self.delivery_receipts))?;
        store.save_app_setting(READ_RECEIPTS, bool_text(self.read_receipts))?;
        store.save_app_setting(RELAY_ONLY_CALLS, bool_text(self.relay_only_calls))?;
        store.save_app_setting(
            AUTOMATIC_SMS_PER_HOUR,
            &self.automatic_sms_per_hour.to_string(),
        )?;
        Ok(())
    }
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}
