#!/usr/bin/env bash
# Installs what TokenDesk needs on Debian 12 (idempotent): the WebKitGTK stack and the end-to-end test
# tools from Debian, PostgreSQL 15 for the org server and its tests, what makes and checks the Debian
# packages (lintian, desktop-file-utils, systemd-analyze, cargo-deb), the npm packages (the Tauri CLI
# among them), tauri-driver from crates.io, and the built UI (ui/dist).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libwebkit2gtk-4.1-dev build-essential libxdo-dev libssl-dev libayatana-appindicator3-dev
  librsvg2-dev webkit2gtk-driver xvfb xauth dbus dbus-daemon dbus-x11 pkg-config postgresql postgresql-contrib
  dpkg-dev adduser lintian desktop-file-utils systemd)
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^ii ' || true)
if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

command -v tauri-driver >/dev/null || [ -x "$HOME/.cargo/bin/tauri-driver" ] \
  || cargo install tauri-driver --locked --version 2.1.0
command -v cargo-deb >/dev/null || [ -x "$HOME/.cargo/bin/cargo-deb" ] \
  || cargo install cargo-deb --locked --version 3.8.0

npm ci --no-audit --no-fund --loglevel=error
npm run --silent build:ui
