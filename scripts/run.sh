#!/usr/bin/env bash
# Runs the TokenDesk desktop app from a fresh checkout. With no Dify app configured it starts in demo mode
# against the built-in Dify simulator. Pass --dify-url URL and/or --data-dir DIR to choose otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --release --locked --features custom-protocol --bin tokendesk-desktop -- "$@"
