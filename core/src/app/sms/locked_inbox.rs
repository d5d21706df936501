//! The account's side of the locked inbox ([`crate::locked_inbox`]): its
//! key pair, made on first use, with the private key kept in the encrypted
//! store (app setting `locked_inbox_private_key`), and opening what the app
//! spooled while the account was locked.

use libsignal_protocol::PrivateKey;
use zeroize::Zeroizing;

use super::super::Account;
use crate::error::{Error, Result};
use crate::locked_inbox;
use crate::store::{in_transaction, SottoStore, SqlCipherStore};

const PRIVATE_KEY: &str = "locked_inbox_private_key";

impl Account {
    /// The public key SMS are sealed to while the account is locked
    /// ([`crate::seal_for_locked_inbox`]), made on first use. The app keeps
    /// it in the clear beside the database: it opens nothing.
    pub fn locked_inbox_key(&self) -> Result<Vec<u8>> {
        in_transaction(&mut *self.shared.store(), |store| {
            let private = match stored_private_key(store)? {
                Some(private) => private,
                None => {
                    let pair = libsignal_protocol::KeyPair::generate(&mut rand::rng());
                    let hex = Zeroizing::new(hex::encode(pair.private_key.serialize()));
                    store.save_app_setting(PRIVATE_KEY, &hex)?;
                    pair.private_key
                }
            };
            let public = private
                .public_key()
                .map_err(|_| Error::Protocol("locked inbox key"))?;
            Ok(public.serialize().to_vec())
        })
    }

    /// Opens one record the app sealed to [`Account::locked_inbox_key`]
    /// while the account was locked. [`Error::Undecryptable`] for a record
    /// that is damaged or sealed to another key (such as one from before
    /// the account was made again).
    pub fn open_locked_inbox(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let store = self.shared.store();
        let private =
            stored_private_key(&store)?.ok_or(Error::Undecryptable("no locked-inbox key yet"))?;
        locked_inbox::open(&private, sealed).map(Zeroizing::new)
    }
}

fn stored_private_key(store: &SqlCipherStore) -> Result<Option<PrivateKey>> {
    let Some(hex) = store.app_setting(PRIVATE_KEY)?.map(Zeroizing::new) else {
        return Ok(None);
    };
    let bytes = Zeroizing::new(hex::decode(hex.as_bytes()).map_err(|_| Error::CorruptStore)?);
    PrivateKey::deserialize(&bytes)
        .map(Some)
        .map_err(|_| Error::CorruptStore)
}
