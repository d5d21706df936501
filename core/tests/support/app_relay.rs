//! A real relay in this process, on loopback, with its embedded TURN
//! server, and `app::Account`s on it that know each other.

use std::path::Path;
use std::time::Duration;

use sotto_core::app::{Account, CallEvent, Connection, Event, StoreKey};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::{ContactId, DatabaseKey};
use sotto_core::{Error, Result};
use sotto_relay::serve::LoopbackRelay;

/// Every wait on the network in these tests is bounded by this.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Starts a relay in this process keeping its data in `dir`, on loopback
/// with TURN on loopback.
pub async fn start_relay(dir: &Path) -> Result<LoopbackRelay> {
    LoopbackRelay::start(dir)
        .await
        .map_err(|_| Error::RelayUnreachable)
}

/// An account on the relay, registered, with its prekeys uploaded.
pub async fn account(dir: &Path, name: &str, key: u8, relay: &RelayInvite) -> Result<Account> {
    let account = Account::create_with_policy(
        &dir.join(name),
        &StoreKey::Raw(DatabaseKey::from_bytes([key; 32])),
        relay.clone(),
        &super::small_policy(),
    )?;
    account.register().await?;
    Ok(account)
}

/// Makes `a` and `b` contacts of each other (trust on first use); returns
/// how `a` knows `b` and how `b` knows `a`.
pub fn befriend(a: &Account, b: &Account) -> Result<(ContactId, ContactId)> {
    let b_for_a = a.add_contact(&b.contact_invite(), "B")?;
    let a_for_b = b.add_contact(&a.contact_invite(), "A")?;
    Ok((b_for_a, a_for_b))
}

/// The next call event that `wanted` accepts (earlier call events are
/// returned in `seen`), bounded by [`DEADLINE`].
pub async fn call_event(
    connection: &mut Connection,
    seen: &mut Vec<CallEvent>,
    wanted: impl Fn(&CallEvent) -> bool,
) -> Result<CallEvent> {
    let wait = async {
        while let Some(event) = connection.next_event().await {
            if let Event::Call(event) = event {
                if wanted(&event) {
                    return Ok(event);
                }
                seen.push(event);
            }
        }
        Err(Error::ConnectionClosed)
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .map_err(|_| Error::RelayTimeout)?
}
