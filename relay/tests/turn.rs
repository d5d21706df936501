//! The media path through TURN (RFC 8656): a real `sotto-relay` process
//! with its embedded TURN server, and a coturn the test starts itself
//! (Debian package `coturn`, installed by `scripts/setup.sh`), both on
//! loopback. Credentials come from the relay in both cases: coturn runs
//! with `use-auth-secret` and the relay's secret.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::call::{
    self, CallId, CallParties, CalleeHandshake, CallerHandshake, CandidateKind, LocalCandidates,
    MediaPath, PathConfig, PathKey, PathKind, PathPolicy, Role, TurnAllocation, TurnServer,
};
use sotto_core::relay::client::RelayConnection;
use sotto_core::Error;
use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::audio::{BufferSink, BufferSource};
use sotto_voice::MediaConfig;
use support::*;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Every network wait in these tests is bounded by this.
const DEADLINE: Duration = Duration::from_secs(20);

/// The path key both sides of a fresh call agree on.
fn agreed_path_key(seed: u64) -> TestResult<PathKey> {
    let mut rng = StdRng::seed_from_u64(seed);
    let alice = *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key();
    let bob = *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key();
    let parties = CallParties {
        caller: &alice,
        callee: &bob,
    };
    let call_id = CallId::random(&mut rng);
    let (caller, commitment) = CallerHandshake::start(call_id, &mut rng);
    let (callee, key) = CalleeHandshake::accept(call_id, commitment, &mut rng);
    let (caller_keys, revealed) = caller.finish(&key, parties)?;
    let callee_keys = callee.finish(&revealed, parties)?;
    assert_eq!(caller_keys.path, callee_keys.path);
    Ok(caller_keys.path)
}

/// A UDP port free right now on loopback.
fn free_udp_port() -> TestResult<u16> {
    Ok(std::net::UdpSocket::bind((LOOPBACK, 0))?
        .local_addr()?
        .port())
}

/// Both sides gather, swap candidates and connect; returns their paths.
async fn connect_pair(config: &PathConfig, key: &PathKey) -> TestResult<(MediaPath, MediaPath)> {
    let (alice, bob) = tokio::join!(
        LocalCandidates::gather(config),
        LocalCandidates::gather(config)
    );
    let (alice, bob) = (alice?, bob?);
    if config.policy == PathPolicy::RelayOnly {
        for side in [&alice, &bob] {
            assert!(side
                .candidates()
                .iter()
                .all(|c| c.kind == CandidateKind::Relayed));
        }
    }
    let (for_bob, for_alice) = (alice.candidates().to_vec(), bob.candidates().to_vec());
    let (alice, bob) = tokio::join!(
        alice.connect(&for_alice, Role::Caller, key, config),
        bob.connect(&for_bob, Role::Callee, key, config)
    );
    Ok((alice?, bob?))
}

/// Sends `payload` from `from` until `to` receives it (UDP may drop the
/// first ones while TURN permissions settle); bounded by [`DEADLINE`].
async fn deliver(from: &MediaPath, to: &MediaPath, payload: &[u8]) -> TestResult {
    let mut buf = [0u8; 1500];
    let got = tokio::time::timeout(DEADLINE, async {
        loop {
            from.send(payload).await?;
            if let Ok(received) =
                tokio::time::timeout(Duration::from_millis(100), to.recv(&mut buf)).await
            {
                let n = received?;
                return Ok::<_, Error>(buf[..n].to_vec());
            }
        }
    })
    .await
    .map_err(|_| "no datagram arrived in time")??;
    assert_eq!(got, payload);
    Ok(())
}

/// An RTP-looking datagram (version 2), as the voice pipeline sends.
fn media(tag: u8) -> Vec<u8> {
    let mut packet = vec![0x80, 111, 0, tag];
    packet.extend_from_slice(&[tag; 60]);
    packet
}

/// Media both ways over a path forced through `turn`.
async fn relayed_call_through(turn: TurnServer, seed: u64) -> TestResult {
    let key = agreed_path_key(seed)?;
    let mut config = PathConfig::new(LOOPBACK, Some(turn));
    config.policy = PathPolicy::RelayOnly;
    let (alice, bob) = tokio::time::timeout(DEADLINE, connect_pair(&config, &key))
        .await
        .map_err(|_| "connecting took too long")??;
    assert_eq!(alice.kind(), PathKind::Relayed);
    assert_eq!(bob.kind(), PathKind::Relayed);
    for n in 0..3 {
        deliver(&alice, &bob, &media(n)).await?;
        deliver(&bob, &alice, &media(100 + n)).await?;
    }
    alice.close().await;
    bob.close().await;
    Ok(())
}

/// The relayed ports of the embedded TURN server in these tests.
const RELAY_PORTS: std::ops::RangeInclusive<u16> = 42000..=42999;

/// The relay config for the embedded TURN server on `port`; every peer in
/// these tests is on loopback, which the server refuses unless allowed.
fn embedded_turn_config(port: u16, allow_loopback: bool) -> String {
    embedded_turn_config_with(port, allow_loopback, "credential_ttl_secs = 600\n")
}

/// [`embedded_turn_config`] with more `[turn]` lines.
fn embedded_turn_config_with(port: u16, allow_loopback: bool, more: &str) -> String {
    format!(
        "[turn]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\nmin_port = {}\nmax_port = {}\n\
         allow_loopback_peers = {allow_loopback}\n{more}",
        RELAY_PORTS.start(),
        RELAY_PORTS.end(),
    )
}

#[tokio::test]
async fn the_relayed_path_works_through_the_embedded_turn_server() -> TestResult {
    let dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        &embedded_turn_config(port, true),
    )?;
    let mut alice = Account::create(dir.path(), "alice", 1)?;
    let mut connection = alice.register(&relay.invite).await?;
    let servers = connection.turn_credentials().await?;
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].address, format!("127.0.0.1:{port}"));
    relayed_call_through(servers[0].clone(), 10).await?;

    // Both kinds of candidate on loopback: direct UDP wins.
    let key = agreed_path_key(11)?;
    let config = PathConfig::new(LOOPBACK, Some(servers[0].clone()));
    let (a, b) = tokio::time::timeout(DEADLINE, connect_pair(&config, &key))
        .await
        .map_err(|_| "connecting took too long")??;
    assert_eq!(a.kind(), PathKind::Direct);
    assert_eq!(b.kind(), PathKind::Direct);
    deliver(&a, &b, &media(7)).await?;
    a.close().await;
    b.close().await;
    relay.stop()
}

#[tokio::test]
async fn turn_credentials_need_an_account_and_expire() -> TestResult {
    let dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        &embedded_turn_config(port, true),
    )?;
    let mut anonymous =
        RelayConnection::connect(&relay.invite, None, &mut StdRng::seed_from_u64(3)).await?;
    assert!(matches!(
        anonymous.turn_credentials().await,
        Err(Error::RelayRefused("not authenticated"))
    ));

    let mut alice = Account::create(dir.path(), "alice", 2)?;
    let mut connection = alice.register(&relay.invite).await?;
    let server = connection.turn_credentials().await?.remove(0);
    // A wrong password is refused by the TURN server.
    let mut forged = server.clone();
    forged.credentials.password = zeroize::Zeroizing::new("bm90IHRoZSBwYXNzd29yZA==".into());
    let refused = tokio::time::timeout(DEADLINE, TurnAllocation::allocate(&forged, LOOPBACK))
        .await
        .map_err(|_| "the TURN server did not answer")?;
    assert!(matches!(refused, Err(Error::Turn(_))));
    // So is a username whose time is up, even with its right password.
    let secret = std::fs::read_to_string(dir.path().join("relay").join("turn-secret"))?;
    let expired = sotto_core::call::rest_credentials(
        secret.trim().as_bytes(),
        Duration::from_secs(60),
        SystemTime::now() - Duration::from_secs(120),
        &mut StdRng::seed_from_u64(4),
    );
    let stale = TurnServer {
        address: server.address.clone(),
        credentials: expired,
    };
    let refused = tokio::time::timeout(DEADLINE, TurnAllocation::allocate(&stale, LOOPBACK))
        .await
        .map_err(|_| "the TURN server did not answer")?;
    assert!(matches!(refused, Err(Error::Turn(_))));
    // The real ones work, with the server named by host name too.
    let mut by_name = server.clone();
    by_name.address = by_name.address.replace("127.0.0.1", "localhost");
    let allocation = tokio::time::timeout(DEADLINE, TurnAllocation::allocate(&by_name, LOOPBACK))
        .await
        .map_err(|_| "the TURN server did not answer")??;
    assert_eq!(allocation.relayed_address().ip(), LOOPBACK);
    allocation.close().await;
    relay.stop()
}

/// A coturn child process on loopback; killed on drop.
struct Coturn {
    child: Child,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Coturn {
    /// Starts `turnserver` on `port` with the REST-API shared `secret`, and
    /// waits (bounded) until it reports its servers up.
    fn start(dir: &std::path::Path, port: u16, secret: &str) -> TestResult<Self> {
        let program = which_turnserver().ok_or(
            "coturn is not installed (no `turnserver` on PATH): run scripts/setup.sh, \
             which installs the Debian package `coturn`",
        )?;
        let mut child = Command::new(program)
            .args([
                "-n",
                "--listening-ip",
                "127.0.0.1",
                "--relay-ip",
                "127.0.0.1",
            ])
            .args(["--listening-port", &port.to_string()])
            .args(["--min-port", "43000", "--max-port", "43999"])
            .args(["--use-auth-secret", "--static-auth-secret", secret])
            .args(["--realm", "sotto.test", "--no-tls", "--no-dtls", "--no-tcp"])
            // The test's two clients and their relayed addresses are all on
            // loopback, which coturn refuses as peers unless told.
            .args(["--allow-loopback-peers", "--no-cli"])
            .args(["--log-file", "stdout", "--simple-log"])
            .arg("--pidfile")
            .arg(dir.join("turnserver.pid"))
            .arg("--db")
            .arg(dir.join("turndb"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let coturn = Self { child };
        // Read its log on a thread, so that a silent coturn cannot hang us.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Total General servers") {
                    let _ = ready_tx.send(());
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(15))
            .map_err(|_| "coturn did not start within 15 s")?;
        Ok(coturn)
    }
}

fn which_turnserver() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("turnserver"))
        .find(|candidate| candidate.is_file())
}

#[tokio::test]
async fn the_relayed_path_works_through_coturn_with_the_relays_credentials() -> TestResult {
    let dir = tempfile::tempdir()?;
    let coturn_port = free_udp_port()?;
    let secret = "shared-with-coturn";
    // The relay runs no TURN itself; it names coturn and shares its secret.
    let config = format!(
        "[turn]\nsecret = \"{secret}\"\nexternal_servers = [\"127.0.0.1:{coturn_port}\"]\n"
    );
    let relay = RelayProcess::start_with(&dir.path().join("relay"), 0, &config)?;
    let _coturn = Coturn::start(dir.path(), coturn_port, secret)?;

    let mut alice = Account::create(dir.path(), "alice", 5)?;
    let mut connection = alice.register(&relay.invite).await?;
    let servers = connection.turn_credentials().await?;
    assert_eq!(servers.len(), 1);
    assert_eq!(
        servers[0].address,
        SocketAddr::from((LOOPBACK, coturn_port)).to_string()
    );
    relayed_call_through(servers[0].clone(), 12).await?;
    relay.stop()
}

#[tokio::test]
async fn the_embedded_turn_server_refuses_loopback_peers_by_default() -> TestResult {
    let dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        &embedded_turn_config(port, false),
    )?;
    let mut alice = Account::create(dir.path(), "alice", 6)?;
    let mut connection = alice.register(&relay.invite).await?;
    let server = connection.turn_credentials().await?.remove(0);
    let key = agreed_path_key(13)?;
    let mut config = PathConfig::new(LOOPBACK, Some(server));
    config.policy = PathPolicy::RelayOnly;
    config.timeout = Duration::from_secs(2);
    // Allocations succeed, but the relayed ports will not talk to each
    // other: both are loopback addresses.
    let result = tokio::time::timeout(DEADLINE, connect_pair(&config, &key))
        .await
        .map_err(|_| "connecting did not give up in time")?;
    assert!(matches!(
        result.map_err(|e| e.downcast::<Error>().map(|e| *e)),
        Err(Ok(Error::NoMediaPath))
    ));
    relay.stop()
}

/// Sends a call signal from `from` to its contact `to` through the relay,
/// sealed like a text.
async fn send_signal(
    from: &mut Account,
    relay: &mut RelayConnection,
    to: &sotto_core::store::ContactId,
    recipient: &sotto_core::IdentityKey,
    signal: sotto_core::call::CallSignal,
) -> TestResult {
    let certificate = relay.sender_certificate().await?;
    let out = sotto_core::call::send_signal(
        &mut from.store,
        to,
        signal,
        SystemTime::now(),
        &mut from.rng,
    )?;
    let payload = sotto_core::relay::sealed::seal(
        &from.store,
        to,
        &out.envelope,
        &certificate,
        &mut from.rng,
    )?;
    relay.send_sealed(recipient, payload).await?;
    sotto_core::messaging::mark_sent(&mut from.store, out.outbox_id)?;
    Ok(())
}

/// The next call signal delivered to `account`, committed then acknowledged.
async fn next_signal(
    account: &mut Account,
    relay: &mut RelayConnection,
    invite: &sotto_core::relay::invite::RelayInvite,
) -> TestResult<sotto_core::call::ReceivedSignal> {
    let delivery = tokio::time::timeout(DEADLINE, relay.next_delivery())
        .await
        .map_err(|_| "no delivery in time")??;
    let got = sotto_core::messaging::receive_sealed(
        &mut account.store,
        &delivery.payload,
        &invite.trust_root,
        SystemTime::UNIX_EPOCH + Duration::from_millis(delivery.received_at_ms),
        SystemTime::now(),
        &mut account.rng,
    )?;
    relay.ack(delivery.envelope_id).await?;
    match got.received {
        sotto_core::messaging::Received::CallSignal(signal) => Ok(signal),
        other => Err(format!("expected a call signal, got {other:?}").into()),
    }
}

/// A whole call's set-up through one relay: signalling sealed through its
/// mailbox, TURN credentials from it, candidates as signals, and media
/// through its embedded TURN server.
#[tokio::test]
async fn a_call_is_signalled_and_relayed_through_one_sotto_relay() -> TestResult {
    use sotto_core::call::{CallSession, CallSignal, KeyProgress, Outbound, SignalKind};
    let dir = tempfile::tempdir()?;
    let port = free_udp_port()?;
    let relay = RelayProcess::start_with(
        &dir.path().join("relay"),
        0,
        &embedded_turn_config(port, true),
    )?;
    let invite = relay.invite.clone();
    let mut alice = Account::create(dir.path(), "alice", 21)?;
    let mut bob = Account::create(dir.path(), "bob", 22)?;
    let (alice_id, bob_id) = (alice.identity()?, bob.identity()?);
    let bob_for_alice = alice.add_contact(&bob_id, "Bob")?;
    let alice_for_bob = bob.add_contact(&alice_id, "Alice")?;
    let mut bob_relay = bob.register(&invite).await?;
    let mut alice_relay = alice.register(&invite).await?;
    let bundle = alice_relay.fetch_bundle(&bob_id).await?;
    sotto_core::session::start_session(
        &mut alice.store,
        &bob_for_alice,
        &bundle,
        SystemTime::now(),
        &mut alice.rng,
    )?;
    let parties = CallParties {
        caller: &alice_id,
        callee: &bob_id,
    };

    // Offer, answer, key reveal.
    let call_id = CallId::random(&mut alice.rng);
    let mut alice_call = CallSession::outgoing(call_id);
    let offer = alice_call.signal_for(Outbound::Offer, &mut alice.rng)?;
    send_signal(&mut alice, &mut alice_relay, &bob_for_alice, &bob_id, offer).await?;
    let offer = next_signal(&mut bob, &mut bob_relay, &invite).await?;
    let SignalKind::Offer(commitment) = offer.signal.kind else {
        return Err("expected an offer".into());
    };
    let mut bob_call = CallSession::incoming(call_id, commitment);
    let answer = bob_call.signal_for(Outbound::Answer, &mut bob.rng)?;
    send_signal(&mut bob, &mut bob_relay, &alice_for_bob, &alice_id, answer).await?;
    let answer = next_signal(&mut alice, &mut alice_relay, &invite).await?;
    let KeyProgress::CallerReady(alice_keys, reveal) =
        alice_call.on_signal(&answer.signal.kind, parties)?
    else {
        return Err("expected the caller's keys".into());
    };
    send_signal(
        &mut alice,
        &mut alice_relay,
        &bob_for_alice,
        &bob_id,
        reveal,
    )
    .await?;
    let reveal = next_signal(&mut bob, &mut bob_relay, &invite).await?;
    let KeyProgress::CalleeReady(bob_keys) = bob_call.on_signal(&reveal.signal.kind, parties)?
    else {
        return Err("expected the callee's keys".into());
    };
    assert_eq!(alice_keys.sas.words(), bob_keys.sas.words());
    // `SrtpKeys` has no `==` (it would not be constant-time): compare bytes.
    assert_eq!(
        alice_keys.media.send.master_key,
        bob_keys.media.receive.master_key
    );

    // Candidates, gathered relay-only with credentials from the relay.
    let mut configs = Vec::new();
    for connection in [&mut alice_relay, &mut bob_relay] {
        let server = connection.turn_credentials().await?.remove(0);
        let mut config = PathConfig::new(LOOPBACK, Some(server));
        config.policy = PathPolicy::RelayOnly;
        configs.push(config);
    }
    let alice_local = LocalCandidates::gather(&configs[0]).await?;
    let bob_local = LocalCandidates::gather(&configs[1]).await?;
    let candidates = |call_id, local: &LocalCandidates| CallSignal {
        call_id,
        kind: SignalKind::Candidates {
            candidates: local.candidates().to_vec(),
            complete: true,
        },
    };
    send_signal(
        &mut alice,
        &mut alice_relay,
        &bob_for_alice,
        &bob_id,
        candidates(call_id, &alice_local),
    )
    .await?;
    send_signal(
        &mut bob,
        &mut bob_relay,
        &alice_for_bob,
        &alice_id,
        candidates(call_id, &bob_local),
    )
    .await?;
    let SignalKind::Candidates {
        candidates: for_bob,
        ..
    } = next_signal(&mut bob, &mut bob_relay, &invite)
        .await?
        .signal
        .kind
    else {
        return Err("expected candidates".into());
    };
    let SignalKind::Candidates {
        candidates: for_alice,
        ..
    } = next_signal(&mut alice, &mut alice_relay, &invite)
        .await?
        .signal
        .kind
    else {
        return Err("expected candidates".into());
    };
    let (alice_path, bob_path) = tokio::time::timeout(DEADLINE, async {
        tokio::join!(
            alice_local.connect(&for_alice, Role::Caller, &alice_keys.path, &configs[0]),
            bob_local.connect(&for_bob, Role::Callee, &bob_keys.path, &configs[1]),
        )
    })
    .await
    .map_err(|_| "connecting took too long")?;
    let (alice_path, bob_path) = (alice_path?, bob_path?);
    assert_eq!(alice_path.kind(), PathKind::Relayed);

    // Speech both ways through SRTP over the relayed path, with the keys
    // the two phones agreed.
    let talk = |seed| SpeechLikeSource::generate(1.0, seed);
    let mut media = Vec::new();
    for (keys, path, seed) in [(&alice_keys, alice_path, 1), (&bob_keys, bob_path, 2)] {
        media.push(call::start_media(
            keys.media.clone(),
            path,
            MediaConfig::with_random_ssrc(),
            BufferSource::new(talk(seed)),
            BufferSink::default(),
        )?);
    }
    let frames = 50 + 10; // a second of speech, and some margin
    tokio::time::timeout(DEADLINE, async {
        while !media
            .iter()
            .all(|m| m.status().stats.jitter.decoded >= frames)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .map_err(|_| "the speech did not come through in time")?;

    // Hang up.
    let hangup = bob_call.signal_for(Outbound::Hangup, &mut bob.rng)?;
    send_signal(&mut bob, &mut bob_relay, &alice_for_bob, &alice_id, hangup).await?;
    let hangup = next_signal(&mut alice, &mut alice_relay, &invite).await?;
    assert_eq!(hangup.signal.kind, SignalKind::Hangup);
    for handle in media {
        let outcome = handle.stop().await?;
        assert!(outcome.error.is_none());
        assert_eq!(outcome.status.stats.packets_rejected, 0);
        assert!(outcome.status.first_audio_at.is_some());
        assert!(outcome.sink.samples.iter().any(|s| s.unsigned_abs() > 1000));
    }
    relay.stop()
}

/// A bare TURN client that builds each request itself, so a test can ask
/// the server for exactly what an attacker would and read its answer. It
/// never sends a datagram anywhere but to the TURN server on loopback.
struct RawTurn {
    socket: tokio::net::UdpSocket,
    server: SocketAddr,
    username: String,
    password: String,
    realm: String,
    nonce: String,
}

/// A TURN answer: the success response, or the error code.
type Answer = Result<stun::message::Message, u16>;

impl RawTurn {
    async fn new(server: &TurnServer) -> TestResult<Self> {
        Ok(Self {
            socket: tokio::net::UdpSocket::bind((LOOPBACK, 0)).await?,
            server: server.address.parse()?,
            username: server.credentials.username.clone(),
            password: server.credentials.password.to_string(),
            realm: String::new(),
            nonce: String::new(),
        })
    }

    /// Sends a `method` request carrying `attributes` (signed once the
    /// server has named its realm and nonce) and waits for its answer.
    async fn request(
        &mut self,
        method: stun::message::Method,
        attributes: impl Fn() -> Vec<Box<dyn stun::message::Setter>>,
    ) -> TestResult<Answer> {
        use stun::attributes::*;
        use stun::message::*;
        use stun::textattrs::TextAttribute;
        for _ in 0..3 {
            let mut setters: Vec<Box<dyn Setter>> = vec![
                Box::new(stun::agent::TransactionId::new()),
                Box::new(MessageType::new(method, CLASS_REQUEST)),
            ];
            setters.extend(attributes());
            if !self.nonce.is_empty() {
                setters.push(Box::new(TextAttribute::new(
                    ATTR_USERNAME,
                    self.username.clone(),
                )));
                setters.push(Box::new(TextAttribute::new(ATTR_REALM, self.realm.clone())));
                setters.push(Box::new(TextAttribute::new(ATTR_NONCE, self.nonce.clone())));
                setters.push(Box::new(
                    stun::integrity::MessageIntegrity::new_long_term_integrity(
                        self.username.clone(),
                        self.realm.clone(),
                        self.password.clone(),
                    ),
                ));
            }
            let mut request = Message::new();
            request.build(&setters)?;
            self.socket.send_to(&request.raw, self.server).await?;
            let response = self.response_to(&request).await?;
            if response.typ.class == CLASS_SUCCESS_RESPONSE {
                return Ok(Ok(response));
            }
            let mut code = stun::error_code::ErrorCodeAttribute::default();
            code.get_from(&response)?;
            let challenge = [401, 438].contains(&code.code.0);
            match TextAttribute::get_from_as(&response, ATTR_NONCE) {
                Ok(nonce) if challenge => {
                    self.nonce = nonce.text;
                    self.realm = TextAttribute::get_from_as(&response, ATTR_REALM)?.text;
                }
                _ => return Ok(Err(code.code.0)),
            }
        }
        Err("the TURN server kept challenging".into())
    }

    /// The response to `request`, skipping anything else.
    async fn response_to(
        &self,
        request: &stun::message::Message,
    ) -> TestResult<stun::message::Message> {
        let mut buf = [0u8; 1500];
        loop {
            let (n, _) =
                tokio::time::timeout(Duration::from_secs(5), self.socket.recv_from(&mut buf))
                    .await
                    .map_err(|_| "the TURN server did not answer")??;
            let mut message = stun::message::Message::new();
            message.raw = buf[..n].to_vec();
            if message.decode().is_ok() && message.transaction_id == request.transaction_id {
                return Ok(message);
            }
        }
    }

    /// Allocates a UDP relay; returns the relayed address.
    async fn allocate(&mut self) -> TestResult<Result<SocketAddr, u16>> {
        use stun::message::Getter;
        let answer = self
            .request(stun::message::METHOD_ALLOCATE, || {
                vec![Box::new(turn::proto::reqtrans::RequestedTransport {
                    protocol: turn::proto::PROTO_UDP,
                })]
            })
            .await?;
        Ok(match answer {
            Ok(response) => {
                let mut relayed = turn::proto::relayaddr::RelayedAddress::default();
                relayed.get_from(&response)?;
                Ok(SocketAddr::new(relayed.ip, relayed.port))
            }
            Err(code) => Err(code),
        })
    }

    async fn refresh(&mut self, lifetime: Duration) -> TestResult<Answer> {
        self.request(stun::message::METHOD_REFRESH, || {
            vec![Box::new(turn::proto::lifetime::Lifetime(lifetime))]
        })
        .await
    }

    async fn create_permission(&mut self, peers: &[SocketAddr]) -> TestResult<Answer> {
        self.request(stun::message::METHOD_CREATE_PERMISSION, || {
            peers.iter().map(|peer| peer_address(*peer)).collect()
        })
        .await
    }

    async fn channel_bind(&mut self, peer: SocketAddr, channel: u16) -> TestResult<Answer> {
        self.request(stun::message::METHOD_CHANNEL_BIND, || {
            vec![
                Box::new(turn::proto::channum::ChannelNumber(channel)),
                peer_address(peer),
            ]
        })
        .await
    }

    /// A Send indication: `data` for `peer`, through the relayed port.
    async fn send_indication(&self, peer: SocketAddr, data: &[u8]) -> TestResult {
        use stun::message::*;
        let mut indication = Message::new();
        indication.build(&[
            Box::new(stun::agent::TransactionId::new()),
            Box::new(MessageType::new(METHOD_SEND, CLASS_INDICATION)),
            peer_address(peer),
            Box::new(turn::proto::data::Data(data.to_vec())),
        ])?;
        self.socket.send_to(&indication.raw, self.server).await?;
        Ok(())
    }

    /// The data of the next Data indication, if one comes within `wait`.
    async fn next_data(&self, wait: Duration) -> TestResult<Option<Vec<u8>>> {
        use stun::message::*;
        let mut buf = [0u8; 1500];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(received) =
                tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await
            else {
                return Ok(None);
            };
            let (n, _) = received?;
            let mut message = Message::new();
            message.raw = buf[..n].to_vec();
            if message.decode().is_ok()
                && message.typ == MessageType::new(METHOD_DATA, CLASS_INDICATION)
            {
                let mut data = turn::proto::data::Data::default();
                data.get_from(&message)?;
                return Ok(Some(data.0));
            }
        }
    }
}

fn peer_address(peer: SocketAddr) -> Box<dyn stun::message::Setter> {
    Box::new(turn::proto::peeraddr::PeerAddress {
        ip: peer.ip(),
        port: peer.port(),
    })
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a socket address")
}

const FORBIDDEN: Answer = Err(403);

/// Starts a relay with the embedded TURN server; returns it, the TURN
/// server's address and a registered account's connection.
async fn relay_with_turn(
    dir: &std::path::Path,
    allow_loopback: bool,
    more: &str,
) -> TestResult<(RelayProcess, SocketAddr, RelayConnection)> {
    // Both of the relay's ports outside the relayed range, which is open
    // to peers even on the relay's own address.
    let port = loop {
        let port = free_udp_port()?;
        if !RELAY_PORTS.contains(&port) {
            break port;
        }
    };
    let relay_port = loop {
        let port = std::net::TcpListener::bind((LOOPBACK, 0))?
            .local_addr()?
            .port();
        if !RELAY_PORTS.contains(&port) {
            break port;
        }
    };
    let relay = RelayProcess::start_with(
        &dir.join("relay"),
        relay_port,
        &embedded_turn_config_with(port, allow_loopback, more),
    )?;
    let mut alice = Account::create(dir, "alice", 31)?;
    let connection = alice.register(&relay.invite).await?;
    Ok((relay, SocketAddr::from((LOOPBACK, port)), connection))
}

fn answer_is(answer: &Answer, expected: &Answer) -> bool {
    match (answer, expected) {
        (Ok(_), Ok(_)) => true,
        (Err(a), Err(b)) => a == b,
        _ => false,
    }
}

#[tokio::test]
async fn the_embedded_turn_server_forbids_peers_on_private_networks() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (relay, turn_address, mut alice) = relay_with_turn(dir.path(), false, "").await?;
    let server = alice.turn_credentials().await?.remove(0);
    let mut client = RawTurn::new(&server).await?;
    let relayed = client
        .allocate()
        .await?
        .map_err(|c| format!("allocate: {c}"))?;
    let refused = [
        addr("10.0.0.1:9"),
        addr("172.16.0.1:9"),
        addr("192.168.1.1:9"),
        addr("100.64.0.1:9"),
        addr("169.254.169.254:80"),
        addr("127.0.0.1:9"),
        addr("0.0.0.0:9"),
        addr("224.0.0.1:9"),
        addr("255.255.255.255:9"),
        addr("[fd00::1]:9"),
        addr("[fe80::1]:9"),
        addr("[::1]:9"),
        addr("[::ffff:10.0.0.1]:9"),
        addr("[::ffff:127.0.0.1]:9"),
        turn_address,
        SocketAddr::from((LOOPBACK, relay.invite.port)),
        relayed,
    ];
    for peer in refused {
        let answer = client.create_permission(&[peer]).await?;
        assert!(
            answer_is(&answer, &FORBIDDEN),
            "CreatePermission {peer}: {answer:?}"
        );
        let answer = client.channel_bind(peer, 0x4000).await?;
        assert!(
            answer_is(&answer, &FORBIDDEN),
            "ChannelBind {peer}: {answer:?}"
        );
    }
    // A refused peer behind an allowed one (the TURN crate reads only the
    // first) refuses the whole request.
    let answer = client
        .create_permission(&[addr("203.0.113.7:9"), addr("10.0.0.1:9")])
        .await?;
    assert!(answer_is(&answer, &FORBIDDEN), "{answer:?}");
    // A public peer is allowed (a permission only: nothing is sent to it).
    let answer = client.create_permission(&[addr("203.0.113.7:9")]).await?;
    assert!(answer.is_ok(), "{answer:?}");
    relay.stop()
}

/// A UDP socket on loopback outside the relayed port range.
async fn listener_outside_relay_ports() -> TestResult<tokio::net::UdpSocket> {
    loop {
        let socket = tokio::net::UdpSocket::bind((LOOPBACK, 0)).await?;
        if !RELAY_PORTS.contains(&socket.local_addr()?.port()) {
            return Ok(socket);
        }
    }
}

#[tokio::test]
async fn the_embedded_turn_server_forbids_its_own_addresses_even_with_loopback_allowed(
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let (relay, turn_address, mut alice) = relay_with_turn(dir.path(), true, "").await?;
    let server = alice.turn_credentials().await?.remove(0);
    let mut a = RawTurn::new(&server).await?;
    let mut b = RawTurn::new(&server).await?;
    let a_relayed = a.allocate().await?.map_err(|c| format!("allocate: {c}"))?;
    let b_relayed = b.allocate().await?.map_err(|c| format!("allocate: {c}"))?;
    for own in [
        turn_address,
        SocketAddr::from((LOOPBACK, relay.invite.port)),
    ] {
        let answer = a.create_permission(&[own]).await?;
        assert!(
            answer_is(&answer, &FORBIDDEN),
            "CreatePermission {own}: {answer:?}"
        );
        let answer = a.channel_bind(own, 0x4001).await?;
        assert!(
            answer_is(&answer, &FORBIDDEN),
            "ChannelBind {own}: {answer:?}"
        );
    }
    // Another allocation on this server is a fine peer: two phones behind
    // the same relay.
    assert!(a.create_permission(&[b_relayed]).await?.is_ok());
    assert!(b.create_permission(&[a_relayed]).await?.is_ok());
    a.send_indication(b_relayed, b"to b").await?;
    assert_eq!(b.next_data(DEADLINE).await?, Some(b"to b".to_vec()));
    // TURN permissions are per address, so 127.0.0.1 is now permitted; a
    // Send indication to another port of it (the relay host's own
    // services) still goes nowhere.
    let victim = listener_outside_relay_ports().await?;
    a.send_indication(victim.local_addr()?, b"hello, relay host")
        .await?;
    let mut buf = [0u8; 1500];
    let heard = tokio::time::timeout(Duration::from_millis(500), victim.recv_from(&mut buf)).await;
    assert!(heard.is_err(), "the relay sent to its own host");
    relay.stop()
}

#[tokio::test]
async fn turn_allocations_are_limited_per_account() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (relay, _, mut alice) =
        relay_with_turn(dir.path(), true, "allocations_per_account = 2\n").await?;
    let first = alice.turn_credentials().await?.remove(0);
    let mut one = RawTurn::new(&first).await?;
    let mut two = RawTurn::new(&first).await?;
    assert!(one.allocate().await?.is_ok());
    assert!(two.allocate().await?.is_ok());
    // New credentials are still the same account's.
    let second = alice.turn_credentials().await?.remove(0);
    let mut three = RawTurn::new(&second).await?;
    assert_eq!(three.allocate().await?, Err(486));
    // Another account has its own quota.
    let mut bob = Account::create(dir.path(), "bob", 32)?;
    let mut bob = bob.register(&relay.invite).await?;
    let bobs = bob.turn_credentials().await?.remove(0);
    assert!(RawTurn::new(&bobs).await?.allocate().await?.is_ok());
    // A released allocation frees its place.
    assert!(one.refresh(Duration::ZERO).await?.is_ok());
    assert!(three.allocate().await?.is_ok());
    relay.stop()
}

#[tokio::test]
async fn an_allocation_outlives_its_credentials_but_they_allocate_nothing_new() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (relay, _, mut alice) =
        relay_with_turn(dir.path(), true, "credential_ttl_secs = 2\n").await?;
    let server = alice.turn_credentials().await?.remove(0);
    let mut caller = RawTurn::new(&server).await?;
    let mut callee = RawTurn::new(&server).await?;
    let caller_relayed = caller.allocate().await?.map_err(|c| format!("{c}"))?;
    let callee_relayed = callee.allocate().await?.map_err(|c| format!("{c}"))?;
    assert!(callee.create_permission(&[caller_relayed]).await?.is_ok());
    // The credentials expire (their expiry is in whole seconds).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // The call goes on: the allocation refreshes, and so do its
    // permissions and channels, with the username it was made with.
    assert!(caller.refresh(Duration::from_secs(600)).await?.is_ok());
    assert!(caller.create_permission(&[callee_relayed]).await?.is_ok());
    assert!(caller.channel_bind(callee_relayed, 0x4000).await?.is_ok());
    caller
        .send_indication(callee_relayed, b"still talking")
        .await?;
    assert_eq!(
        callee.next_data(DEADLINE).await?,
        Some(b"still talking".to_vec())
    );
    // But they allocate nothing new, from anywhere.
    let mut late = RawTurn::new(&server).await?;
    assert_eq!(late.allocate().await?, Err(401));
    relay.stop()
}
