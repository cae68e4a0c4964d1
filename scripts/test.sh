#!/usr/bin/env bash
# The whole test suite from a fresh checkout, after installing what it needs:
# every Rust crate (ledger, CLI, simulator, desktop ACL), the relay's and the UI's Vitest suites,
# and the end-to-end tests of the real app under Xvfb through WebDriver.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo test --workspace --locked --exclude tokendesk-e2e
npm run --silent test:relay
npm run --silent test:ui

# End to end: the app as shipped (UI embedded), one WebDriver session at a time. The outer timeout
# turns a WebDriver call that never answers into a failure instead of a stuck CI run.
cargo build --locked --features custom-protocol --bin tokendesk-desktop
cargo build --locked -p tokendesk-e2e --tests
timeout 900 xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- \
  cargo test --locked -p tokendesk-e2e -- --test-threads 1
