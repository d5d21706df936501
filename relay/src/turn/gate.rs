//! The embedded TURN server's front door: every datagram to its listening
//! port passes here before the TURN crate sees it, because the crate has
//! no peer policy, no quota, and no way to tell an Allocate from a Refresh
//! when it checks credentials. For authenticated requests (the message
//! integrity checked here with the same key the crate uses) it answers:
//!
//! - CreatePermission and ChannelBind towards a peer the [`PeerPolicy`]
//!   refuses: 403 Forbidden (RFC 8656 §9.2, §12.2), nothing installed.
//!   Send indications towards one are dropped (§11.2 has no answer).
//! - Allocate when the account named in the username already holds its
//!   quota of allocations: 486 Allocation Quota Reached (§7.2 step 7).
//! - Any request with an expired username, unless it comes from the
//!   allocation made with that very username: 401 Unauthorized. So
//!   credentials only last long enough to allocate, while the call's own
//!   allocation keeps refreshing itself and its permissions (the TURN
//!   client repeats the username it allocated with, as RFC 8656 §7.2
//!   requires) for as long as the call lasts, up to `max_call_secs`.
//!
//! Everything else goes through unchanged, and the crate answers it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use sotto_core::call::turn::rest_username_expiry;
use stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_REALM, ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS};
use stun::error_code::{ErrorCode, CODE_ALLOC_QUOTA_REACHED, CODE_FORBIDDEN, CODE_UNAUTHORIZED};
use stun::integrity::MessageIntegrity;
use stun::message::{
    Getter, Message, MessageType, Setter, CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_REQUEST,
    METHOD_ALLOCATE, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_REFRESH, METHOD_SEND,
};
use stun::textattrs::TextAttribute;
use turn::allocation::five_tuple::FiveTuple;
use turn::allocation::AllocationInfo;
use turn::proto::chandata::ChannelData;
use turn::proto::peeraddr::PeerAddress;
use turn::proto::PROTO_UDP;
use turn::server::Server;
use webrtc_util::Conn;

use super::peers::PeerPolicy;
use super::{rest_username_account, RestAuth};

/// The listening socket of the embedded server, screened.
pub(super) struct Gate {
    socket: Arc<dyn Conn + Send + Sync>,
    local: SocketAddr,
    policy: PeerPolicy,
    auth: Arc<RestAuth>,
    allocations_per_account: usize,
    /// The server behind the gate, to look its allocations up; set once it
    /// runs (until then requests that need a look-up are dropped, and the
    /// client retransmits).
    server: OnceLock<Weak<Server>>,
}

/// How long a look-up of the server's allocations may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);

/// What to do with a datagram.
enum Verdict {
    Pass,
    Drop,
    Answer(Vec<u8>),
}

/// A request whose message integrity checked out.
struct Signed {
    username: String,
    key: Vec<u8>,
}

impl Gate {
    pub(super) fn new(
        socket: Arc<dyn Conn + Send + Sync>,
        local: SocketAddr,
        policy: PeerPolicy,
        auth: Arc<RestAuth>,
        allocations_per_account: usize,
    ) -> Self {
        Self {
            socket,
            local,
            policy,
            auth,
            allocations_per_account,
            server: OnceLock::new(),
        }
    }

    /// Lets the gate look up the allocations of `server`.
    pub(super) fn serve(&self, server: &Arc<Server>) {
        let _ = self.server.set(Arc::downgrade(server));
    }

    async fn screen(&self, datagram: &[u8], from: SocketAddr) -> Verdict {
        // Channel data goes to a peer that ChannelBind has already judged.
        if ChannelData::is_channel_data(datagram) {
            return Verdict::Pass;
        }
        let mut message = Message::new();
        message.raw = datagram.to_vec();
        if message.decode().is_err() {
            return Verdict::Pass;
        }
        match (message.typ.class, message.typ.method) {
            (CLASS_INDICATION, METHOD_SEND) if !self.peers_allowed(&message) => Verdict::Drop,
            (
                CLASS_REQUEST,
                METHOD_ALLOCATE | METHOD_REFRESH | METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND,
            ) => self.screen_request(&message, from).await,
            _ => Verdict::Pass,
        }
    }

    async fn screen_request(&self, request: &Message, from: SocketAddr) -> Verdict {
        // Unsigned (or wrongly signed) requests go on: the crate answers
        // them with its nonce challenge or its own error.
        let Some(signed) = self.signed(request) else {
            return Verdict::Pass;
        };
        let fresh = rest_username_expiry(&signed.username).is_some_and(|t| t > SystemTime::now());
        if !fresh {
            match self.allocation_of(from).await {
                None => return Verdict::Drop,
                Some(Some(username)) if username == signed.username => {}
                Some(_) => return answer(request, CODE_UNAUTHORIZED, None),
            }
        }
        match request.typ.method {
            METHOD_ALLOCATE => self.screen_allocate(request, from, &signed).await,
            METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND if !self.peers_allowed(request) => {
                answer(request, CODE_FORBIDDEN, Some(&signed.key))
            }
            _ => Verdict::Pass,
        }
    }

    async fn screen_allocate(
        &self,
        request: &Message,
        from: SocketAddr,
        signed: &Signed,
    ) -> Verdict {
        let Some(allocations) = self.allocations(None).await else {
            return Verdict::Drop;
        };
        if allocations.contains_key(&self.five_tuple(from)) {
            // A retransmission, or a mismatch the crate answers (437).
            return Verdict::Pass;
        }
        let account = rest_username_account(&signed.username);
        let held = allocations
            .values()
            .filter(|a| rest_username_account(&a.username) == account)
            .count();
        if held >= self.allocations_per_account {
            return answer(request, CODE_ALLOC_QUOTA_REACHED, Some(&signed.key));
        }
        Verdict::Pass
    }

    /// The username of the allocation `from` holds: `Some(None)` if none,
    /// `None` if the server cannot be asked.
    async fn allocation_of(&self, from: SocketAddr) -> Option<Option<String>> {
        let five_tuple = self.five_tuple(from);
        let mut found = self.allocations(Some(vec![five_tuple])).await?;
        Some(found.remove(&five_tuple).map(|a| a.username))
    }

    /// The server's allocations (those of `five_tuples`, or all), or `None`
    /// if it cannot say promptly: the server reads no datagram meanwhile.
    async fn allocations(
        &self,
        five_tuples: Option<Vec<FiveTuple>>,
    ) -> Option<HashMap<FiveTuple, AllocationInfo>> {
        let server = self.server.get().and_then(Weak::upgrade)?;
        tokio::time::timeout(LOOKUP_TIMEOUT, server.get_allocations_info(five_tuples))
            .await
            .ok()?
            .ok()
    }

    fn five_tuple(&self, from: SocketAddr) -> FiveTuple {
        FiveTuple {
            protocol: PROTO_UDP,
            src_addr: from,
            dst_addr: self.local,
        }
    }

    /// The username and key of `request`, if its message integrity is the
    /// one the shared secret gives.
    fn signed(&self, request: &Message) -> Option<Signed> {
        if !request.contains(ATTR_MESSAGE_INTEGRITY) {
            return None;
        }
        let username = TextAttribute::get_from_as(request, ATTR_USERNAME).ok()?;
        let realm = TextAttribute::get_from_as(request, ATTR_REALM).ok()?;
        let key = self.auth.key(&username.text, &realm.text)?;
        MessageIntegrity(key.clone())
            .check(&mut request.clone())
            .ok()?;
        Some(Signed {
            username: username.text,
            key,
        })
    }

    /// Whether every XOR-PEER-ADDRESS in `message` is a peer the policy
    /// allows (the crate reads only the first; a second must not slip by).
    fn peers_allowed(&self, message: &Message) -> bool {
        message
            .attributes
            .0
            .iter()
            .filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS)
            .all(|a| {
                let mut one = Message::new();
                one.transaction_id = message.transaction_id;
                one.add(ATTR_XOR_PEER_ADDRESS, &a.value);
                let mut peer = PeerAddress::default();
                peer.get_from(&one).is_ok()
                    && self.policy.allows(SocketAddr::new(peer.ip, peer.port))
            })
    }
}

/// An error response to `request`, signed with `key` when the request was
/// (RFC 8489 §9.2.4: a 401 is not).
fn answer(request: &Message, code: ErrorCode, key: Option<&[u8]>) -> Verdict {
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(request.transaction_id),
        Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(code),
    ];
    if let Some(key) = key {
        setters.push(Box::new(MessageIntegrity(key.to_vec())));
    }
    let mut response = Message::new();
    match response.build(&setters) {
        Ok(()) => Verdict::Answer(response.raw),
        Err(_) => Verdict::Drop,
    }
}

#[async_trait::async_trait]
impl Conn for Gate {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.socket.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            match self.screen(&buf[..n], from).await {
                Verdict::Pass => return Ok((n, from)),
                Verdict::Drop => {}
                Verdict::Answer(response) => {
                    let _ = self.socket.send_to(&response, from).await;
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.socket.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        self.socket.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.socket.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.socket.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
