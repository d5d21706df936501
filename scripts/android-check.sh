#!/usr/bin/env bash
# What of the Android app can be checked without the Android SDK:
#
#  (a) the `:logic` module (plain Kotlin/JVM) is compiled with kotlinc (npm
#      package `kotlin-compiler`) and its JUnit 5 tests run with the JUnit
#      console launcher (Debian's `junit5`). Main and test sources are compiled
#      in one kotlinc run (kotlinc is slow to start), and the compile is skipped
#      when no source changed since the last successful one.
#
#  (b) the version catalog parses and every `libs.*` accessor in the Gradle
#      scripts names an entry (scripts/android_catalog_check.py); the app's
#      manifest and resources are compiled and linked with `aapt2` (Debian's
#      `aapt`) against Debian's `android-framework-res`, and every
#      `R.string`/`R.drawable`/... the Kotlin sources use must exist in the
#      linked R class.
#
# Debian's framework-res is API 29. The real manifest targets a newer API and
# uses three things API 29 does not know: foreground-service types added later
# (`microphone` in API 30, `specialUse` in API 34, ...), the `<property>`
# element (API 31), and attributes newer than API 29. aapt2 accepts neither
# unknown flag names nor numeric flag values for them, so the check links a
# generated variant of the manifest (scripts/android_manifest_api29.py):
# it removes exactly those newer items, *after* checking each of them against
# the list of names the newer platform defines, and prints every removal.
# Anything else that is wrong (an unknown attribute, a bad reference, a typo
# in a known flag) still fails the link. The variant lives in
# android-app/build/check/ and is never packaged.
#
# What is NOT checked here: compiling `:app` (it needs android.jar), the
# Gradle build, the APK, and the app on a device. See docs/android.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/kotlin-env.sh
. scripts/kotlin-env.sh
if [ -z "${SOTTO_SETUP_DONE:-}" ]; then scripts/setup.sh; fi

app=android-app
out=$app/build/check
mkdir -p "$out"

# --- tools -------------------------------------------------------------------
kotlinc="$(sotto_kotlinc)"
[ -n "$kotlinc" ] || { echo "android-check: kotlinc not found (scripts/setup.sh installs it)" >&2; exit 1; }
kotlin_home=$(cd "$(dirname "$(readlink -f "$kotlinc")")/.." && pwd)
stdlib=$kotlin_home/lib/kotlin-stdlib.jar
junit_console=$SOTTO_JAVA_SHARE/junit-platform-console-standalone.jar
junit_api=$SOTTO_JAVA_SHARE/junit-jupiter-api.jar:$SOTTO_JAVA_SHARE/apiguardian-api.jar:$SOTTO_JAVA_SHARE/opentest4j.jar:$SOTTO_JAVA_SHARE/junit-platform-commons.jar
framework_res=$(dpkg -L android-framework-res 2>/dev/null | grep '/framework-res\.apk$' | head -n1 || true)
for f in "$stdlib" "$junit_console" "$framework_res"; do
  [ -f "$f" ] || { echo "android-check: missing ${f:-framework-res.apk} (run scripts/setup.sh)" >&2; exit 1; }
done
command -v aapt2 >/dev/null 2>&1 || { echo "android-check: aapt2 not found (run scripts/setup.sh)" >&2; exit 1; }

# --- (a) :logic on the JVM ---------------------------------------------------
sources=$(find $app/logic/src/main/kotlin $app/logic/src/test/kotlin -name '*.kt' | LC_ALL=C sort)
stamp=$( (echo "$kotlinc"; "$kotlinc" -version 2>&1 | tail -n1; for f in $sources; do sha256sum "$f"; done) | sha256sum | cut -d' ' -f1)
jar=$out/logic-and-tests.jar
if [ -f "$jar" ] && [ "$(cat "$out/logic.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "android-check: :logic unchanged since the last compile, reusing $jar"
else
  echo "android-check: compiling :logic and its tests with $("$kotlinc" -version 2>&1 | tail -n1 | sed 's/^info: //')"
  rm -f "$jar" "$out/logic.stamp"
  # -Werror: a warning in :logic is a mistake to fix, not noise.
  # shellcheck disable=SC2086
  "$kotlinc" -jvm-target 17 -Werror -classpath "$junit_api" -d "$jar" $sources
  echo "$stamp" >"$out/logic.stamp"
fi

rm -rf "$out/junit-reports"
set +e
java -jar "$junit_console" \
  --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests \
  --class-path "$jar:$stdlib" --scan-class-path "$jar" \
  --reports-dir "$out/junit-reports" | tee "$out/junit.log"
junit_status=${PIPESTATUS[0]}
set -e
passed=$(sed -n 's/.*\[ *\([0-9][0-9]*\) tests successful *\].*/\1/p' "$out/junit.log" | tail -n1)
failed=$(sed -n 's/.*\[ *\([0-9][0-9]*\) tests failed *\].*/\1/p' "$out/junit.log" | tail -n1)
echo "android-logic: ${passed:-0} passed, ${failed:-0} failed"
[ "$junit_status" -eq 0 ] || { echo "android-check: :logic tests failed" >&2; exit 1; }

# --- (b) the build's version catalog, manifest and resources ----------------
python3 scripts/android_catalog_check.py "$app"
rm -rf "$out/aapt2"
mkdir -p "$out/aapt2/gen"
namespace=$(sed -n 's/^ *namespace *= *"\([A-Za-z0-9_.]*\)".*/\1/p' $app/app/build.gradle.kts)
python3 scripts/android_manifest_api29.py "$app/app/src/main/AndroidManifest.xml" "$out/aapt2/AndroidManifest.api29.xml" "$namespace"
# The variant writer must refuse what it does not know; check that it still does,
# so the check above cannot quietly turn into one that accepts anything.
cat >"$out/aapt2/bad-manifest.xml" <<'XML'
<manifest xmlns:android="http://schemas.android.com/apk/res/android">
  <uses-permission android:name="android.permission.FOREGROUND_SERVICE_MICROPHONE" />
  <application><service android:name=".S" android:foregroundServiceType="microphone|phoneCal" /></application>
</manifest>
XML
if python3 scripts/android_manifest_api29.py "$out/aapt2/bad-manifest.xml" "$out/aapt2/bad.out.xml" "$namespace" 2>/dev/null; then
  echo "android-check: the manifest variant writer accepted an unknown service type" >&2
  exit 1
fi
aapt2 compile --dir "$app/app/src/main/res" -o "$out/aapt2/res.zip"
aapt2 link \
  -I "$framework_res" \
  --manifest "$out/aapt2/AndroidManifest.api29.xml" \
  --min-sdk-version "$(sed -n 's/^minSdk *= *"\([0-9]*\)".*/\1/p' $app/gradle/libs.versions.toml)" \
  --target-sdk-version 29 \
  --java "$out/aapt2/gen" \
  -o "$out/aapt2/resources.apk" \
  "$out/aapt2/res.zip"
r_java=$(find "$out/aapt2/gen" -name R.java)
missing=0
while read -r ref; do
  type=${ref%%.*}
  name=${ref#*.}
  if ! awk -v t="$type" -v n="$name" '
      $0 ~ "class " t " " { inside = 1; next }
      inside && /^    }/ { inside = 0 }
      inside && $0 ~ ("int " n "=") { found = 1 }
      END { exit !found }' "$r_java"; then
    echo "android-check: R.$type.$name is used in :app but not defined in res/" >&2
    missing=1
  fi
done < <(grep -rhoE '\bR\.(string|plurals|drawable|mipmap|xml|color|style|raw)\.[A-Za-z0-9_]+' $app/app/src/main/kotlin | sed 's/^R\.//' | LC_ALL=C sort -u)
[ "$missing" -eq 0 ] || exit 1
echo "android-check: manifest and resources link against $(basename "$framework_res") (API 29); every R reference in :app resolves"
