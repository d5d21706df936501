#!/usr/bin/env bash
# The README's second command: runs every test of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked
