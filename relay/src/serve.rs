//! Running a relay from its configuration until a shutdown signal: what the
//! `sotto-relay` binary and `sotto relay serve` share.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use sotto_core::relay::invite::RelayInvite;

use crate::config::{ConfigError, RelayConfig};
use crate::identity::{IdentityError, RelayIdentity};
use crate::server::{RelayServer, ServerError};
use crate::storage::{SqliteStorage, StorageError};

/// Why the relay could not start or stopped with an error.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum ServeError {
    /// cannot load or create the relay's keys in {1}: {0}
    Keys(IdentityError, PathBuf),
    /// {0}
    Config(#[from] ConfigError),
    /// cannot open the relay database: {0}
    Database(#[from] StorageError),
    /// cannot listen on {1}: {0}
    Listen(ServerError, SocketAddr),
    /// cannot write invite.txt in the data directory: {0}
    InviteFile(std::io::Error),
    /// the relay failed: {0}
    Serve(std::io::Error),
}

/// Starts the relay of `config`, calls `ready` with its invite and the
/// address it listens on (once it accepts connections), and serves until
/// `shutdown` completes. The invite is also written to `invite.txt` in the
/// data directory.
pub async fn serve(
    config: &RelayConfig,
    ready: impl FnOnce(&RelayInvite, SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let hostnames = vec![config.public_host.clone(), "localhost".into()];
    let (mut identity, created) =
        RelayIdentity::load_or_create(&config.data_dir, &hostnames, &mut rand::rng())
            .map_err(|e| ServeError::Keys(e, config.data_dir.clone()))?;
    if let Some(tls) = config.operator_tls()? {
        identity = identity.with_tls(tls.chain, tls.key);
    }
    let storage = SqliteStorage::open(&config.data_dir.join("relay.db"))?;
    let server = RelayServer::bind(
        config.listen,
        identity,
        Box::new(storage),
        config.limits.to_limits(),
    )
    .await
    .map_err(|e| ServeError::Listen(e, config.listen))?;
    let address = server.local_addr().map_err(ServeError::Serve)?;
    let invite = server.invite(
        &config.public_host,
        config.public_port.unwrap_or(address.port()),
    );
    std::fs::write(config.data_dir.join("invite.txt"), format!("{invite}\n"))
        .map_err(ServeError::InviteFile)?;
    if created {
        tracing::info!("created new relay keys");
    }
    tracing::info!(%address, "relay listening");
    ready(&invite, address);
    server.serve(shutdown).await.map_err(ServeError::Serve)
}

/// Registers the SIGINT and SIGTERM handlers now (so a signal that comes
/// right after the invite is printed is not lost) and returns a future that
/// completes on either.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
