//! The SMS parsers and the reassembler on arbitrary input: texts (as
//! carriers deliver them), data SMS, reassembled payloads, compact hello
//! bundles, and a stream of parts from a few senders through one
//! bounded reassembler.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use sotto_core::sms::handshake::decode_compact_bundle;
use sotto_core::sms::{Reassembler, ReassemblyLimits, SmsCodec, SmsFrame, TextSms};

fuzz_target!(|data: &[u8]| {
    let _ = SmsFrame::from_bytes(data);
    let _ = decode_compact_bundle(data);
    let _ = SmsCodec::parse_data(data);
    let limits = ReassemblyLimits {
        messages_per_sender: 4,
        bytes_per_sender: 2048,
        total_bytes: 4096,
        ..ReassemblyLimits::default()
    };
    let mut reassembler = Reassembler::new(limits);
    // Lines are texts; the first byte of a line picks its sender and clock.
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        let Some((&meta, body)) = line.split_first() else { continue };
        let text = String::from_utf8_lossy(body);
        let segment = match SmsCodec::parse_text(&text) {
            TextSms::Segment(segment) => segment,
            TextSms::Plain | TextSms::Damaged => match SmsCodec::parse_data(body) {
                Ok(segment) => segment,
                Err(_) => continue,
            },
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(n as u64 * u64::from(meta >> 4) * 60);
        let _ = reassembler.offer(&(meta & 3), segment, now);
        assert!(reassembler.bytes_held() <= 4096);
        if meta & 4 != 0 {
            let _ = reassembler.expire(now);
        }
    }
});
