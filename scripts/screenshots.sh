#!/usr/bin/env bash
# Starts the real app under Xvfb and saves PNGs of every window, in zh-CN and in en, to target/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --locked --features custom-protocol --bin tokendesk-desktop
xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- cargo run --locked -p tokendesk-e2e --bin screenshots
