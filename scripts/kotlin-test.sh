#!/usr/bin/env bash
# The Kotlin-on-JVM tests of the UniFFI bindings (android-bindings/, issue 5):
#
# 1. builds the host library (libsotto_ffi.so) and the workspace's own
#    uniffi-bindgen in one cargo invocation;
# 2. generates the Kotlin bindings from the library (library mode) into
#    target/kotlin/generated/ — generated code, never edited by hand;
# 3. compiles the bindings and tests/kotlin/ once with kotlinc, against
#    Debian's JNA and JUnit 5 jars;
# 4. runs the tests with the JUnit console launcher, with JNA pointed at
#    the library just built and the path of sotto-relay (built here too)
#    in the system property sotto.relay.bin.
#
# Extra arguments go to the JUnit launcher (e.g. --include-classname '.*EventsTest').
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/kotlin-env.sh
. scripts/kotlin-env.sh
if [ -z "${SOTTO_SETUP_DONE:-}" ]; then scripts/setup.sh; fi

kotlinc="$(sotto_kotlinc)"
target="${CARGO_TARGET_DIR:-target}"
out="$target/kotlin"
generated="$out/generated"
jar="$out/sotto-jvm-tests.jar"
share="$SOTTO_JAVA_SHARE"

# Seconds since the script started, for the CI log.
step() { echo "kotlin-test: ($SECONDS s) $*"; }

step "building libsotto_ffi and uniffi-bindgen"
cargo build --locked -p sotto-ffi --features bindgen --lib --bin uniffi-bindgen
library="$target/debug/libsotto_ffi.so"

step "building sotto-relay (the two-account test runs a real one on loopback)"
cargo build --locked -p sotto-relay --bin sotto-relay
relay="$(cd "$target/debug" && pwd)/sotto-relay"

step "generating the Kotlin bindings into $generated"
rm -rf "$generated"
"$target/debug/uniffi-bindgen" generate --library "$library" --language kotlin \
  --out-dir "$generated" --no-format

step "compiling bindings and tests with $kotlinc"
compile_cp="$share/jna.jar:$share/junit-jupiter-api.jar:$share/opentest4j.jar:$share/apiguardian-api.jar"
find "$generated" tests/kotlin -name '*.kt' -print0 \
  | xargs -0 "$kotlinc" -nowarn -jvm-target 17 -include-runtime -cp "$compile_cp" -d "$jar"

step "running the tests"
log="$out/junit.log"
status=0
java -Djna.library.path="$(dirname "$library")" -Dsotto.relay.bin="$relay" \
  -jar "$share/junit-platform-console-standalone.jar" \
  --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests \
  --class-path "$jar:$share/jna.jar" --scan-classpath "$jar" \
  --include-package org.sotto.ffi.jvmtest "$@" 2>&1 | tee "$log" || status=$?

# One plain closing line, as other test runners print.
count() { sed -n "s/^\[ *\([0-9]*\) tests $1 *\]$/\1/p" "$log"; }
step "done"
echo "kotlin: $(count successful) passed, $(count failed) failed"
exit "$status"
