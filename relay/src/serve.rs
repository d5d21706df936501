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
use crate::turn::{load_or_create_secret, public_ip, EmbeddedTurn, TurnError, TurnIssuer};

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
    /// cannot start TURN: {0}
    Turn(#[from] TurnError),
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
    let (server, embedded_turn) = start_turn(server, config).await?;
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
    let served = server.serve(shutdown).await.map_err(ServeError::Serve);
    if let Some(turn) = embedded_turn {
        turn.close().await;
    }
    served
}

/// Starts the embedded TURN server if configured, and gives the relay the
/// credential issuer for it and for any external TURN servers.
async fn start_turn(
    server: RelayServer,
    config: &RelayConfig,
) -> Result<(RelayServer, Option<EmbeddedTurn>), ServeError> {
    let section = &config.turn;
    if !section.enabled && section.external_servers.is_empty() {
        return Ok((server, None));
    }
    let secret = load_or_create_secret(section, &config.data_dir)?;
    let mut servers = Vec::new();
    let mut embedded = None;
    if section.enabled {
        let public_ip = public_ip(section)?;
        let turn = EmbeddedTurn::start(section, secret.clone()).await?;
        let advertised = SocketAddr::new(public_ip, turn.local_addr().port());
        tracing::info!(address = %turn.local_addr(), "TURN listening");
        servers.push(advertised.to_string());
        embedded = Some(turn);
    }
    servers.extend(section.external_servers.iter().cloned());
    let issuer = TurnIssuer::new(
        secret,
        std::time::Duration::from_secs(section.credential_ttl_secs),
        servers,
    );
    Ok((server.with_turn(issuer), embedded))
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
