//! Compiles the Sotto wire format (`proto/sotto.proto`) with prost.

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=proto/sotto.proto");
    prost_build::compile_protos(&["proto/sotto.proto"], &["proto/"])
}
