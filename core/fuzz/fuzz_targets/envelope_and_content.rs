//! Envelope headers, padded Contents and PreKeyBundles on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_core::message::{Content, Envelope};

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::from_bytes(data);
    let _ = Content::from_padded_bytes(data);
    let _ = sotto_core::decode_bundle(data);
});
