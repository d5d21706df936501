//! The relay server: TLS 1.3 on tokio, one task per connection.
//!
//! A connection starts with a challenge, which carries the server
//! certificate and the server key's signature over this TLS connection's
//! exporter value (the client checks both before it sends anything). A client that signs the challenge logs in as
//! its identity key and gets its mailbox pushed, at once and whenever
//! something new arrives; an anonymous connection may fetch bundles and
//! send sealed envelopes. Envelopes are deleted only when their recipient
//! acknowledges them. Malformed or oversized frames, idle connections and
//! clients over their request rate are disconnected; nothing a client sends
//! can panic the server. Logs carry no keys, payloads or addresses.
//!
//! What one free account can make the operator store is bounded: uploaded
//! prekeys must be real, signed keys of the exact size (see
//! [`crate::prekeys`]) within a byte quota, mailboxes have an envelope and
//! a byte quota, and new accounts and open connections are limited per
//! source address (see [`crate::source_address`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use libsignal_protocol::IdentityKey;
use rand::RngCore;
use sotto_core::message::proto as message_proto;
use sotto_core::relay::wire::{self, proto};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::identity::RelayIdentity;
use crate::source_address::{ConnectionSlot, ConnectionSlots};
use crate::storage::{MailboxOutcome, MailboxQuota, MailboxWrite, RelayStorage, StorageError};

/// Limits that protect the relay from its clients.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Connections one source address (an IPv4 address or an IPv6 /64)
    /// may hold open at once; more are closed at once, before TLS.
    pub max_connections_per_address: usize,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// A logged-in connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// An anonymous connection is closed when it has sent nothing but
    /// pings for this long, or for `idle_timeout` if that is shorter
    /// (counted from its last other request, or from its start): pings keep
    /// a logged-in connection open, not a slot that does no work.
    pub anonymous_idle_timeout: Duration,
    /// New accounts one source address may create per hour (a token
    /// bucket with this burst).
    pub accounts_per_address_per_hour: u32,
    /// How long an undelivered envelope is kept.
    pub mailbox_ttl: Duration,
    /// Envelopes queued per account at most.
    pub mailbox_quota: u64,
    /// Payload bytes queued per account at most.
    pub mailbox_bytes_quota: u64,
    /// Bytes of prekeys (public keys and signatures) stored per account at
    /// most.
    pub prekey_bytes_quota: u64,
    /// Sustained requests per second per connection.
    pub requests_per_second: u32,
    /// Requests a connection may send in a burst.
    pub request_burst: u32,
    /// Sustained requests per second per account, over all its connections.
    pub account_requests_per_second: u32,
    /// Envelopes per second any one recipient may be sent, by everyone
    /// together: sending needs no login, so this is what keeps an anonymous
    /// sender from flooding a mailbox.
    pub recipient_envelopes_per_second: u32,
    /// Burst of envelopes to one recipient.
    pub recipient_burst: u32,
    /// Bundles per second anyone may fetch for one account, all fetchers
    /// together: each fetch consumes one of its one-time prekeys.
    pub bundle_fetches_per_second: u32,
    /// Burst of bundle fetches for one account.
    pub bundle_fetch_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_address: 64,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            anonymous_idle_timeout: Duration::from_secs(20),
            accounts_per_address_per_hour: 5,
            mailbox_ttl: Duration::from_secs(30 * 24 * 3600),
            mailbox_quota: 10_000,
            // A sealed text is about 2 KiB: a full mailbox of texts fits.
            mailbox_bytes_quota: 32 * 1024 * 1024,
            // Two batches of 100 one-time keys of each kind (about 330 KB)
            // with room to spare; a Kyber-1024 key and its signature are
            // 1,633 bytes.
            prekey_bytes_quota: 512 * 1024,
            requests_per_second: 500,
            request_burst: 1_000,
            account_requests_per_second: 1_000,
            recipient_envelopes_per_second: 100,
            recipient_burst: 1_000,
            bundle_fetches_per_second: 2,
            bundle_fetch_burst: 100,
        }
    }
}

type SharedStorage = Arc<Mutex<Box<dyn RelayStorage>>>;

struct Shared {
    storage: SharedStorage,
    /// A second handle for the push path's reads.
    reader: SharedStorage,
    identity: RelayIdentity,
    /// The server certificate every challenge carries (serialized once).
    server_certificate: Vec<u8>,
    limits: Limits,
    /// Per online account, a counter bumped whenever its mailbox grows.
    online: Mutex<HashMap<Vec<u8>, watch::Sender<u64>>>,
    /// Request budgets of logged-in accounts.
    account_limits: KeyedLimits,
    /// Envelope budgets of recipients.
    recipient_limits: KeyedLimits,
    /// Bundle-fetch budgets of accounts.
    bundle_limits: KeyedLimits,
    /// Budgets of new accounts, by source address.
    registration_limits: KeyedLimits,
    /// Open connections by source address.
    connection_slots: Arc<ConnectionSlots>,
    /// Mailbox writes on their way to the group-commit writer.
    writes: mpsc::Sender<PendingWrite>,
    /// TURN credentials for calls, when the relay offers TURN.
    turn: Option<crate::turn::TurnIssuer>,
}

/// A mailbox write and where its outcome goes (`None`: the batch failed).
type PendingWrite = (MailboxWrite, oneshot::Sender<Option<MailboxOutcome>>);

/// Most writes committed together.
const MAX_BATCH: usize = 2_048;

/// The group-commit writer: takes every write waiting, commits them in one
/// transaction (one fsync), answers each, and repeats. While one batch
/// commits the next one gathers, so the commit rate adapts to the load.
async fn write_batches(storage: SharedStorage, mut writes: mpsc::Receiver<PendingWrite>) {
    while let Some(first) = writes.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match writes.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        let (ops, replies): (Vec<MailboxWrite>, Vec<_>) = batch.into_iter().unzip();
        match on_storage(storage.clone(), move |s| s.write_batch(&ops)).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Some(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "mailbox batch failed");
                for reply in replies {
                    let _ = reply.send(None);
                }
            }
        }
    }
}

/// Sends a write to the writer and waits for its outcome.
async fn write(shared: &Shared, op: MailboxWrite) -> Option<MailboxOutcome> {
    let (reply, outcome) = oneshot::channel();
    shared.writes.send((op, reply)).await.ok()?;
    outcome.await.ok().flatten()
}

/// Token buckets by key (an account or a recipient), forgotten once full
/// and unused so the map stays bounded by the active keys.
struct KeyedLimits {
    buckets: Mutex<HashMap<Vec<u8>, RateLimit>>,
    /// Tokens per second.
    rate: f64,
    burst: u32,
}

impl KeyedLimits {
    fn new(rate: f64, burst: u32) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            rate,
            burst,
        }
    }

    fn allow(&self, key: &[u8]) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, bucket| !bucket.is_full());
        }
        buckets
            .entry(key.to_vec())
            .or_insert_with(|| RateLimit::new(self.rate, self.burst))
            .allow()
    }
}

/// A bound relay, ready to serve.
pub struct RelayServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    pending_writes: Option<mpsc::Receiver<PendingWrite>>,
}

/// Why the relay could not start.
#[derive(Debug, displaydoc::Display, thiserror::Error)]
pub enum ServerError {
    /// network error: {0}
    Io(#[from] std::io::Error),
    /// TLS configuration error: {0}
    Tls(#[from] rustls::Error),
    /// storage error: {0}
    Storage(#[from] StorageError),
    /// the relay's keys: {0}
    Identity(#[from] crate::identity::IdentityError),
}

impl RelayServer {
    /// Binds the listener and prepares TLS (1.3 only).
    pub async fn bind(
        address: SocketAddr,
        identity: RelayIdentity,
        storage: Box<dyn RelayStorage>,
        limits: Limits,
    ) -> Result<Self, ServerError> {
        let (writes, pending_writes) = mpsc::channel(MAX_BATCH * 4);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = identity
            .tls_chain
            .iter()
            .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
            .collect();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(identity.tls_key.clone().into());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // Clients never resume (see the client's TLS set-up): tickets
        // would be work for nothing.
        config.send_tls13_tickets = 0;
        let server_certificate = identity.server_certificate()?;
        Ok(Self {
            listener: TcpListener::bind(address).await?,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            shared: Arc::new(Shared {
                reader: Arc::new(Mutex::new(storage.reader()?)),
                storage: Arc::new(Mutex::new(storage)),
                identity,
                server_certificate,
                account_limits: KeyedLimits::new(
                    f64::from(limits.account_requests_per_second),
                    limits.account_requests_per_second.saturating_mul(2),
                ),
                recipient_limits: KeyedLimits::new(
                    f64::from(limits.recipient_envelopes_per_second),
                    limits.recipient_burst,
                ),
                bundle_limits: KeyedLimits::new(
                    f64::from(limits.bundle_fetches_per_second),
                    limits.bundle_fetch_burst,
                ),
                registration_limits: KeyedLimits::new(
                    f64::from(limits.accounts_per_address_per_hour) / 3600.0,
                    limits.accounts_per_address_per_hour,
                ),
                connection_slots: ConnectionSlots::new(limits.max_connections_per_address),
                limits,
                online: Mutex::new(HashMap::new()),
                writes,
                turn: None,
            }),
            pending_writes: Some(pending_writes),
        })
    }

    /// Issues TURN credentials to authenticated accounts with `issuer`
    /// (see [`crate::turn`]). Call before [`RelayServer::serve`].
    pub fn with_turn(mut self, issuer: crate::turn::TurnIssuer) -> Self {
        // Nothing else holds `shared` before `serve`.
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.turn = Some(issuer);
        }
        self
    }

    /// The invite for clients that reach this relay at `host:port`.
    pub fn invite(&self, host: &str, port: u16) -> sotto_core::relay::invite::RelayInvite {
        self.shared.identity.invite(host, port)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, lets every
    /// connection finish the request it is handling, and returns. Nothing
    /// accepted is lost: an envelope is acknowledged to its sender only after
    /// the storage commit.
    pub async fn serve(mut self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let writer = self
            .pending_writes
            .take()
            .map(|writes| tokio::spawn(write_batches(self.shared.storage.clone(), writes)));
        let permits = Arc::new(Semaphore::new(self.shared.limits.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        let expiry = tokio::spawn(expire_periodically(self.shared.clone(), stop_rx.clone()));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                permit = permits.clone().acquire_owned() => permit,
            };
            let Ok(permit) = permit else { break };
            let (tcp, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors, say: back off instead of
                        // spinning on the error.
                        tracing::warn!(kind = ?e.kind(), "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            // Over its source's share: closed before any TLS work, so
            // that one source cannot hold every slot.
            let Some(slot) = self.shared.connection_slots.take(peer.ip()) else {
                tracing::debug!("connection refused: its source has too many open");
                drop(tcp);
                continue;
            };
            let shared = self.shared.clone();
            let acceptor = self.acceptor.clone();
            let stop = stop_rx.clone();
            connections.spawn(async move {
                serve_connection(shared, acceptor, tcp, slot, stop).await;
                drop(permit);
            });
            // Reap finished connection tasks so the set stays small.
            while connections.try_join_next().is_some() {}
        }
        tracing::info!(open = connections.len(), "shutting down");
        let _ = stop_tx.send(true);
        // Connections finish the request in hand; one that cannot (a client
        // that stopped reading) is cut off after a deadline.
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.shutdown().await;
        }
        expiry.abort();
        let _ = expiry.await;
        // Every connection is gone, so no write is waiting for an answer;
        // the writer ends once the last sender (in `shared`) is dropped.
        drop(self.shared);
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        Ok(())
    }
}

async fn expire_periodically(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = now_ms();
        match with_storage(&shared, move |s| s.expire(now)).await {
            Ok(expired) if expired > 0 => tracing::info!(expired, "expired envelopes"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiry failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs a storage call on the blocking pool.
async fn with_storage<T, F>(shared: &Arc<Shared>, work: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn RelayStorage) -> Result<T, StorageError> + Send + 'static,
{
    on_storage(shared.storage.clone(), work).await
}

async fn on_storage<T, F>(storage: SharedStorage, work: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn RelayStorage) -> Result<T, StorageError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut guard = storage
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(guard.as_mut())
    })
    .await
    .unwrap_or_else(|_| Err(StorageError::Database(rusqlite::Error::InvalidQuery)))
}

/// A token bucket: `rate` tokens per second, up to `burst` at once.
struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: f64, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate,
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn is_full(&self) -> bool {
        let refill = self.last.elapsed().as_secs_f64() * self.rate;
        self.tokens + refill >= self.burst
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

type Connection =
    Framed<tokio_rustls::server::TlsStream<TcpStream>, tokio_util::codec::LengthDelimitedCodec>;

/// The state of one connection.
struct Session {
    account: Option<Vec<u8>>,
    /// Where the connection comes from (see [`crate::source_address`]);
    /// in memory only, never logged.
    source: IpAddr,
    /// When an anonymous connection last sent a request other than a ping.
    last_work: Instant,
    /// Highest mailbox id pushed on this connection.
    pushed_up_to: u64,
    mailbox_changes: Option<watch::Receiver<u64>>,
    rate: RateLimit,
    /// Deliveries pushed and not yet acknowledged (at most `PUSH_WINDOW`).
    in_flight: usize,
    /// Whether envelopes may be waiting behind a full window, so that an
    /// acknowledgement should look for them.
    more_waiting: bool,
}

async fn serve_connection(
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    slot: ConnectionSlot,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let tls =
        match tokio::time::timeout(shared.limits.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(_)) | Err(_) => {
                tracing::debug!("TLS handshake failed or timed out");
                return;
            }
        };
    // The channel binding (see `wire::sign_channel`): this connection's
    // TLS exporter value, signed by the server key.
    let mut binding = [0u8; wire::CHANNEL_BINDING_LEN];
    let exported = tls
        .get_ref()
        .1
        .export_keying_material(&mut binding, wire::CHANNEL_EXPORTER_LABEL, None)
        .map(|_| ());
    let Some(channel_signature) = exported
        .ok()
        .and_then(|_| shared.identity.sign_channel(&binding, &mut rand::rng()))
    else {
        tracing::warn!("could not sign a connection's channel binding");
        return;
    };
    let mut connection = Framed::new(tls, wire::codec());
    let mut nonce = [0u8; wire::NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let challenge = server_frame(proto::server_frame::Kind::Challenge(proto::Challenge {
        nonce: nonce.to_vec(),
        protocol_version: wire::PROTOCOL_VERSION,
        server_certificate: shared.server_certificate.clone(),
        channel_signature,
    }));
    if send_frame(&mut connection, challenge).await.is_err() {
        return;
    }
    let mut session = Session {
        account: None,
        source: slot.source(),
        last_work: Instant::now(),
        pushed_up_to: 0,
        mailbox_changes: None,
        rate: RateLimit::new(
            f64::from(shared.limits.requests_per_second),
            shared.limits.request_burst,
        ),
        in_flight: 0,
        more_waiting: false,
    };
    let login = wire::login_challenge(&nonce, &binding);
    let outcome = run_session(&shared, &mut connection, &mut session, &login, &mut stop).await;
    if let Err(reason) = outcome {
        tracing::debug!(reason, "connection closed");
    }
    // Drop this connection's receiver first, so the count below is of the
    // other connections only.
    session.mailbox_changes = None;
    if let Some(account) = &session.account {
        leave_online(&shared, account);
    }
    drop(slot);
}

async fn run_session(
    shared: &Arc<Shared>,
    connection: &mut Connection,
    session: &mut Session,
    login: &[u8],
    stop: &mut watch::Receiver<bool>,
) -> Result<(), &'static str> {
    loop {
        let mailbox_changed = async {
            match session.mailbox_changes.as_mut() {
                Some(changes) => changes.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let idle_deadline = match session.account {
            Some(_) => tokio::time::Instant::now() + shared.limits.idle_timeout,
            None => {
                let limit = shared
                    .limits
                    .anonymous_idle_timeout
                    .min(shared.limits.idle_timeout);
                (session.last_work + limit).into()
            }
        };
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            changed = mailbox_changed => {
                if changed {
                    push_pending(shared, connection, session).await?;
                }
            }
            frame = tokio::time::timeout_at(idle_deadline, connection.next()) => {
                let body = match frame {
                    Err(_) => return Err("idle"),
                    Ok(None) => return Ok(()),
                    Ok(Some(Err(_))) => {
                        let _ = send_frame(connection, error_response(0, proto::Status::BadRequest)).await;
                        return Err("bad frame");
                    }
                    Ok(Some(Ok(body))) => body,
                };
                let frame = match wire::decode_client(&body) {
                    Ok(frame) => frame,
                    Err(_) => {
                        let _ = send_frame(connection, error_response(0, proto::Status::BadRequest)).await;
                        return Err("malformed frame");
                    }
                };
                let account_over = session
                    .account
                    .as_ref()
                    .is_some_and(|account| !shared.account_limits.allow(account));
                if !session.rate.allow() || account_over {
                    let id = match &frame.kind {
                        Some(proto::client_frame::Kind::Request(request)) => request.id,
                        _ => 0,
                    };
                    let _ = send_frame(connection, error_response(id, proto::Status::RateLimited)).await;
                    return Err("rate limited");
                }
                match frame.kind {
                    Some(proto::client_frame::Kind::Authenticate(auth)) => {
                        authenticate(shared, connection, session, login, auth).await?;
                        push_pending(shared, connection, session).await?;
                    }
                    Some(proto::client_frame::Kind::Request(request)) => {
                        if !matches!(request.body, Some(proto::request::Body::Ping(_))) {
                            session.last_work = Instant::now();
                        }
                        let acked = matches!(request.body, Some(proto::request::Body::Ack(_)));
                        let response = handle_request(shared, session, request).await;
                        send_frame(connection, response).await?;
                        if acked {
                            session.in_flight = session.in_flight.saturating_sub(1);
                            if session.more_waiting {
                                // The window has room again.
                                push_pending(shared, connection, session).await?;
                            }
                        }
                    }
                    None => return Err("empty frame"),
                }
            }
        }
    }
}

/// The canonical form of an identity key sent by a client: it must decode,
/// and its re-serialization is what the relay stores and keys maps by, so
/// that padded or otherwise odd encodings cannot create extra accounts or
/// rate-limit buckets.
fn canonical_identity(bytes: &[u8]) -> Option<Vec<u8>> {
    let key = IdentityKey::decode(bytes).ok()?;
    let canonical = key.serialize().to_vec();
    (canonical == bytes).then_some(canonical)
}

/// The largest sealed payload accepted: a sealed text is about 2 KiB, so
/// this leaves room while bounding what a mailbox can hold.
const MAX_PAYLOAD: usize = 64 * 1024;

/// Time allowed for writing to a client before it counts as gone: a client
/// that stops reading must not hold its connection (and the relay's
/// shutdown) forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Deliveries pushed to a connection and not yet acknowledged, at most.
const PUSH_WINDOW: usize = 64;

/// Runs one write to a client within `WRITE_TIMEOUT`.
async fn within_write_timeout<E>(
    write: impl Future<Output = Result<(), E>>,
) -> Result<(), &'static str> {
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("send failed"),
        Err(_) => Err("client not reading"),
    }
}

async fn send_frame(connection: &mut Connection, frame: bytes::Bytes) -> Result<(), &'static str> {
    within_write_timeout(connection.send(frame)).await
}

fn server_frame(kind: proto::server_frame::Kind) -> bytes::Bytes {
    wire::encode(&proto::ServerFrame { kind: Some(kind) })
}

fn response(id: u64, status: proto::Status, body: Option<proto::response::Body>) -> bytes::Bytes {
    server_frame(proto::server_frame::Kind::Response(proto::Response {
        id,
        status: status as i32,
        body,
    }))
}

fn error_response(id: u64, status: proto::Status) -> bytes::Bytes {
    response(id, status, None)
}

async fn authenticate(
    shared: &Arc<Shared>,
    connection: &mut Connection,
    session: &mut Session,
    login: &[u8],
    auth: proto::Authenticate,
) -> Result<(), &'static str> {
    // The nonce and the channel binding are this connection's, so a
    // signature recorded from another connection (a replay), or passed on
    // by a relay the client logged into, does not verify here.
    let canonical = canonical_identity(&auth.identity_key);
    let valid = canonical.is_some()
        && session.account.is_none()
        && wire::verify_challenge(&auth.identity_key, login, &auth.signature);
    let Some(identity) = canonical.filter(|_| valid) else {
        let _ = send_frame(
            connection,
            error_response(0, proto::Status::Unauthenticated),
        )
        .await;
        return Err("authentication failed");
    };
    let key = identity.clone();
    let exists = with_storage(shared, move |s| s.account_exists(&key))
        .await
        .map_err(|_| "storage")?;
    if !exists
        && !shared
            .registration_limits
            .allow(&source_limit_key(session.source))
    {
        let _ = send_frame(connection, error_response(0, proto::Status::RateLimited)).await;
        return Err("too many new accounts from this source");
    }
    let registration_id = auth.registration_id;
    let now = now_ms();
    let key = identity.clone();
    with_storage(shared, move |s| {
        s.upsert_account(&key, registration_id, now)
    })
    .await
    .map_err(|_| "storage")?;
    session.mailbox_changes = Some(join_online(shared, &identity));
    session.account = Some(identity);
    send_frame(connection, error_response(0, proto::Status::Ok)).await
}

/// A source address as a [`KeyedLimits`] key.
fn source_limit_key(source: IpAddr) -> Vec<u8> {
    match source {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn join_online(shared: &Shared, account: &[u8]) -> watch::Receiver<u64> {
    let mut online = shared.online.lock().unwrap_or_else(|p| p.into_inner());
    online
        .entry(account.to_vec())
        .or_insert_with(|| watch::channel(0).0)
        .subscribe()
}

fn leave_online(shared: &Shared, account: &[u8]) {
    let mut online = shared.online.lock().unwrap_or_else(|p| p.into_inner());
    if online
        .get(account)
        .is_some_and(|tx| tx.receiver_count() == 0)
    {
        online.remove(account);
    }
}

fn mailbox_grew(shared: &Shared, account: &[u8]) {
    let online = shared.online.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(tx) = online.get(account) {
        tx.send_modify(|version| *version = version.wrapping_add(1));
    }
}

/// Pushes queued envelopes not yet pushed on this connection, keeping at
/// most `PUSH_WINDOW` unacknowledged: a client is never sent more than it
/// can hold, whatever its mailbox holds.
async fn push_pending(
    shared: &Arc<Shared>,
    connection: &mut Connection,
    session: &mut Session,
) -> Result<(), &'static str> {
    let Some(account) = session.account.clone() else {
        return Ok(());
    };
    let room = PUSH_WINDOW.saturating_sub(session.in_flight);
    if room == 0 {
        session.more_waiting = true;
        return Ok(());
    }
    let after = session.pushed_up_to;
    // Read right here rather than on the blocking pool: an indexed read of
    // the hot WAL database on its own connection takes microseconds, while
    // the hop to a pool thread and back cost more than the read itself
    // (thread wake-ups were ~40 % of the relay's CPU under load).
    let batch = shared
        .reader
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .pending(&account, after, room)
        .map_err(|_| "storage")?;
    session.more_waiting = batch.len() == room;
    if batch.is_empty() {
        return Ok(());
    }
    for envelope in batch {
        session.pushed_up_to = envelope.id;
        session.in_flight += 1;
        let delivery = server_frame(proto::server_frame::Kind::Delivery(proto::Delivery {
            envelope_id: envelope.id,
            payload: envelope.payload,
            received_at_ms: envelope.received_at_ms,
        }));
        within_write_timeout(connection.feed(delivery)).await?;
    }
    within_write_timeout(SinkExt::<bytes::Bytes>::flush(connection)).await
}

async fn handle_request(
    shared: &Arc<Shared>,
    session: &Session,
    request: proto::Request,
) -> bytes::Bytes {
    use proto::request::Body;
    let id = request.id;
    let account = session.account.clone();
    let status_of = |e: StorageError| match e {
        StorageError::NoAccount => proto::Status::NotFound,
        StorageError::MailboxFull | StorageError::TooManyPreKeys => proto::Status::QuotaExceeded,
        StorageError::Database(e) => {
            tracing::error!(error = %e, "storage failure");
            proto::Status::Internal
        }
    };
    let Some(body) = request.body else {
        return error_response(id, proto::Status::BadRequest);
    };
    match body {
        Body::Ping(_) => error_response(id, proto::Status::Ok),
        Body::FetchBundle(fetch) => {
            let Some(key) = canonical_identity(&fetch.identity_key) else {
                return error_response(id, proto::Status::BadRequest);
            };
            if !shared.bundle_limits.allow(&key) {
                return error_response(id, proto::Status::RateLimited);
            }
            let account = key.clone();
            match with_storage(shared, move |s| s.take_bundle(&account)).await {
                Ok(Some(parts)) => {
                    let bundle = message_proto::PreKeyBundle {
                        version: 1,
                        registration_id: parts.registration_id,
                        device_id: u32::from(sotto_core::DEVICE_ID),
                        identity_key: key,
                        signed_prekey_id: parts.signed.id,
                        signed_prekey: parts.signed.public_key,
                        signed_prekey_signature: parts.signed.signature,
                        kyber_prekey_id: parts.kyber.id,
                        kyber_prekey: parts.kyber.public_key,
                        kyber_prekey_signature: parts.kyber.signature,
                        one_time_prekey_id: parts.one_time.as_ref().map(|k| k.id),
                        one_time_prekey: parts.one_time.map(|k| k.public_key).unwrap_or_default(),
                    };
                    let bytes = prost::Message::encode_to_vec(&bundle);
                    response(
                        id,
                        proto::Status::Ok,
                        Some(proto::response::Body::Bundle(bytes)),
                    )
                }
                Ok(None) => error_response(id, proto::Status::NotFound),
                Err(e) => error_response(id, status_of(e)),
            }
        }
        Body::Send(send) => {
            let Some(recipient) = canonical_identity(&send.recipient) else {
                return error_response(id, proto::Status::BadRequest);
            };
            if send.payload.is_empty() || send.payload.len() > MAX_PAYLOAD {
                return error_response(id, proto::Status::BadRequest);
            }
            if !shared.recipient_limits.allow(&recipient) {
                return error_response(id, proto::Status::RateLimited);
            }
            let now = now_ms();
            let op = MailboxWrite::Enqueue {
                recipient: recipient.clone(),
                payload: send.payload,
                now_ms: now,
                expires_at_ms: now + shared.limits.mailbox_ttl.as_millis() as u64,
                quota: MailboxQuota {
                    envelopes: shared.limits.mailbox_quota,
                    bytes: shared.limits.mailbox_bytes_quota,
                },
            };
            match write(shared, op).await {
                Some(MailboxOutcome::Queued(_)) => {
                    mailbox_grew(shared, &recipient);
                    error_response(id, proto::Status::Ok)
                }
                Some(MailboxOutcome::NoAccount) => error_response(id, proto::Status::NotFound),
                Some(MailboxOutcome::MailboxFull) => {
                    error_response(id, proto::Status::QuotaExceeded)
                }
                Some(MailboxOutcome::Acked(_)) | None => {
                    error_response(id, proto::Status::Internal)
                }
            }
        }
        Body::UploadPrekeys(upload) => {
            let Some(account) = account else {
                return error_response(id, proto::Status::Unauthenticated);
            };
            // The account is a canonical identity key (checked at login).
            let Ok(identity) = IdentityKey::decode(&account) else {
                return error_response(id, proto::Status::Internal);
            };
            // Up to a few hundred signature checks: off the async workers.
            let checked = tokio::task::spawn_blocking(move || {
                crate::prekeys::check_upload(&identity, &upload).map(|()| upload)
            })
            .await;
            let upload = match checked {
                Ok(Ok(upload)) => upload,
                Ok(Err(invalid)) => {
                    tracing::debug!(%invalid, "prekey upload refused");
                    return error_response(id, proto::Status::BadRequest);
                }
                Err(_) => return error_response(id, proto::Status::Internal),
            };
            let quota = shared.limits.prekey_bytes_quota;
            match with_storage(shared, move |s| s.store_prekeys(&account, &upload, quota)).await {
                Ok(counts) => response(
                    id,
                    proto::Status::Ok,
                    Some(proto::response::Body::PrekeyCounts(counts)),
                ),
                Err(e) => error_response(id, status_of(e)),
            }
        }
        Body::Ack(ack) => {
            let Some(account) = account else {
                return error_response(id, proto::Status::Unauthenticated);
            };
            // SQLite integers are i64; a larger id names no envelope, and
            // must not reach (and fail) the shared group commit.
            if ack.envelope_id > i64::MAX as u64 {
                return error_response(id, proto::Status::BadRequest);
            }
            let op = MailboxWrite::Ack {
                recipient: account,
                id: ack.envelope_id,
            };
            match write(shared, op).await {
                Some(MailboxOutcome::Acked(_)) => error_response(id, proto::Status::Ok),
                _ => error_response(id, proto::Status::Internal),
            }
        }
        Body::DeleteAccount(_) => {
            let Some(account) = account else {
                return error_response(id, proto::Status::Unauthenticated);
            };
            match with_storage(shared, move |s| s.delete_account(&account)).await {
                Ok(()) => error_response(id, proto::Status::Ok),
                Err(e) => error_response(id, status_of(e)),
            }
        }
        Body::GetTurnCredentials(_) => {
            let Some(account) = account else {
                return error_response(id, proto::Status::Unauthenticated);
            };
            match &shared.turn {
                // Bound to the account, for the TURN server's quota.
                Some(issuer) => response(
                    id,
                    proto::Status::Ok,
                    Some(proto::response::Body::TurnCredentials(
                        issuer.issue(&account, SystemTime::now()),
                    )),
                ),
                None => error_response(id, proto::Status::NotFound),
            }
        }
        Body::GetSenderCertificate(_) => {
            let Some(identity) = account.and_then(|a| IdentityKey::decode(&a).ok()) else {
                return error_response(id, proto::Status::Unauthenticated);
            };
            let certificate = shared.identity.issue_sender_certificate(
                &identity,
                SystemTime::now(),
                &mut rand::rng(),
            );
            match certificate.and_then(|c| c.serialized().ok().map(<[u8]>::to_vec)) {
                Some(bytes) => response(
                    id,
                    proto::Status::Ok,
                    Some(proto::response::Body::SenderCertificate(bytes)),
                ),
                None => error_response(id, proto::Status::Internal),
            }
        }
    }
}
