//! The user's SMS settings: the two transport policies, the region of
//! national numbers, and data SMS. They live in `app_settings` beside
//! [`crate::app::AppSettings`], under their own keys.

use super::super::Account;
use crate::error::{Error, Result};
use crate::sms::{PhoneNumber, TransportPolicy};
use crate::store::{in_transaction, SottoStore, SqlCipherStore};

const NEVER_ENCRYPTED_SMS: &str = "sms_never_encrypted";
const SMS_ONLY: &str = "sms_only";
const REGION: &str = "sms_region";
const DATA_SMS: &str = "sms_data";

/// The region assumed for numbers without a country code until the app
/// sets the SIM's ([`SmsSettings::region`]).
pub const DEFAULT_REGION: &str = "US";

/// The user's SMS settings, kept in the store beside [`crate::app::AppSettings`]
/// (keys `sms_never_encrypted`, `sms_only`, `sms_region`, `sms_data`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsSettings {
    /// "Never send encrypted texts by SMS" and "SMS only".
    pub policy: TransportPolicy,
    /// The ISO 3166 region (such as `"DE"`) of numbers written without a
    /// country code: the SIM's country.
    pub region: String,
    /// Send Sotto payloads as data SMS instead of text SMS.
    pub data_sms: bool,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            policy: TransportPolicy::default(),
            region: DEFAULT_REGION.to_owned(),
            data_sms: false,
        }
    }
}

impl SmsSettings {
    pub(super) fn load(store: &SqlCipherStore) -> Result<Self> {
        let flag = |key: &str| -> Result<bool> {
            match store.app_setting(key)?.as_deref() {
                None | Some("false") => Ok(false),
                Some("true") => Ok(true),
                Some(_) => Err(Error::CorruptStore),
            }
        };
        Ok(Self {
            policy: TransportPolicy {
                never_encrypted_sms: flag(NEVER_ENCRYPTED_SMS)?,
                sms_only: flag(SMS_ONLY)?,
            },
            region: store
                .app_setting(REGION)?
                .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            data_sms: flag(DATA_SMS)?,
        })
    }

    fn save(&self, store: &mut SqlCipherStore) -> Result<()> {
        let text = |flag: bool| if flag { "true" } else { "false" };
        store.save_app_setting(NEVER_ENCRYPTED_SMS, text(self.policy.never_encrypted_sms))?;
        store.save_app_setting(SMS_ONLY, text(self.policy.sms_only))?;
        store.save_app_setting(REGION, &self.region)?;
        store.save_app_setting(DATA_SMS, text(self.data_sms))
    }
}

impl Account {
    /// The SMS settings.
    pub fn sms_settings(&self) -> Result<SmsSettings> {
        SmsSettings::load(&self.shared.store())
    }

    /// Saves the SMS settings. A change of the data-SMS choice takes effect
    /// at the next open of the account.
    pub fn save_sms_settings(&self, settings: &SmsSettings) -> Result<()> {
        // Refuse a region the number parser does not know, now rather than
        // at the first SMS.
        if PhoneNumber::parse("+12125550123", &settings.region).is_err() {
            return Err(Error::InvalidPhoneNumber);
        }
        in_transaction(&mut *self.shared.store(), |store| settings.save(store))
    }

    /// Normalises a number as the user or the phone wrote it, with the
    /// region of the SMS settings.
    pub fn parse_phone(&self, number: &str) -> Result<PhoneNumber> {
        PhoneNumber::parse(number, &self.sms_settings()?.region)
    }
}
