//! Property tests of the wire parsers: arbitrary bytes never panic, and
//! what we write parses back to what we meant.

use std::time::Instant;

use proptest::prelude::*;
use sotto_voice::rtcp::{Report, ReportBlock, SenderInfo};
use sotto_voice::rtp::{parse_red, write_red, RedBlock, RtpHeader};
use sotto_voice::{classify, MediaConfig, MediaSession, SrtpKeys};

fn session() -> MediaSession {
    let keys = SrtpKeys {
        master_key: [9; 32],
        master_salt: [9; 12],
    };
    MediaSession::new(MediaConfig::default(), keys.clone(), keys, Instant::now())
        .expect("valid config")
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = RtpHeader::parse(&bytes);
        let _ = parse_red(&bytes);
        let _ = Report::parse_compound(&bytes);
        let _ = classify(&bytes);
        let mut s = session();
        prop_assert!(s.receive_datagram(&bytes, Instant::now()).is_err());
    }

    #[test]
    fn red_round_trip(
        primary in proptest::collection::vec(any::<u8>(), 1..200),
        copies in proptest::collection::vec(
            (1u16..16_000, proptest::collection::vec(any::<u8>(), 0..300)), 0..3),
    ) {
        let blocks: Vec<RedBlock<'_>> = copies
            .iter()
            .map(|(offset, data)| RedBlock { payload_type: 111, timestamp_offset: *offset, data })
            .collect();
        let red = write_red(111, &primary, &blocks);
        let parsed = parse_red(&red).expect("own RED parses");
        prop_assert_eq!(parsed.len(), blocks.len() + 1);
        for (got, want) in parsed.iter().zip(&blocks) {
            prop_assert_eq!(got, want);
        }
        prop_assert_eq!(parsed[blocks.len()].data, &primary[..]);
    }

    #[test]
    fn rtcp_round_trip(
        ssrc in any::<u32>(),
        sender in proptest::option::of((any::<u64>(), any::<u32>(), any::<u32>(), any::<u32>())),
        blocks in proptest::collection::vec(
            (any::<u32>(), any::<u8>(), -0x80_0000i32..0x80_0000, any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            0..4),
        cname in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let report = Report {
            ssrc,
            sender_info: sender.map(|(ntp, rtp_timestamp, packets, octets)| SenderInfo {
                ntp, rtp_timestamp, packets, octets,
            }),
            blocks: blocks
                .iter()
                .map(|&(ssrc, fraction_lost, cumulative_lost, highest_sequence, jitter, last_sr, delay_since_last_sr)| ReportBlock {
                    ssrc, fraction_lost, cumulative_lost, highest_sequence, jitter, last_sr, delay_since_last_sr,
                })
                .collect(),
        };
        let bytes = report.write_compound(&cname);
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(Report::parse_compound(&bytes).expect("own RTCP parses"), vec![report]);
    }
}
