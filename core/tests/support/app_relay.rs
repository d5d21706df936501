//! A real relay in this process, on loopback, with its embedded TURN
//! server, and `app::Account`s on it that know each other.

use std::path::Path;
use std::time::Duration;

use sotto_core::app::{Account, CallEvent, Connection, Event, StoreKey};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::store::{ContactId, DatabaseKey};
use sotto_core::{Error, Result};
use sotto_relay::config::RelayConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every wait on the network in these tests is bounded by this.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A relay serving on a tokio task until dropped or stopped.
pub struct InProcessRelay {
    pub invite: RelayInvite,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl InProcessRelay {
    /// Starts a relay keeping its data in `dir`, with TURN on loopback
    /// (loopback peers allowed, as for any single-machine setup).
    pub async fn start(dir: &Path) -> Result<Self> {
        let mut config = RelayConfig {
            listen: "127.0.0.1:0".parse().map_err(|_| Error::InvalidInvite)?,
            data_dir: dir.to_owned(),
            ..RelayConfig::default()
        };
        config.turn.enabled = true;
        config.turn.listen = "127.0.0.1:0".parse().map_err(|_| Error::InvalidInvite)?;
        config.turn.allow_loopback_peers = true;
        std::fs::create_dir_all(dir)?;
        let (ready_tx, ready) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = sotto_relay::serve::serve(
                &config,
                |invite, _| {
                    let _ = ready_tx.send(invite.clone());
                },
                async {
                    let _ = stopped.await;
                },
            )
            .await;
            if let Err(e) = served {
                eprintln!("relay failed: {e}");
            }
        });
        let invite = tokio::time::timeout(DEADLINE, ready)
            .await
            .map_err(|_| Error::RelayTimeout)?
            .map_err(|_| Error::RelayUnreachable)?;
        Ok(Self {
            invite,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the relay and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(DEADLINE, task).await;
        }
    }
}

impl Drop for InProcessRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
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
