//! The relay's frame decoder on arbitrary bytes: a byte stream split into
//! length-delimited frames and decoded as client frames (what the relay
//! does with every connection), and one body decoded as a server frame
//! (what clients do).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_core::relay::wire;

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode_client_stream(data);
    let _ = wire::decode_server(data);
});
