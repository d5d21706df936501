#!/usr/bin/env bash
# The README's second command: runs every test of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked
# The Kotlin bindings on the JVM (JUnit 5 through JNA); setup already ran.
SOTTO_SETUP_DONE=1 scripts/kotlin-test.sh
# The Android app's :logic tests (kotlinc + JUnit 5) and the aapt2 link of its
# manifest and resources; setup already ran.
SOTTO_SETUP_DONE=1 scripts/android-check.sh
# The app's BindingsAdapter.kt type-checked against the bindings kotlin-test.sh
# generated and the :logic jar android-check.sh just built.
SOTTO_SETUP_DONE=1 scripts/android-adapter-check.sh
