//! "Voice CPU": the full duplex chain per 20 ms frame — for each direction
//! Opus encode, RTP/RED packing, SRTP protect, SRTP unprotect, jitter
//! buffer and Opus decode, plus the RTCP reports when due. Also each stage
//! alone, to see where the time goes.
//!
//! Run: `cargo bench -p sotto-voice --bench voice_chain`
//! Target (DESIGN.md): at most 0.5 ms per frame on one core.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sotto_voice::audio::synth::SpeechLikeSource;
use sotto_voice::codec::{OpusDecoder, OpusEncoder, FRAME_SAMPLES};
use sotto_voice::srtp::{SrtpReceiver, SrtpSender};
use sotto_voice::{MediaConfig, MediaSession, SrtpKeys};

fn keys(fill: u8) -> SrtpKeys {
    SrtpKeys {
        master_key: [fill; 32],
        master_salt: [fill; 12],
    }
}

/// One direction of one frame: capture → datagrams → playout.
fn one_way(
    tx: &mut MediaSession,
    rx: &mut MediaSession,
    frame: &[i16],
    now: Instant,
    out: &mut [i16],
) {
    if let Some(p) = tx.send_frame(frame, now).expect("send") {
        rx.receive_datagram(&p, now).expect("receive");
    }
    if let Some(r) = tx.poll_feedback(now).expect("feedback") {
        rx.receive_datagram(&r, now).expect("report");
    }
    rx.next_playout_frame(out).expect("playout");
}

fn bench(c: &mut Criterion) {
    let speech = SpeechLikeSource::generate(10.0, 3);
    let frames: Vec<&[i16]> = speech.chunks_exact(FRAME_SAMPLES).collect();

    let start = Instant::now();
    let mut a =
        MediaSession::new(MediaConfig::default(), keys(1), keys(2), start).expect("session");
    let mut b =
        MediaSession::new(MediaConfig::default(), keys(2), keys(1), start).expect("session");
    let mut out = vec![0i16; FRAME_SAMPLES];
    let mut i = 0usize;
    c.bench_function("full duplex chain per 20 ms frame", |bench| {
        bench.iter(|| {
            let now = start + Duration::from_millis(20 * i as u64);
            let frame = frames[i % frames.len()];
            one_way(&mut a, &mut b, frame, now, &mut out);
            one_way(&mut b, &mut a, frame, now, &mut out);
            i += 1;
        })
    });

    let mut enc = OpusEncoder::new(32_000, false).expect("encoder");
    for complexity in [5u8, 7, 9] {
        enc.set_complexity(complexity).expect("complexity");
        let mut j = 0usize;
        c.bench_function(
            &format!("opus encode 20 ms, complexity {complexity}"),
            |bench| {
                bench.iter(|| {
                    j += 1;
                    enc.encode(frames[j % frames.len()]).expect("encode").len()
                })
            },
        );
    }
    let packets: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| enc.encode(f).expect("encode").to_vec())
        .collect();
    let mut dec = OpusDecoder::new().expect("decoder");
    let mut k = 0usize;
    c.bench_function("opus decode 20 ms", |bench| {
        bench.iter(|| {
            k += 1;
            dec.decode(&packets[k % packets.len()], &mut out)
                .expect("decode")
        })
    });

    let mut tx = SrtpSender::new(&keys(3)).expect("sender");
    let mut rx = SrtpReceiver::new(&keys(3)).expect("receiver");
    let mut seq = 0u16;
    c.bench_function("srtp protect + unprotect (100-byte payload)", |bench| {
        bench.iter(|| {
            seq = seq.wrapping_add(1);
            let mut packet = vec![0x80, 111];
            packet.extend_from_slice(&seq.to_be_bytes());
            packet.extend_from_slice(&[0; 8]);
            packet.extend_from_slice(&[0x55; 100]);
            let sealed = tx.protect_rtp(&packet).expect("protect");
            rx.unprotect_rtp(&sealed).expect("unprotect")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
