//! Keeps an account connected to its relay: connects and logs in, reconnects
//! with exponential backoff and full jitter, uploads prekeys, flushes the
//! outbox (sealing each envelope for its recipient), receives deliveries —
//! acknowledging each only after `messaging::receive_sealed_via_relay`
//! committed it —
//! and pings to keep the connection alive. Sealed envelopes go out on a
//! second, anonymous connection, kept while it is in use and opened afresh
//! after [`ANONYMOUS_REUSE`] of quiet: the relay closes anonymous
//! connections that only ping, so it is not kept alive by pings.
//!
//! The store is shared with the application behind a mutex; the agent
//! holds the lock only for synchronous store work, never across network I/O.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use libsignal_protocol::SenderCertificate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, watch, Notify};

use super::client::{Login, RelayConnection};
use super::invite::RelayInvite;
use super::sealed;
use crate::error::{Error, Result};
use crate::messaging::{self, SealedReceived};
use crate::prekeys;
use crate::store::SottoStore;

/// Exponential backoff with full jitter (each delay uniform in
/// `[0, min(max, base * 2^attempt)]`), so that clients of a relay that
/// restarts do not all come back at the same instant.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base` and capped at `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay<R: Rng>(&mut self, rng: &mut R) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(rng.random::<f64>())
    }

    /// Back to the first delay, after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// What the agent reports.
#[derive(Debug)]
pub enum AgentEvent {
    /// Logged in to the relay.
    Connected,
    /// The connection ended; the agent will retry.
    Disconnected(Error),
    /// A delivery was committed (and acknowledged).
    Received(SealedReceived),
    /// A delivery could not be processed and was acknowledged (dropped)
    /// because retrying cannot help; the error says why.
    Dropped(Error),
    /// An outbox entry was handed to the relay.
    Sent(crate::message::MessageId),
    /// The relay refused an outbox entry (unknown recipient, full mailbox,
    /// no session); it stays in the outbox and is tried again later.
    SendFailed(crate::message::MessageId, Error),
}

/// A sender certificate is renewed when less than this is left (12 h of
/// its 24 h).
const CERTIFICATE_MARGIN_MS: u64 = 12 * 3_600_000;

/// How the agent reaches the relay.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The relay.
    pub invite: RelayInvite,
    /// A SOCKS5 proxy (Tor/Orbot) to go through, if any.
    pub socks5: Option<SocketAddr>,
    /// Interval between keepalive pings.
    pub keepalive: Duration,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// When to make and upload more prekeys.
    pub prekeys: prekeys::PreKeyPolicy,
}

impl AgentConfig {
    /// Defaults: direct connection, 30 s keepalive, backoff 0.5 s to 60 s.
    pub fn new(invite: RelayInvite) -> Self {
        Self {
            invite,
            socks5: None,
            keepalive: Duration::from_secs(30),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
            prekeys: prekeys::PreKeyPolicy::default(),
        }
    }
}

/// Runs until `stop` turns true. `outbox_changed` should be notified after
/// the application queues messages (`messaging::send_text`).
pub async fn run<S>(
    store: Arc<Mutex<S>>,
    mut config: AgentConfig,
    outbox_changed: Arc<Notify>,
    events: mpsc::UnboundedSender<AgentEvent>,
    mut stop: watch::Receiver<bool>,
) where
    S: SottoStore + Send + 'static,
{
    let mut rng = StdRng::from_os_rng();
    let mut certificate: Option<SenderCertificate> = None;
    while !*stop.borrow() {
        let mut connected = false;
        let result = tokio::select! {
            _ = stop.changed() => return,
            result = session(&store, &config, &outbox_changed, &events, &mut certificate, &mut connected, &mut rng) => result,
        };
        if connected {
            config.backoff.reset();
        }
        if let Err(e) = result {
            let _ = events.send(AgentEvent::Disconnected(e));
        }
        let delay = config.backoff.next_delay(&mut rng);
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

fn lock<S>(store: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One connected session; returns when the connection fails.
async fn session<S>(
    store: &Arc<Mutex<S>>,
    config: &AgentConfig,
    outbox_changed: &Notify,
    events: &mpsc::UnboundedSender<AgentEvent>,
    certificate: &mut Option<SenderCertificate>,
    connected: &mut bool,
    rng: &mut StdRng,
) -> Result<()>
where
    S: SottoStore + Send + 'static,
{
    let account = lock(store).local_account()?.ok_or(Error::NoAccount)?;
    let login = Login {
        identity: &account.identity,
        registration_id: account.registration_id,
    };
    let mut connection = open(config, Some(login), rng).await?;
    let mut sending = AnonymousSending::default();
    *connected = true;
    let _ = events.send(AgentEvent::Connected);

    replenish_prekeys(store, &mut connection, config, rng).await?;
    flush_outbox(
        store,
        config,
        &mut connection,
        &mut sending,
        certificate,
        events,
        rng,
    )
    .await?;

    let mut keepalive = tokio::time::interval(config.keepalive);
    keepalive.tick().await;
    loop {
        tokio::select! {
            delivery = connection.next_delivery() => {
                let delivery = delivery?;
                let relay_received_at =
                    SystemTime::UNIX_EPOCH + Duration::from_millis(delivery.received_at_ms);
                let outcome = messaging::receive_sealed_via_relay(
                    &mut *lock(store),
                    &delivery.payload,
                    &config.invite,
                    relay_received_at,
                    SystemTime::now(),
                    rng,
                );
                match outcome {
                    Ok(received) => {
                        connection.ack(delivery.envelope_id).await?;
                        let _ = events.send(AgentEvent::Received(received));
                    }
                    // A storage failure may pass: keep the envelope on the
                    // relay and reconnect.
                    Err(e @ Error::Storage(_)) | Err(e @ Error::Io(_)) => return Err(e),
                    // Anything else fails the same way every time.
                    Err(e) => {
                        connection.ack(delivery.envelope_id).await?;
                        let _ = events.send(AgentEvent::Dropped(e));
                    }
                }
            }
            _ = outbox_changed.notified() => {
                flush_outbox(store, config, &mut connection, &mut sending, certificate, events, rng).await?;
            }
            // The keepalive also tops up prekeys that others fetched.
            _ = keepalive.tick() => {
                replenish_prekeys(store, &mut connection, config, rng).await?;
            }
        }
    }
}

/// Uploads the prekeys the relay does not have yet; when the relay's stock
/// of one-time keys is below the policy's low-water mark, makes a new batch
/// first (the counts come back from every upload).
async fn replenish_prekeys<S>(
    store: &Arc<Mutex<S>>,
    connection: &mut RelayConnection,
    config: &AgentConfig,
    rng: &mut StdRng,
) -> Result<()>
where
    S: SottoStore + Send + 'static,
{
    let upload = prekeys::take_for_upload(&mut *lock(store))?;
    let counts = connection.upload_prekeys(&upload).await?;
    let low = config.prekeys.low_water;
    if counts.one_time < low || counts.one_time_kyber < low {
        prekeys::maintain_prekeys(&mut *lock(store), &config.prekeys, SystemTime::now(), rng)?;
        let upload = prekeys::take_for_upload(&mut *lock(store))?;
        connection.upload_prekeys(&upload).await?;
    }
    Ok(())
}

async fn open(
    config: &AgentConfig,
    login: Option<Login<'_>>,
    rng: &mut StdRng,
) -> Result<RelayConnection> {
    match config.socks5 {
        Some(proxy) => RelayConnection::connect_via_socks5(&config.invite, proxy, login, rng).await,
        None => RelayConnection::connect(&config.invite, login, rng).await,
    }
}

/// How long an anonymous sending connection is used again after its last
/// send. Well below the relay's default idle limit for anonymous
/// connections (20 s), so a conversation in progress pays for no new TLS
/// handshake (or Tor stream) per text, and a quiet one never finds its
/// connection closed under it.
const ANONYMOUS_REUSE: Duration = Duration::from_secs(10);

/// The anonymous connection sealed envelopes go out on, so the relay cannot
/// tie them to the account logged in on the other; with when it last sent.
#[derive(Default)]
struct AnonymousSending {
    connection: Option<(RelayConnection, tokio::time::Instant)>,
}

impl AnonymousSending {
    /// The connection to send on: the last one if it sent within
    /// [`ANONYMOUS_REUSE`], else a new one.
    async fn get(
        &mut self,
        config: &AgentConfig,
        rng: &mut StdRng,
    ) -> Result<&mut RelayConnection> {
        let now = tokio::time::Instant::now();
        let stale = self
            .connection
            .as_ref()
            .is_none_or(|(_, last)| now.duration_since(*last) >= ANONYMOUS_REUSE);
        if stale {
            self.connection = Some((open(config, None, rng).await?, now));
        }
        let (connection, last) = self.connection.as_mut().ok_or(Error::ConnectionClosed)?;
        *last = now;
        Ok(connection)
    }
}

/// Seals and sends everything in the outbox, oldest first: certificates
/// come from the logged-in `connection`, envelopes go out on the anonymous
/// `sending` one.
async fn flush_outbox<S>(
    store: &Arc<Mutex<S>>,
    config: &AgentConfig,
    connection: &mut RelayConnection,
    sending: &mut AnonymousSending,
    certificate: &mut Option<SenderCertificate>,
    events: &mpsc::UnboundedSender<AgentEvent>,
    rng: &mut StdRng,
) -> Result<()>
where
    S: SottoStore + Send + 'static,
{
    let pending = lock(store).outbox()?;
    for entry in pending {
        // Renewed well before expiry: recipients check it as of when the
        // relay accepted the envelope, so only its age at sending matters.
        let fresh = certificate.as_ref().is_some_and(|c| {
            let expires = c.expiration().map(|t| t.epoch_millis()).unwrap_or(0);
            expires > crate::millis(SystemTime::now()) + CERTIFICATE_MARGIN_MS
        });
        if !fresh {
            *certificate = Some(connection.sender_certificate().await?);
        }
        let Some(cert) = certificate.as_ref() else {
            return Err(Error::RelayProtocol("no sender certificate"));
        };
        let sealed = {
            let guard = lock(store);
            match guard.identity_record(&entry.contact)? {
                Some(record) => sealed::seal(&*guard, &entry.contact, &entry.envelope, cert, rng)
                    .map(|payload| (record.key, payload)),
                None => Err(Error::NoSession),
            }
        };
        let outcome = match sealed {
            Ok((recipient, payload)) => {
                let sending = sending.get(config, rng).await?;
                sending.send_sealed(&recipient, payload).await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                messaging::mark_sent(&mut *lock(store), entry.id)?;
                let _ = events.send(AgentEvent::Sent(entry.message_id));
            }
            // Over the recipient's rate: the rest waits for the next flush.
            Err(e @ Error::RelayRefused("rate limited")) => {
                let _ = events.send(AgentEvent::SendFailed(entry.message_id, e));
                return Ok(());
            }
            // This entry cannot go now; the others still can.
            Err(e @ (Error::RelayRefused(_) | Error::NoSession | Error::UntrustedIdentity)) => {
                let _ = events.send(AgentEvent::SendFailed(entry.message_id, e));
            }
            // The connection failed: end the session and reconnect.
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_and_resets() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay(&mut rng)).collect();
        for (attempt, delay) in delays.iter().enumerate() {
            let ceiling = Duration::from_millis(100 * (1 << attempt)).min(Duration::from_secs(2));
            assert!(*delay <= ceiling);
        }
        assert!(
            delays
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 5,
            "jittered"
        );
        backoff.reset();
        assert!(backoff.next_delay(&mut rng) <= Duration::from_millis(100));
    }
}
