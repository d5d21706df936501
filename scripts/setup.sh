#!/usr/bin/env bash
# Installs the system packages Sotto's build and tests need, if missing.
# Idempotent; needs root (or sudo) only when something must be installed.
#
#   protoc  (protobuf-compiler)  libsignal's and sotto-core's build scripts
#   turnserver (coturn)          the relay's TURN interoperability test
set -euo pipefail

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v perl >/dev/null 2>&1 || missing+=(perl) # vendored OpenSSL's build
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
