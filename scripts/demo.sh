#!/usr/bin/env bash
# The README's first command: builds and runs `sotto demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo run --release --locked -p sotto-cli --bin sotto -- demo "$@"
