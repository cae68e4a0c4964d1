#!/usr/bin/env bash
# Every performance figure: the ledger's (P1–P3 of `tokendesk bench`) and the desktop's (relay overhead,
# binary size, cold start) on the release build under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked --features custom-protocol --bin tokendesk-desktop
cargo run --release --locked -p tokendesk-cli -- bench "$@"
TOKENDESK_DESKTOP_BIN="$PWD/target/release/tokendesk-desktop" xvfb-run -a -s "-screen 0 1400x900x24" \
  dbus-run-session -- cargo run --release --locked -p tokendesk-e2e --bin desktop-bench
