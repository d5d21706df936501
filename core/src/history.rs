//! Chat history: disappearing messages and "keep no history".
//!
//! Expired messages are deleted with `secure_delete` on (their bytes are
//! overwritten in the database file) and the WAL is checkpointed and
//! truncated, so no old page image is left behind either.

use std::time::SystemTime;

use rand::{CryptoRng, Rng};

use crate::error::{Error, Result};
use crate::message::{Body, Content, MessageId};
use crate::messaging::{send_in_transaction, Outgoing};
use crate::millis;
use crate::store::{in_transaction, ContactId, SottoStore};

/// Sets the conversation's disappearing-messages timer (0 turns it off) and
/// tells the contact. Messages stored from now on expire `seconds` after
/// they were stored.
pub fn set_expiration_timer<S, R>(
    store: &mut S,
    contact: &ContactId,
    seconds: u32,
    now: SystemTime,
    rng: &mut R,
) -> Result<Outgoing>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let content = Content {
        id: MessageId::new(now, rng),
        sent_at_ms: millis(now),
        body: Body::ExpirationTimer(seconds),
    };
    // The local setting and the update to the contact commit together, so
    // the two sides cannot silently disagree.
    in_transaction(store, |store| {
        let outgoing = send_in_transaction(store, contact, &content, now, rng, false)?;
        let mut settings = store.conversation_settings(contact)?;
        settings.expire_timer_secs = seconds;
        store.save_conversation_settings(contact, &settings)?;
        Ok(outgoing)
    })
}

/// Turns "keep no history" on or off for a conversation. Turning it on also
/// deletes the messages already stored for it.
pub fn set_keep_no_history<S: SottoStore>(
    store: &mut S,
    contact: &ContactId,
    keep_no_history: bool,
) -> Result<()> {
    in_transaction(store, |store| {
        apply_keep_no_history(store, contact, keep_no_history)
    })?;
    store.checkpoint()
}

/// [`set_keep_no_history`] inside the caller's transaction (which then
/// checkpoints), for a caller that deletes more in the same commit.
pub(crate) fn apply_keep_no_history<S: SottoStore>(
    store: &mut S,
    contact: &ContactId,
    keep_no_history: bool,
) -> Result<()> {
    if store.contact(contact)?.is_none() {
        return Err(Error::UnknownContact);
    }
    let mut settings = store.conversation_settings(contact)?;
    settings.keep_no_history = keep_no_history;
    store.save_conversation_settings(contact, &settings)?;
    if keep_no_history {
        store.delete_conversation_messages(contact)?;
    }
    Ok(())
}

/// Deletes every message whose timer ran out by `now`; returns how many.
pub fn delete_expired<S: SottoStore>(store: &mut S, now: SystemTime) -> Result<usize> {
    let deleted = in_transaction(store, |store| store.delete_expired_messages(millis(now)))?;
    if deleted > 0 {
        store.checkpoint()?;
    }
    Ok(deleted)
}
