#!/usr/bin/env bash
# The whole test suite from a fresh checkout: every Rust crate (ledger, CLI, Dify simulator) and the
# relay's Node tests. It installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --loglevel=error

cargo test --workspace --locked
npm run --silent test:relay
