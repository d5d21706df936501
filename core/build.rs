//! Compiles the Sotto wire formats (`proto/sotto.proto`, `proto/relay.proto`) with prost.

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=proto/sotto.proto");
    println!("cargo:rerun-if-changed=proto/relay.proto");
    prost_build::compile_protos(&["proto/sotto.proto", "proto/relay.proto"], &["proto/"])
}
