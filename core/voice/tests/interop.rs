//! Interoperability with an independent SRTP stack: libsrtp2, the reference
//! implementation, driven by a small C program (`tests/support/srtp_peer.c`)
//! that also does its own RTP and RED parsing and decodes with libopus.
//!
//! Why not GStreamer (`srtpdec ! rtpopusdepay ! opusdec`): it would pull in
//! ~135 Debian packages (GTK among them) for the same libsrtp2 underneath.
//! libsrtp2-dev and libopus-dev are two small packages (scripts/setup.sh).
//!
//! Both directions: our stream decoded by libsrtp2, and libsrtp2's
//! protection of our plain RTP/RTCP accepted by our receiver.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sotto_voice::codec::OpusEncoder;
use sotto_voice::impair::Impairment;
use sotto_voice::rtcp::Report;
use sotto_voice::rtp::RtpHeader;
use sotto_voice::{MediaConfig, MediaSession, Received, SrtpKeys};
use support::{keys, scratch_dir, segmental_correlation, simulate_call, speech, TestResult, FRAME};

fn build_peer(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/srtp_peer.c");
    let binary = dir.join("srtp_peer");
    let status = Command::new("cc")
        .arg("-O2")
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .args(["-lsrtp2", "-lopus"])
        .status()?;
    if !status.success() {
        return Err("could not build the libsrtp2 peer: run scripts/setup.sh \
                    (libsrtp2-dev, libopus-dev, a C compiler)"
            .into());
    }
    Ok(binary)
}

fn key_hex(keys: &SrtpKeys) -> String {
    let mut bytes = keys.master_key.to_vec();
    bytes.extend_from_slice(&keys.master_salt);
    hex::encode(bytes)
}

fn write_records(path: &Path, datagrams: &[Vec<u8>]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for d in datagrams {
        out.extend_from_slice(&(d.len() as u16).to_be_bytes());
        out.extend_from_slice(d);
    }
    fs::write(path, out)
}

fn read_records(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let bytes = fs::read(path)?;
    let mut records = Vec::new();
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        records.push(bytes[at + 2..at + 2 + len].to_vec());
        at += 2 + len;
    }
    Ok(records)
}

#[test]
fn libsrtp2_decodes_our_stream_with_red_and_reports() -> TestResult {
    let dir = scratch_dir("interop-decode");
    let peer = build_peer(&dir)?;
    let sent = speech("Sotto calls are encrypted end to end.", &dir);

    // Record Alice's datagrams on a lossy link so that RED is switched on.
    let start = Instant::now();
    let mut alice = MediaSession::new(MediaConfig::default(), keys(1), keys(2), start)?;
    let mut bob = MediaSession::new(MediaConfig::default(), keys(2), keys(1), start)?;
    let mut datagrams = Vec::new();
    let mut out = vec![0i16; FRAME];
    for (i, frame) in sent.chunks_exact(FRAME).enumerate() {
        let now = start + Duration::from_millis(20 * i as u64);
        if let Some(p) = alice.send_frame(frame, now)? {
            // Bob sees every tenth packet lost, the recording keeps all.
            if i % 10 != 3 {
                bob.receive_datagram(&p, now)?;
            }
            datagrams.push(p);
        }
        if let Some(r) = alice.poll_feedback(now)? {
            datagrams.push(r);
        }
        if let Some(r) = bob.poll_feedback(now)? {
            alice.receive_datagram(&r, now)?;
        }
        bob.next_playout_frame(&mut out)?;
    }
    assert!(alice.stats().red_depth >= 1, "RED never switched on");

    let input = dir.join("srtp.rec");
    let pcm = dir.join("decoded.pcm");
    write_records(&input, &datagrams)?;
    let run = Command::new(&peer)
        .arg("decode")
        .arg(key_hex(&keys(1)))
        .arg(&input)
        .arg(&pcm)
        .output()?;
    assert!(
        run.status.success(),
        "libsrtp2 peer failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = String::from_utf8_lossy(&run.stdout);
    let rtp_count = alice.stats().packets_sent;
    assert!(summary.contains(&format!("rtp={rtp_count} ")), "{summary}");
    assert!(!summary.contains("rtcp=0 "), "{summary}");
    assert!(!summary.contains("red=0"), "{summary}");

    let decoded: Vec<i16> = fs::read(&pcm)?
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let corr = segmental_correlation(&sent, &decoded, 4800);
    assert!(corr > 0.9, "libsrtp2+libopus decode correlates only {corr}");
    let _ = fs::remove_dir_all(dir);
    Ok(())
}

#[test]
fn we_accept_libsrtp2_protected_rtp_and_rtcp() -> TestResult {
    let dir = scratch_dir("interop-accept");
    let peer = build_peer(&dir)?;
    let sent = speech("Hello from the reference implementation.", &dir);

    // Plain RTP with our own encoder, plus one plain RTCP report.
    let mut encoder = OpusEncoder::new(32_000, false)?;
    let mut plain = Vec::new();
    for (i, frame) in sent.chunks_exact(FRAME).enumerate() {
        let header = RtpHeader {
            marker: i == 0,
            payload_type: 111,
            sequence: 65_500u16.wrapping_add(i as u16), // crosses a rollover
            timestamp: (i * FRAME) as u32,
            ssrc: 0x1234_5678,
        };
        plain.push(header.write(encoder.encode(frame)?));
    }
    plain.push(
        Report {
            ssrc: 0x1234_5678,
            ..Report::default()
        }
        .write_compound(b"interop"),
    );
    let input = dir.join("plain.rec");
    let output = dir.join("protected.rec");
    write_records(&input, &plain)?;
    let run = Command::new(&peer)
        .arg("protect")
        .arg(key_hex(&keys(3)))
        .arg(&input)
        .arg(&output)
        .output()?;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let protected = read_records(&output)?;
    assert_eq!(protected.len(), plain.len());

    let now = Instant::now();
    let mut bob = MediaSession::new(MediaConfig::default(), keys(4), keys(3), now)?;
    let mut heard = Vec::new();
    let mut out = vec![0i16; FRAME];
    for (i, datagram) in protected.iter().enumerate() {
        let at = now + Duration::from_millis(20 * i as u64);
        let kind = bob.receive_datagram(datagram, at)?;
        if i + 1 == protected.len() {
            assert_eq!(kind, Received::Feedback);
        } else {
            assert_eq!(kind, Received::Media);
            bob.next_playout_frame(&mut out)?;
            heard.extend_from_slice(&out);
        }
    }
    let stats = bob.stats();
    assert_eq!(stats.packets_received, protected.len() as u64 - 1);
    assert_eq!(stats.jitter.concealed, 0, "{stats:?}");
    let corr = segmental_correlation(&sent, &heard, 4800);
    eprintln!("correlation {corr}");
    assert!(corr > 0.85, "correlation {corr}");
    let _ = fs::remove_dir_all(dir);
    Ok(())
}

/// Keeps `simulate_call` and `Impairment` in use in this binary too.
#[test]
fn simulated_call_fixture_is_deterministic() -> TestResult {
    let sent = sotto_voice::audio::synth::SpeechLikeSource::generate(1.0, 2);
    let link = Impairment::random_loss(0.05, Duration::from_millis(5));
    let a = simulate_call(&sent, MediaConfig::default(), link, 9)?;
    let b = simulate_call(&sent, MediaConfig::default(), link, 9)?;
    assert_eq!(a.bob.stats().jitter, b.bob.stats().jitter);
    Ok(())
}
