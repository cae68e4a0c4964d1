#!/usr/bin/env bash
# Runs TokenDesk from a fresh checkout. Until the desktop app lands, this is the ledger's own front door:
# `tokendesk status` against a fresh data directory (or TOKENDESK_DATA_DIR when it is set).
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${TOKENDESK_DATA_DIR:-$(mktemp -d)}"
cargo run --quiet --release --locked -p tokendesk-cli -- --data-dir "$data_dir" status "$@"
echo "data directory: $data_dir (try: cargo run -p tokendesk-cli -- --data-dir $data_dir --help)"
