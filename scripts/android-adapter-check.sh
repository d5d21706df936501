#!/usr/bin/env bash
# Type-checks the Android app's one bindings file,
# android-app/app/src/main/kotlin/org/sotto/app/core/BindingsAdapter.kt,
# against the Kotlin bindings that scripts/kotlin-test.sh generates from the
# host build of sotto-ffi (target/kotlin/generated). It needs no Android SDK:
# the adapter uses only the bindings, `:logic` and JNA.
#
# scripts/test.sh runs it last, after kotlin-test.sh (which generates the
# bindings) and android-check.sh (which builds the :logic jar it compiles
# against). A failure lists the binding names the adapter uses that the
# bindings do not have. Passing means the adapter type-checks on the JVM; it
# says nothing about running on Android.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/kotlin-env.sh
. scripts/kotlin-env.sh

# Where kotlin-test.sh generated them (it honours CARGO_TARGET_DIR too).
generated="${CARGO_TARGET_DIR:-target}/kotlin/generated"
logic_jar=android-app/build/check/logic-and-tests.jar
adapter=android-app/app/src/main/kotlin/org/sotto/app/core/BindingsAdapter.kt
if ! compgen -G "$generated/org/sotto/ffi/*.kt" >/dev/null; then
  echo "android-adapter-check: no generated bindings in $generated; run scripts/kotlin-test.sh first" >&2
  exit 1
fi
[ -f "$logic_jar" ] || SOTTO_SETUP_DONE=1 scripts/android-check.sh >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
set +e
"$(sotto_kotlinc)" -nowarn -jvm-target 17 \
  -cp "$logic_jar:$SOTTO_JAVA_SHARE/jna.jar" -d "$out/classes" \
  $(find "$generated" -name '*.kt') "$adapter" >"$out/log" 2>&1
status=$?
set -e
if [ "$status" -eq 0 ]; then
  echo "android-adapter-check: BindingsAdapter.kt compiles against the generated bindings"
  exit 0
fi
echo "android-adapter-check: BindingsAdapter.kt does not compile against the generated bindings."
echo "Binding names it uses that the bindings do not have:"
grep -oE "unresolved reference '[A-Za-z]+'( on receiver of type '[A-Za-z]+')?" "$out/log" | sort | uniq -c | sort -rn
echo "Other errors:"
grep "error:" "$out/log" | grep -vE "unresolved reference|cannot infer type|inapplicable" || echo "  none"
exit 1
