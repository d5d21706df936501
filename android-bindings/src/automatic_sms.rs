//! The cap on automatic SMS of the exported `Account` (a separate
//! `#[uniffi::export]` block): how many SMS per hour Sotto may send without
//! the user asking — resends of parts, handshake answers, retries. SMS
//! senders can be forged, so this bounds what a stranger can make the phone
//! spend. Kept with the account's other settings
//! (`sotto_core::app::AppSettings::automatic_sms_per_hour`), applied at once.

use crate::account::Account;
use crate::error::Result;

#[uniffi::export]
impl Account {
    /// The most SMS per hour Sotto sends on its own (30 for a new account).
    pub fn automatic_sms_per_hour(&self) -> Result<u32> {
        Ok(self.core.app()?.settings().automatic_sms_per_hour)
    }

    /// Sets the most SMS per hour Sotto sends on its own; 0 sends none
    /// (handshakes with new numbers and resends of lost parts then wait
    /// until it is raised). What the cap holds back is reported by
    /// `smsTick` (`automaticSmsHeldBack`).
    pub fn set_automatic_sms_per_hour(&self, per_hour: u32) -> Result<()> {
        self.core
            .app()?
            .update_settings(|settings| settings.automatic_sms_per_hour = per_hour)?;
        Ok(())
    }
}
