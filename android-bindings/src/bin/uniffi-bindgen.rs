//! UniFFI's binding generator, built from this workspace so that its version
//! always matches the library's (see `scripts/kotlin-test.sh`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
