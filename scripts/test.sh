#!/usr/bin/env bash
# The whole test suite from a fresh checkout, after installing what it needs:
# every Rust crate (ledger, CLI, simulator, desktop ACL), the relay's and the UI's Vitest suites,
# the Debian packages (made, installed on this machine and checked: needs root or sudo),
# and the end-to-end tests of the real app under Xvfb through WebDriver.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# One feature set for every build, so nothing is compiled twice: the desktop app is built as shipped
# (UI embedded) and the end-to-end tests drive that very binary.
cargo_args=(--workspace --locked --features tokendesk-desktop/custom-protocol)
# A fresh checkout gains nothing from incremental state: it would only take disk (gigabytes of it).
export CARGO_INCREMENTAL=0
df -h . | sed 's/^/disk before the build: /'
cargo build "${cargo_args[@]}" --all-targets
du -sh target | sed 's/^/build output, tests built: /'

npm run --silent test:relay
npm run --silent test:ui

# The packages leave the desktop app installed, and the end-to-end tests below run that one too.
bash scripts/package.sh --no-setup
bash scripts/test-packages.sh
export TOKENDESK_INSTALLED_DESKTOP=/usr/bin/tokendesk-desktop

# Every Rust test, the end-to-end ones included (they run one app at a time by themselves). The outer
# timeout turns a WebDriver call that never answers into a failure instead of a stuck CI run.
timeout 3000 xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- \
  cargo test "${cargo_args[@]}" --no-fail-fast
du -sh target | sed 's/^/build output, all tested: /'
