#!/usr/bin/env bash
# Installs the system packages Sotto's build and tests need, if missing.
# Idempotent; needs root (or sudo) only when something must be installed.
#
#   protoc  (protobuf-compiler)  libsignal's and sotto-core's build scripts
#   cmake                        builds the bundled libopus (sotto-voice, `opus` crate)
#   pkg-config, libasound2-dev   cpal's ALSA backend (sotto-voice feature `device`)
#   libsrtp2-dev, libopus-dev    the independent libsrtp2 peer of sotto-voice's interop test
#   espeak-ng                    speech for sotto-voice's tests and benchmarks
#   turnserver (coturn)          the relay's TURN interoperability test
set -euo pipefail

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

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null 2>&1 || {
  echo "setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
}
