//! The receipt settings of the exported `Account` (a separate
//! `#[uniffi::export]` block): whether this account tells senders that their
//! texts arrived and were read. They are kept in the store with the
//! account's other settings (`sotto_core::app::AppSettings`) and apply to
//! the next text received or marked read.

use crate::account::Account;
use crate::error::Result;

/// Which receipts this account sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ReceiptSettings {
    /// Tell senders when their text arrived here (on by default).
    pub delivery_receipts: bool,
    /// Tell senders when their text was read here (on by default).
    pub read_receipts: bool,
}

#[uniffi::export]
impl Account {
    /// Which receipts this account sends.
    pub fn receipt_settings(&self) -> Result<ReceiptSettings> {
        let settings = self.core.app()?.settings();
        Ok(ReceiptSettings {
            delivery_receipts: settings.delivery_receipts,
            read_receipts: settings.read_receipts,
        })
    }

    /// Saves which receipts this account sends; they apply to the next
    /// text received or marked read.
    pub fn set_receipt_settings(&self, receipts: ReceiptSettings) -> Result<()> {
        let app = self.core.app()?;
        app.update_settings(|settings| {
            settings.delivery_receipts = receipts.delivery_receipts;
            settings.read_receipts = receipts.read_receipts;
        })?;
        Ok(())
    }
}
