//! Two endpoints on loopback UDP exchange speech through SRTP, both ways
//! at once, with RTCP reports flowing back. The check is on the audio (it
//! correlates with what was sent), never on timing.

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::{classify, DatagramKind, MediaConfig, MediaSession};
use support::{scratch_dir, segmental_correlation, session_pair, speech, TestResult, FRAME};

struct Endpoint {
    session: MediaSession,
    socket: UdpSocket,
    talk: Vec<i16>,
    heard: Vec<i16>,
    reports_seen: usize,
}

impl Endpoint {
    fn new(session: MediaSession, talk: Vec<i16>) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        // Loopback delivers at once; the timeout only bounds a lost datagram.
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Endpoint {
            session,
            socket,
            talk,
            heard: Vec::new(),
            reports_seen: 0,
        })
    }

    /// Send this tick's frame (and a report when due).
    fn send(&mut self, i: usize, now: Instant) -> Result<usize, Box<dyn std::error::Error>> {
        let mut frame = vec![0i16; FRAME];
        if let Some(chunk) = self.talk.chunks(FRAME).nth(i) {
            frame[..chunk.len()].copy_from_slice(chunk);
        }
        let mut sent = 0;
        if let Some(packet) = self.session.send_frame(&frame, now)? {
            self.socket.send(&packet)?;
            sent += 1;
        }
        if let Some(report) = self.session.poll_feedback(now)? {
            self.socket.send(&report)?;
            sent += 1;
        }
        Ok(sent)
    }

    fn receive(&mut self, count: usize, now: Instant) -> Result<(), Box<dyn std::error::Error>> {
        let mut buf = [0u8; 1500];
        for _ in 0..count {
            let n = self.socket.recv(&mut buf)?;
            if classify(&buf[..n])? == DatagramKind::Rtcp {
                self.reports_seen += 1;
            }
            self.session.receive_datagram(&buf[..n], now)?;
        }
        let mut out = vec![0i16; FRAME];
        self.session.next_playout_frame(&mut out)?;
        self.heard.extend_from_slice(&out);
        Ok(())
    }
}

#[test]
fn speech_both_ways_over_loopback_udp() -> TestResult {
    let dir = scratch_dir("both-ways");
    let alice_says = speech("The quick brown fox jumps over the lazy dog.", &dir);
    let bob_says = SpeechLikeSource::generate(alice_says.len() as f64 / 48_000.0, 99);
    let start = Instant::now();
    let (a, b) = session_pair(
        MediaConfig {
            ssrc: 0xa11ce,
            ..MediaConfig::default()
        },
        MediaConfig {
            ssrc: 0xb0b,
            ..MediaConfig::default()
        },
        start,
    )?;
    let mut alice = Endpoint::new(a, alice_says.clone())?;
    let mut bob = Endpoint::new(b, bob_says.clone())?;
    alice.socket.connect(bob.socket.local_addr()?)?;
    bob.socket.connect(alice.socket.local_addr()?)?;

    let frames = alice_says.len().div_ceil(FRAME) + 25;
    for i in 0..frames {
        // Virtual media time: one 20 ms tick per frame.
        let now = start + Duration::from_millis(20 * i as u64);
        let to_bob = alice.send(i, now)?;
        let to_alice = bob.send(i, now)?;
        bob.receive(to_bob, now)?;
        alice.receive(to_alice, now)?;
    }

    let heard_by_bob = segmental_correlation(&alice_says, &bob.heard, 9600);
    let heard_by_alice = segmental_correlation(&bob_says, &alice.heard, 9600);
    assert!(heard_by_bob > 0.9, "alice → bob correlation {heard_by_bob}");
    assert!(
        heard_by_alice > 0.9,
        "bob → alice correlation {heard_by_alice}"
    );

    for (name, end) in [("alice", &alice), ("bob", &bob)] {
        let stats = end.session.stats();
        assert!(
            end.reports_seen >= 2,
            "{name} saw {} reports",
            end.reports_seen
        );
        assert_eq!(stats.packets_rejected, 0, "{name}: {stats:?}");
        assert_eq!(stats.jitter.concealed, 0, "{name}: {stats:?}");
        assert_eq!(stats.local_cumulative_lost, 0);
        assert!(stats.rtt_secs.is_some(), "{name}: no RTT");
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
