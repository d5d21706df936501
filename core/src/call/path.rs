//! The media path: candidates, connectivity checks, and the datagram pipe
//! the voice pipeline sends and receives through.
//!
//! This is ICE reduced to what a two-party call needs (the roles and the
//! nomination follow RFC 8445 in spirit, not on the wire):
//! - each side gathers a *host* candidate (a UDP socket) and, given a TURN
//!   server, a *relayed* candidate (a TURN allocation, RFC 8656), and sends
//!   them in a `Candidates` signal;
//! - both sides send checks on every pair of (local socket, remote
//!   candidate) and answer the checks they receive. Checks carry an HMAC
//!   under the call's [`PathKey`], so only the other side of this call can
//!   make a path look usable, and a reflected check is not an answer;
//! - the caller (controlling) picks a direct host-to-host pair as soon as
//!   one works, or else — after a short grace for a direct pair — a pair
//!   through TURN, and nominates it; the callee uses the pair the
//!   nomination arrived on, if it is one of its pairs: a nomination from an
//!   address the peer did not offer as a candidate (a captured nomination
//!   replayed from elsewhere, whose HMAC still verifies) is ignored. Peers
//!   behind NAT reach each other through a relayed candidate, whose address
//!   is the one signalled, so they are not affected.
//!
//! [`PathPolicy::RelayOnly`] offers and uses relayed candidates only, so the
//! other side never learns this device's address (as WebRTC's "relay" ICE
//! transport policy).
//!
//! Check packets start with the byte 0x01, in the range RFC 7983 gives to
//! STUN, so they never look like RTP or RTCP (128–191) and the two are told
//! apart by the first byte.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use webrtc_util::Conn;

use super::keys::PathKey;
use super::machine::Role;
use super::signal::{Candidate, CandidateKind};
use super::turn::{TurnAllocation, TurnServer};
use crate::error::{Error, Result};

/// Which candidates a side offers and uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPolicy {
    /// Host and relayed candidates; direct UDP is preferred.
    All,
    /// Relayed candidates only: media always goes through TURN and the
    /// peer never learns this device's address.
    RelayOnly,
}

/// How to set up the media path.
#[derive(Clone, Debug)]
pub struct PathConfig {
    /// The local address for the host candidate. An unspecified address
    /// (0.0.0.0) is replaced by the address of the interface that routes
    /// to the TURN server.
    pub local_ip: IpAddr,
    /// The TURN server for a relayed candidate, if any.
    pub turn: Option<TurnServer>,
    /// Which candidates to use.
    pub policy: PathPolicy,
    /// Interval between rounds of checks.
    pub check_interval: Duration,
    /// How long the caller waits for a direct pair once a relayed pair works.
    pub direct_grace: Duration,
    /// How long connecting may take before it fails.
    pub timeout: Duration,
}

impl PathConfig {
    /// Defaults: both kinds of candidate, checks every 50 ms, 250 ms of
    /// grace for a direct pair, 10 s to connect.
    pub fn new(local_ip: IpAddr, turn: Option<TurnServer>) -> Self {
        Self {
            local_ip,
            turn,
            policy: PathPolicy::All,
            check_interval: Duration::from_millis(50),
            direct_grace: Duration::from_millis(250),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Whether the chosen path is direct or through TURN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// Host to host: UDP straight to the peer.
    Direct,
    /// Through a TURN server on either side.
    Relayed,
}

/// A local socket: a host UDP socket or a TURN allocation.
#[derive(Clone)]
enum Endpoint {
    Host(Arc<UdpSocket>),
    Relayed(Arc<dyn Conn + Send + Sync>),
}

impl Endpoint {
    fn kind(&self) -> CandidateKind {
        match self {
            Endpoint::Host(_) => CandidateKind::Host,
            Endpoint::Relayed(_) => CandidateKind::Relayed,
        }
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<()> {
        match self {
            Endpoint::Host(socket) => socket.send_to(data, to).await.map(|_| ())?,
            Endpoint::Relayed(conn) => conn
                .send_to(data, to)
                .await
                .map(|_| ())
                .map_err(|_| Error::Turn("cannot send through the TURN allocation"))?,
        }
        Ok(())
    }
}

/// A datagram that arrived on local endpoint `local` from `from`.
struct Inbound {
    local: usize,
    from: SocketAddr,
    data: Vec<u8>,
}

/// Largest datagram accepted (an Ethernet MTU).
const MAX_DATAGRAM: usize = 1500;

/// The candidates of this side, with their sockets, before connecting.
pub struct LocalCandidates {
    endpoints: Vec<Endpoint>,
    candidates: Vec<Candidate>,
    turn: Option<TurnAllocation>,
}

impl std::fmt::Debug for LocalCandidates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCandidates")
            .field("candidates", &self.candidates)
            .finish_non_exhaustive()
    }
}

/// The local address that routes to `target` (no packet is sent).
async fn route_to(target: &str) -> Result<IpAddr> {
    let probe = UdpSocket::bind("0.0.0.0:0").await?;
    probe.connect(target).await?;
    Ok(probe.local_addr()?.ip())
}

impl LocalCandidates {
    /// Opens the host socket and, with a TURN server, allocates a relay.
    /// Fails only if no candidate at all can be had.
    pub async fn gather(config: &PathConfig) -> Result<Self> {
        let mut endpoints = Vec::new();
        let mut candidates = Vec::new();
        if config.policy == PathPolicy::All {
            let ip = match (&config.turn, config.local_ip.is_unspecified()) {
                (Some(turn), true) => route_to(&turn.address).await?,
                _ => config.local_ip,
            };
            let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
            candidates.push(Candidate {
                kind: CandidateKind::Host,
                address: socket.local_addr()?,
            });
            endpoints.push(Endpoint::Host(Arc::new(socket)));
        }
        let mut turn = None;
        if let Some(server) = &config.turn {
            let bind_ip = if config.local_ip.is_unspecified() {
                route_to(&server.address).await?
            } else {
                config.local_ip
            };
            match TurnAllocation::allocate(server, bind_ip).await {
                Ok(allocation) => {
                    candidates.push(Candidate {
                        kind: CandidateKind::Relayed,
                        address: allocation.relayed_address(),
                    });
                    endpoints.push(Endpoint::Relayed(allocation.conn()));
                    turn = Some(allocation);
                }
                // A host candidate may still do; with none, say why.
                Err(e) if endpoints.is_empty() => return Err(e),
                Err(e) => tracing::info!(error = %e, "no relayed candidate"),
            }
        }
        if endpoints.is_empty() {
            return Err(Error::NoMediaPath);
        }
        Ok(Self {
            endpoints,
            candidates,
            turn,
        })
    }

    /// The candidates to send to the peer.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Gives the candidates up without connecting (the call ended first):
    /// releases the TURN allocation.
    pub async fn close(self) {
        if let Some(turn) = self.turn {
            turn.close().await;
        }
    }

    /// Runs the connectivity checks against the peer's candidates and
    /// returns the path once one is chosen (see the module docs).
    pub async fn connect(
        self,
        remote: &[Candidate],
        role: Role,
        key: &PathKey,
        config: &PathConfig,
    ) -> Result<MediaPath> {
        let (tx, rx) = mpsc::channel(256);
        let tasks = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(index, endpoint)| {
                tokio::spawn(receive_loop(index, endpoint.clone(), tx.clone()))
            })
            .collect();
        let mut path = MediaPath {
            endpoints: self.endpoints,
            inbound: Mutex::new(rx),
            chosen: (0, SocketAddr::from(([0, 0, 0, 0], 0))),
            kind: PathKind::Relayed,
            checks: Checks {
                key: key.clone(),
                role,
            },
            tasks,
            turn: self.turn,
        };
        let pairs = pairs(&path.endpoints, remote, config.policy);
        if pairs.is_empty() {
            path.close().await;
            return Err(Error::NoMediaPath);
        }
        match tokio::time::timeout(config.timeout, path.run_checks(&pairs, config)).await {
            Ok(Ok(pair)) => {
                path.settle(pair);
                Ok(path)
            }
            Ok(Err(e)) => {
                path.close().await;
                Err(e)
            }
            Err(_) => {
                path.close().await;
                Err(Error::NoMediaPath)
            }
        }
    }
}

/// Every (local endpoint, remote address) worth checking.
fn pairs(endpoints: &[Endpoint], remote: &[Candidate], policy: PathPolicy) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (local, endpoint) in endpoints.iter().enumerate() {
        for candidate in remote {
            if policy == PathPolicy::RelayOnly && endpoint.kind() != CandidateKind::Relayed {
                continue;
            }
            let direct =
                endpoint.kind() == CandidateKind::Host && candidate.kind == CandidateKind::Host;
            pairs.push(Pair {
                local,
                remote: candidate.address,
                direct,
            });
        }
    }
    pairs
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Pair {
    local: usize,
    remote: SocketAddr,
    direct: bool,
}

async fn receive_loop(local: usize, endpoint: Endpoint, tx: mpsc::Sender<Inbound>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = match &endpoint {
            Endpoint::Host(socket) => socket.recv_from(&mut buf).await.ok(),
            Endpoint::Relayed(conn) => conn.recv_from(&mut buf).await.ok(),
        };
        let Some((n, from)) = received else {
            // A closed TURN allocation ends its loop; a host socket error
            // (an ICMP port unreachable surfacing, say) does not.
            if matches!(endpoint, Endpoint::Relayed(_)) {
                return;
            }
            // Never spin on an error that repeats.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let inbound = Inbound {
            local,
            from,
            data: buf[..n].to_vec(),
        };
        // UDP semantics: when the reader falls behind, drop.
        if tx.try_send(inbound).is_err() && tx.is_closed() {
            return;
        }
    }
}

/// How long the caller repeats a nomination that is not acknowledged
/// before it gives the pair up and nominates the next one that works.
const NOMINATION_PATIENCE: Duration = Duration::from_secs(2);

/// Check packets: marker, kind, sender's role, transaction id, tag.
const CHECK_MARKER: u8 = 0x01;
const CHECK_LEN: usize = 1 + 1 + 1 + 12 + 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CheckKind {
    Request = 1,
    Response = 2,
    Nominate = 3,
    NominateAck = 4,
}

struct Check {
    kind: CheckKind,
    transaction: [u8; 12],
}

struct Checks {
    key: PathKey,
    role: Role,
}

fn role_byte(role: Role) -> u8 {
    match role {
        Role::Caller => 0,
        Role::Callee => 1,
    }
}

impl Checks {
    fn tag(&self, header: &[u8]) -> [u8; 16] {
        let mut tag = [0u8; 16];
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key.0) {
            mac.update(header);
            tag.copy_from_slice(&mac.finalize().into_bytes()[..16]);
        }
        tag
    }

    fn encode(&self, kind: CheckKind, transaction: [u8; 12]) -> [u8; CHECK_LEN] {
        let mut packet = [0u8; CHECK_LEN];
        packet[0] = CHECK_MARKER;
        packet[1] = kind as u8;
        packet[2] = role_byte(self.role);
        packet[3..15].copy_from_slice(&transaction);
        let tag = self.tag(&packet[..15]);
        packet[15..].copy_from_slice(&tag);
        packet
    }

    /// A check from the peer: right length, right tag, and the peer's role
    /// (so that our own checks reflected back are not taken as answers).
    fn decode(&self, packet: &[u8]) -> Option<Check> {
        if packet.len() != CHECK_LEN || packet[0] != CHECK_MARKER {
            return None;
        }
        let peer = match self.role {
            Role::Caller => Role::Callee,
            Role::Callee => Role::Caller,
        };
        if packet[2] != role_byte(peer) {
            return None;
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key.0).ok()?;
        mac.update(&packet[..15]);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(&packet[15..]).ok()?;
        let kind = match packet[1] {
            1 => CheckKind::Request,
            2 => CheckKind::Response,
            3 => CheckKind::Nominate,
            4 => CheckKind::NominateAck,
            _ => return None,
        };
        let mut transaction = [0u8; 12];
        transaction.copy_from_slice(&packet[3..15]);
        Some(Check { kind, transaction })
    }
}

fn is_check(packet: &[u8]) -> bool {
    packet.first() == Some(&CHECK_MARKER)
}

fn transaction() -> [u8; 12] {
    let mut id = [0u8; 12];
    rand::rng().fill_bytes(&mut id);
    id
}

/// The established path: a datagram pipe to the peer for the voice
/// pipeline. Sending and receiving can happen from different tasks.
pub struct MediaPath {
    endpoints: Vec<Endpoint>,
    inbound: Mutex<mpsc::Receiver<Inbound>>,
    chosen: (usize, SocketAddr),
    kind: PathKind,
    checks: Checks,
    tasks: Vec<JoinHandle<()>>,
    turn: Option<TurnAllocation>,
}

impl std::fmt::Debug for MediaPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaPath")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl MediaPath {
    /// Direct or through TURN.
    pub fn kind(&self) -> PathKind {
        self.kind
    }

    /// Sends one datagram (an SRTP or SRTCP packet) to the peer.
    pub async fn send(&self, datagram: &[u8]) -> Result<()> {
        let (local, remote) = self.chosen;
        self.endpoints[local].send_to(datagram, remote).await
    }

    /// Receives the next datagram from the peer into `buf`; returns its
    /// length. Checks that still arrive are answered here; datagrams from
    /// anywhere but the chosen pair are dropped.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        let mut inbound = self.inbound.lock().await;
        loop {
            let packet = inbound.recv().await.ok_or(Error::NoMediaPath)?;
            if is_check(&packet.data) {
                self.answer_late_check(&packet).await;
                continue;
            }
            if (packet.local, packet.from) != self.chosen {
                continue;
            }
            let n = packet.data.len();
            if n > buf.len() {
                // Too big for the caller's buffer: drop it as the network
                // would, rather than truncate it.
                continue;
            }
            buf[..n].copy_from_slice(&packet.data);
            return Ok(n);
        }
    }

    /// The peer may still be checking, or may have missed our nomination
    /// acknowledgement: keep answering.
    async fn answer_late_check(&self, packet: &Inbound) {
        let Some(check) = self.checks.decode(&packet.data) else {
            return;
        };
        let reply = match check.kind {
            CheckKind::Request => CheckKind::Response,
            CheckKind::Nominate => CheckKind::NominateAck,
            _ => return,
        };
        let answer = self.checks.encode(reply, check.transaction);
        let _ = self.endpoints[packet.local]
            .send_to(&answer, packet.from)
            .await;
    }

    /// Releases the TURN allocation and stops the receive tasks.
    pub async fn close(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(turn) = self.turn.take() {
            turn.close().await;
        }
    }

    /// Sends a nomination on `pair`; returns its transaction id.
    async fn nominate(&self, pair: Pair) -> [u8; 12] {
        let id = transaction();
        let packet = self.checks.encode(CheckKind::Nominate, id);
        let _ = self.endpoints[pair.local]
            .send_to(&packet, pair.remote)
            .await;
        id
    }

    /// Checks until a pair is settled; returns (local, remote, direct).
    async fn run_checks(&self, pairs: &[Pair], config: &PathConfig) -> Result<Pair> {
        let mut sent: HashMap<[u8; 12], Pair> = HashMap::new();
        let mut succeeded: Vec<Pair> = Vec::new();
        let mut first_success: Option<Instant> = None;
        let mut nominated: Option<(Pair, [u8; 12])> = None;
        let mut nominated_at = Instant::now();
        // Pairs nominated in vain: the callee never acknowledged them.
        let mut abandoned: Vec<Pair> = Vec::new();
        let mut ticker = tokio::time::interval(config.check_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // With no direct pair to hope for (relay-only, or no host
        // candidates) there is nothing to wait for.
        let grace = if pairs.iter().any(|p| p.direct) {
            config.direct_grace
        } else {
            Duration::ZERO
        };
        let mut inbound = self.inbound.lock().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Some((pair, id)) = nominated {
                        if nominated_at.elapsed() < NOMINATION_PATIENCE {
                            let packet = self.checks.encode(CheckKind::Nominate, id);
                            let _ = self.endpoints[pair.local].send_to(&packet, pair.remote).await;
                            continue;
                        }
                        // The callee takes nominations only from the
                        // candidates we offered; through a NAT our host
                        // socket is seen elsewhere. Try the next pair.
                        succeeded.retain(|p| *p != pair);
                        abandoned.push(pair);
                        nominated = None;
                    }
                    if self.checks.role == Role::Caller {
                        if let Some(pair) = choose(&succeeded, first_success, grace) {
                            nominated = Some((pair, self.nominate(pair).await));
                            nominated_at = Instant::now();
                            continue;
                        }
                    }
                    // Keep the transaction map bounded: old checks are
                    // not worth matching any more.
                    if sent.len() > 4096 {
                        sent.clear();
                    }
                    for pair in pairs.iter().filter(|p| !succeeded.contains(p) && !abandoned.contains(p)) {
                        let id = transaction();
                        let packet = self.checks.encode(CheckKind::Request, id);
                        // A pair that cannot send (no route, TURN refusing
                        // the peer) simply never succeeds.
                        if self.endpoints[pair.local].send_to(&packet, pair.remote).await.is_ok() {
                            sent.insert(id, *pair);
                        }
                    }
                }
                packet = inbound.recv() => {
                    let packet = packet.ok_or(Error::NoMediaPath)?;
                    let Some(check) = self.checks.decode(&packet.data) else {
                        // Media before the path is settled, or noise.
                        continue;
                    };
                    match check.kind {
                        CheckKind::Request => {
                            let answer = self.checks.encode(CheckKind::Response, check.transaction);
                            let _ = self.endpoints[packet.local].send_to(&answer, packet.from).await;
                        }
                        CheckKind::Response => {
                            if let Some(pair) = sent.get(&check.transaction) {
                                if pair.local == packet.local && pair.remote == packet.from
                                    && !succeeded.contains(pair) && !abandoned.contains(pair)
                                {
                                    succeeded.push(*pair);
                                    first_success.get_or_insert_with(Instant::now);
                                    // Nominate at once when the choice is
                                    // already clear, not at the next tick.
                                    if self.checks.role == Role::Caller && nominated.is_none() {
                                        if let Some(pair) = choose(&succeeded, first_success, grace) {
                                            nominated = Some((pair, self.nominate(pair).await));
                                            nominated_at = Instant::now();
                                        }
                                    }
                                }
                            }
                        }
                        CheckKind::Nominate if self.checks.role == Role::Callee => {
                            // Only on a pair of ours: a nomination that verifies
                            // but comes from an address the peer never offered
                            // (a replayed copy) must not take the media there.
                            let Some(pair) = pairs
                                .iter()
                                .find(|p| p.local == packet.local && p.remote == packet.from)
                            else {
                                continue;
                            };
                            let answer = self.checks.encode(CheckKind::NominateAck, check.transaction);
                            let _ = self.endpoints[packet.local].send_to(&answer, packet.from).await;
                            return Ok(*pair);
                        }
                        CheckKind::NominateAck => {
                            if let Some((pair, id)) = nominated {
                                if id == check.transaction && pair.local == packet.local && pair.remote == packet.from {
                                    return Ok(pair);
                                }
                            }
                        }
                        CheckKind::Nominate => {}
                    }
                }
            }
        }
    }

    fn settle(&mut self, pair: Pair) {
        self.chosen = (pair.local, pair.remote);
        self.kind = if pair.direct {
            PathKind::Direct
        } else {
            PathKind::Relayed
        };
    }
}

/// The caller's choice among the pairs that work: a direct pair at once;
/// otherwise the first relayed pair, once the grace for a direct one has
/// passed.
fn choose(succeeded: &[Pair], first_success: Option<Instant>, grace: Duration) -> Option<Pair> {
    if let Some(direct) = succeeded.iter().find(|p| p.direct) {
        return Some(*direct);
    }
    let first = first_success?;
    (first.elapsed() >= grace)
        .then(|| succeeded.first().copied())
        .flatten()
}

impl Drop for MediaPath {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(role: Role, key: u8) -> Checks {
        Checks {
            key: PathKey([key; 32]),
            role,
        }
    }

    #[test]
    fn checks_verify_only_from_the_peer_with_the_key() {
        let caller = checks(Role::Caller, 1);
        let callee = checks(Role::Callee, 1);
        let stranger = checks(Role::Callee, 2);
        let request = caller.encode(CheckKind::Request, [5; 12]);
        assert!(callee.decode(&request).is_some());
        // Reflected back to the caller, it is not the callee's.
        assert!(caller.decode(&request).is_none());
        // Another key (another call, an attacker) does not verify.
        assert!(stranger.decode(&request).is_none());
        let mut tampered = request;
        tampered[5] ^= 1;
        assert!(callee.decode(&tampered).is_none());
        assert!(callee.decode(&request[..CHECK_LEN - 1]).is_none());
    }

    #[tokio::test]
    async fn a_nomination_from_an_address_that_is_no_candidate_is_ignored() -> Result<()> {
        let mut config = PathConfig::new(IpAddr::from([127, 0, 0, 1]), None);
        config.timeout = Duration::from_secs(5);
        let key = PathKey([7; 32]);
        let caller = LocalCandidates::gather(&config).await?;
        let callee = LocalCandidates::gather(&config).await?;
        let (for_callee, for_caller) = (caller.candidates().to_vec(), callee.candidates().to_vec());
        let (caller_address, callee_address) = (for_callee[0].address, for_caller[0].address);
        let callee_config = config.clone();
        let callee_key = key.clone();
        let callee = tokio::spawn(async move {
            callee
                .connect(&for_callee, Role::Callee, &callee_key, &callee_config)
                .await
        });
        // Mallory replays a genuine nomination (the HMAC verifies) from her
        // own address, before the caller even starts.
        let mallory = UdpSocket::bind("127.0.0.1:0").await?;
        let forged = checks(Role::Caller, 7).encode(CheckKind::Nominate, [9; 12]);
        for _ in 0..10 {
            mallory.send_to(&forged, callee_address).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let caller = caller
            .connect(&for_caller, Role::Caller, &key, &config)
            .await?;
        let callee = callee.await.map_err(|_| Error::NoMediaPath)??;
        assert_eq!(callee.chosen.1, caller_address);
        assert_ne!(callee.chosen.1, mallory.local_addr()?);
        assert_eq!(callee.kind(), PathKind::Direct);
        caller.close().await;
        callee.close().await;
        Ok(())
    }

    /// A caller behind NAT: its checks reach the callee from the NAT's
    /// address, which is no candidate. The callee ignores the nomination on
    /// that pair; the caller gives it up and nominates the next that works.
    #[tokio::test]
    async fn an_unacknowledged_nomination_gives_way_to_the_next_pair() -> Result<()> {
        let mut config = PathConfig::new(IpAddr::from([127, 0, 0, 1]), None);
        config.timeout = Duration::from_secs(8);
        let key = PathKey([8; 32]);
        let caller = LocalCandidates::gather(&config).await?;
        let callee = LocalCandidates::gather(&config).await?;
        let (caller_host, callee_host) = (caller.candidates()[0], callee.candidates()[0]);
        // The NAT: the caller reaches the callee through it, and the callee
        // sees its outside address.
        let inside = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let outside = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let nat_inside = inside.local_addr()?;
        let forward = |from: Arc<UdpSocket>, to: Arc<UdpSocket>, target: SocketAddr| {
            tokio::spawn(async move {
                let mut buf = [0u8; MAX_DATAGRAM];
                while let Ok((n, _)) = from.recv_from(&mut buf).await {
                    let _ = to.send_to(&buf[..n], target).await;
                }
            })
        };
        let nat = [
            forward(inside.clone(), outside.clone(), callee_host.address),
            forward(outside, inside, caller_host.address),
        ];
        // The caller's direct pair goes through the NAT; its other pair
        // (offered as relayed, so tried only after) reaches the callee as is.
        let for_caller = [
            Candidate {
                kind: CandidateKind::Host,
                address: nat_inside,
            },
            Candidate {
                kind: CandidateKind::Relayed,
                address: callee_host.address,
            },
        ];
        let callee_config = config.clone();
        let callee_key = key.clone();
        let callee = tokio::spawn(async move {
            callee
                .connect(&[caller_host], Role::Callee, &callee_key, &callee_config)
                .await
        });
        let caller = caller
            .connect(&for_caller, Role::Caller, &key, &config)
            .await?;
        let callee = callee.await.map_err(|_| Error::NoMediaPath)??;
        assert_eq!(caller.chosen.1, callee_host.address);
        assert_eq!(callee.chosen.1, caller_host.address);
        nat.iter().for_each(JoinHandle::abort);
        caller.close().await;
        callee.close().await;
        Ok(())
    }

    #[test]
    fn checks_never_look_like_rtp() {
        let packet = checks(Role::Caller, 1).encode(CheckKind::Request, [0; 12]);
        // RTP and RTCP start with version 2: first byte 128..=191.
        assert!(!(128..=191).contains(&packet[0]));
    }

    #[test]
    fn a_direct_pair_wins_and_a_relayed_one_waits_for_the_grace() {
        let relayed = Pair {
            local: 1,
            remote: "127.0.0.1:1".parse().expect("address"),
            direct: false,
        };
        let direct = Pair {
            local: 0,
            remote: "127.0.0.1:2".parse().expect("address"),
            direct: true,
        };
        let now = Instant::now();
        assert_eq!(choose(&[], None, Duration::ZERO), None);
        assert_eq!(
            choose(&[relayed], Some(now), Duration::from_secs(3600)),
            None
        );
        assert_eq!(choose(&[relayed], Some(now), Duration::ZERO), Some(relayed));
        assert_eq!(
            choose(&[relayed, direct], Some(now), Duration::from_secs(3600)),
            Some(direct)
        );
    }
}
