#!/usr/bin/env bash
# Every performance figure in one run, on the release build: the ledger's (`tokendesk bench`: the charge
# path against a bare fsync'd commit, the dashboard, a history page, a price import) and the desktop's under
# Xvfb (cold start, memory, the relay's overhead, the binary's size).
#   bash scripts/bench.sh [--json] [tokendesk bench options, e.g. --rows N --dir DIR]
# --json prints (only) one JSON object with the keys p1_ratio, p2_ms, p2_ratio, p3_ms, cold_start_s, memory_mb,
# relay_first_byte_added_ms and import_s (medians), and every figure's spread under "details".
set -euo pipefail
cd "$(dirname "$0")/.."
json=()
ledger_args=()
for arg in "$@"; do
  if [ "$arg" = --json ]; then json=(--json); else ledger_args+=("$arg"); fi
done
bash scripts/setup.sh >&2
cargo build --release --locked --features custom-protocol --bin tokendesk-desktop >&2
mkdir -p target/bench
# LiteLLM's own price map, from its package on PyPI; without pip, the bench generates one of its shape.
if [ ! -f target/bench/litellm.json ] && python3 -m pip --version >/dev/null 2>&1; then
  python3 -m pip download --quiet litellm --no-deps -d target/bench/wheel >&2 \
    && python3 -c 'import sys, zipfile, glob
wheel = zipfile.ZipFile(sorted(glob.glob("target/bench/wheel/litellm-*.whl"))[-1])
open("target/bench/litellm.json", "wb").write(wheel.read("litellm/model_prices_and_context_window_backup.json"))' >&2 \
    || echo "LiteLLM's price map could not be fetched; the bench generates one of its shape" >&2
fi
price_file=()
if [ -f target/bench/litellm.json ]; then price_file=(--price-file target/bench/litellm.json); fi
# The scratch ledger goes on the disk of the project's own folder unless --dir says otherwise.
dir=(--dir target/bench)
for arg in "${ledger_args[@]}"; do
  if [ "$arg" = --dir ]; then dir=(); fi
done
cargo run --release --locked -p tokendesk-cli -- --json bench "${dir[@]}" "${price_file[@]}" \
  "${ledger_args[@]}" > target/bench/ledger.json
report=()
if [ ${#json[@]} -gt 0 ]; then report=(--json-out target/bench/report.json); fi
# The session's desktop services print to standard output too: the JSON goes through a file.
TOKENDESK_DESKTOP_BIN="$PWD/target/release/tokendesk-desktop" xvfb-run -a -s "-screen 0 1400x900x24" \
  dbus-run-session -- cargo run --release --locked -p tokendesk-e2e --bin desktop-bench -- \
  --ledger-report target/bench/ledger.json "${report[@]}" >&2
if [ ${#json[@]} -gt 0 ]; then cat target/bench/report.json; echo; fi
