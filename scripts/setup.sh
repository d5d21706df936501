#!/usr/bin/env bash
# Installs the system packages Sotto's build and tests need, if missing.
# Idempotent; needs root (or sudo) only when a Debian package must be
# installed.
#
#   protoc  (protobuf-compiler)  libsignal's and sotto-core's build scripts
#   cmake                        builds the bundled libopus (sotto-voice, `opus` crate)
#   pkg-config, libasound2-dev   cpal's ALSA backend (sotto-voice feature `device`)
#   libsrtp2-dev, libopus-dev    the independent libsrtp2 peer of sotto-voice's interop test
#   espeak-ng                    speech for sotto-voice's tests and benchmarks
#   turnserver (coturn)          the relay's TURN interoperability test
#   java    (default-jdk-headless) kotlinc and the Kotlin tests of the bindings
#   npm                           fetches kotlinc (npm package kotlin-compiler)
#   JNA     (libjna-java, libjna-jni)  the generated Kotlin loads the library
#   JUnit 5 (junit5)              runs the Kotlin tests (console launcher)
#   kotlinc (npm kotlin-compiler, pinned in kotlin-env.sh), into a per-user
#           cache without root
#   aapt2   (aapt)                 links the Android app's manifest and resources
#   framework-res.apk (android-framework-res)  the API-29 platform resources
#           aapt2 links against (scripts/android-check.sh)
#   python3                        writes the API-29 manifest variant for that link
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/kotlin-env.sh
. scripts/kotlin-env.sh

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v perl >/dev/null 2>&1 || missing+=(perl) # vendored OpenSSL's build
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
[ -f /usr/include/alsa/asoundlib.h ] || missing+=(libasound2-dev)
[ -f /usr/include/srtp2/srtp.h ] || missing+=(libsrtp2-dev)
[ -f /usr/include/opus/opus.h ] || missing+=(libopus-dev)
command -v turnserver >/dev/null 2>&1 || [ -x /usr/bin/turnserver ] || missing+=(coturn)
command -v java >/dev/null 2>&1 || missing+=(default-jdk-headless)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -f "$SOTTO_JAVA_SHARE/jna.jar" ] || missing+=(libjna-java)
compgen -G "/usr/lib/*/jni/libjnidispatch.system.so" >/dev/null || missing+=(libjna-jni)
[ -f "$SOTTO_JAVA_SHARE/junit-platform-console-standalone.jar" ] || missing+=(junit5)
# The Android app's checks (scripts/android-check.sh).
command -v aapt2 >/dev/null 2>&1 || missing+=(aapt)
[ -f /usr/share/android-framework-res/framework-res.apk ] || missing+=(android-framework-res)
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -z "$(sotto_kotlinc)" ]; then
  echo "setup: installing kotlinc $SOTTO_KOTLIN_VERSION (npm kotlin-compiler) into $SOTTO_KOTLIN_PREFIX"
  mkdir -p "$SOTTO_KOTLIN_PREFIX"
  npm install --prefix "$SOTTO_KOTLIN_PREFIX" --no-audit --no-fund --loglevel=error \
    "kotlin-compiler@$SOTTO_KOTLIN_VERSION" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || {
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
}
