//! Running a relay from its configuration until a shutdown signal: what the
//! `sotto-relay` binary and `sotto relay serve` share.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sotto_core::relay::invite::RelayInvite;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    /// the relay did not start in time
    NotStarted,
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

/// How long [`LoopbackRelay`] waits for its relay to start, or to stop.
const LOOPBACK_DEADLINE: Duration = Duration::from_secs(30);

/// A relay serving on the current tokio runtime, on loopback, with its TURN
/// server on loopback too (loopback peers allowed: every phone is on this
/// machine). For the CLI's demo and call benchmark, and for tests. It stops
/// on [`LoopbackRelay::stop`], or when dropped.
pub struct LoopbackRelay {
    /// Its invite.
    pub invite: RelayInvite,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl LoopbackRelay {
    /// Starts a relay keeping its data in `dir`; returns once it accepts
    /// connections.
    pub async fn start(dir: &Path) -> Result<Self, ServeError> {
        let mut config = RelayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.to_owned(),
            ..RelayConfig::default()
        };
        // Every phone is on this machine, so every connection and account
        // comes from one address.
        config.limits.max_connections_per_address = config.limits.max_connections;
        config.limits.accounts_per_address_per_hour = u32::MAX;
        config.turn.enabled = true;
        config.turn.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.turn.allow_loopback_peers = true;
        let (ready_tx, ready) = oneshot::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let ready = |invite: &RelayInvite, _| {
                let _ = ready_tx.send(invite.clone());
            };
            serve(&config, ready, async {
                let _ = stopped.await;
            })
            .await
        });
        match tokio::time::timeout(LOOPBACK_DEADLINE, ready).await {
            Ok(Ok(invite)) => Ok(Self {
                invite,
                stop: Some(stop),
                task: Some(task),
            }),
            // It stopped before it was ready: say why.
            Ok(Err(_)) => match task.await {
                Ok(Err(error)) => Err(error),
                _ => Err(ServeError::NotStarted),
            },
            Err(_) => {
                task.abort();
                Err(ServeError::NotStarted)
            }
        }
    }

    /// Stops the relay and waits (a bounded time) for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            if let Ok(Ok(Err(error))) = tokio::time::timeout(LOOPBACK_DEADLINE, task).await {
                tracing::warn!(%error, "the loopback relay failed");
            }
        }
    }
}

impl Drop for LoopbackRelay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
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
        let relay_ips: Vec<_> = [config.public_host.parse().ok(), Some(config.listen.ip())]
            .into_iter()
            .flatten()
            .collect();
        let turn = EmbeddedTurn::start(section, secret.clone(), &relay_ips).await?;
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
