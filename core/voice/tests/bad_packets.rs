//! Packets under the wrong key, tampered packets, replays and garbage are
//! refused with a clear error, and refusing them changes nothing: the
//! genuine stream carries on.

mod support;

use std::time::Instant;

use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::{Error, MediaConfig, MediaSession, Received};
use support::{keys, session_pair, TestResult, FRAME};

/// Alice's RTP packets, one RTCP report of hers, and Bob ready to receive.
type Recorded = (Vec<Vec<u8>>, Vec<u8>, MediaSession);

/// Alice's first `n` datagrams (RTP, then one RTCP report).
fn alice_datagrams(n: usize) -> Result<Recorded, sotto_voice::Error> {
    let start = Instant::now();
    let (mut alice, bob) = session_pair(MediaConfig::default(), MediaConfig::default(), start)?;
    let speech = SpeechLikeSource::generate(0.02 * n as f64, 1);
    let mut packets = Vec::new();
    for frame in speech.chunks(FRAME) {
        if let Some(p) = alice.send_frame(frame, start)? {
            packets.push(p);
        }
    }
    let report = alice
        .poll_feedback(start + std::time::Duration::from_secs(5))?
        .ok_or(Error::Config("no report due"))?;
    Ok((packets, report, bob))
}

#[test]
fn wrong_key_is_refused() -> TestResult {
    let (packets, report, _) = alice_datagrams(3)?;
    let now = Instant::now();
    let mut eve = MediaSession::new(MediaConfig::default(), keys(7), keys(8), now)?;
    for p in &packets {
        assert_eq!(
            eve.receive_datagram(p, now),
            Err(Error::AuthenticationFailed)
        );
    }
    assert_eq!(
        eve.receive_datagram(&report, now),
        Err(Error::AuthenticationFailed)
    );
    assert_eq!(eve.stats().packets_rejected, 4);
    assert_eq!(eve.stats().packets_received, 0);
    Ok(())
}

#[test]
fn every_tampered_byte_is_refused_and_the_stream_survives() -> TestResult {
    let (packets, report, mut bob) = alice_datagrams(4)?;
    let now = Instant::now();
    let first = &packets[0];
    for at in 0..first.len() {
        let mut bad = first.clone();
        bad[at] ^= 0x01;
        let got = bob.receive_datagram(&bad, now);
        assert!(
            matches!(
                got,
                Err(Error::AuthenticationFailed | Error::Malformed(_) | Error::NotMedia)
            ),
            "byte {at}: {got:?}"
        );
    }
    for at in 0..report.len() {
        let mut bad = report.clone();
        bad[at] ^= 0x80;
        assert!(bob.receive_datagram(&bad, now).is_err(), "report byte {at}");
    }
    // Truncations.
    for len in 0..first.len() {
        assert!(
            bob.receive_datagram(&first[..len], now).is_err(),
            "len {len}"
        );
    }
    // Nothing above moved the replay window or fixed the SSRC.
    for p in &packets {
        assert_eq!(bob.receive_datagram(p, now)?, Received::Media);
    }
    assert_eq!(bob.receive_datagram(&report, now)?, Received::Feedback);
    assert_eq!(bob.stats().packets_received, packets.len() as u64);
    Ok(())
}

#[test]
fn replays_are_refused() -> TestResult {
    let (packets, report, mut bob) = alice_datagrams(5)?;
    let now = Instant::now();
    for p in &packets {
        bob.receive_datagram(p, now)?;
    }
    bob.receive_datagram(&report, now)?;
    for p in &packets {
        assert_eq!(bob.receive_datagram(p, now), Err(Error::Replayed));
    }
    assert_eq!(bob.receive_datagram(&report, now), Err(Error::Replayed));
    let stats = bob.stats();
    assert_eq!(stats.replays_rejected, packets.len() as u64 + 1);
    assert_eq!(stats.jitter.duplicate_packets, 0);
    Ok(())
}

#[test]
fn not_media_and_foreign_ssrc_are_refused() -> TestResult {
    let (packets, _, mut bob) = alice_datagrams(2)?;
    let now = Instant::now();
    // A STUN binding request and a DTLS record (RFC 7983 ranges).
    assert_eq!(
        bob.receive_datagram(&[0x00, 0x01, 0, 0], now),
        Err(Error::NotMedia)
    );
    assert_eq!(
        bob.receive_datagram(&[22, 0xfe, 0xfd], now),
        Err(Error::NotMedia)
    );
    assert_eq!(bob.receive_datagram(&[], now), Err(Error::NotMedia));
    bob.receive_datagram(&packets[0], now)?;

    // A second stream under the same key but another SSRC (Alice's key,
    // a different sender configuration) is not this call's audio.
    let start = Instant::now();
    let mut other = MediaSession::new(
        MediaConfig {
            ssrc: 0x0bad_cafe,
            ..MediaConfig::default()
        },
        keys(1),
        keys(2),
        start,
    )?;
    let frame = vec![0i16; FRAME];
    let foreign = other.send_frame(&frame, start)?.ok_or(Error::NotMedia)?;
    assert_eq!(bob.receive_datagram(&foreign, now), Err(Error::UnknownSsrc));
    // Wrong frame size is refused on the send side.
    assert!(matches!(
        other.send_frame(&frame[..480], start),
        Err(Error::FrameSize {
            expected: 960,
            got: 480
        })
    ));
    Ok(())
}
