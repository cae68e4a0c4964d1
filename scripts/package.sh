#!/usr/bin/env bash
# Makes the Debian packages in target/packages/: tokendesk-desktop_<version>_amd64.deb (the app and the
# tokendesk CLI, by the Tauri bundler) and tokendesk-server_<version>_amd64.deb (the server and its
# systemd unit, by cargo-deb). The release binaries are built once, in one cargo build, and packed as
# they are. `--no-setup` skips scripts/setup.sh for a caller that has just run it (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = --no-setup ] || bash scripts/setup.sh

cargo build --release --locked --features tokendesk-desktop/custom-protocol \
  -p tokendesk-desktop -p tokendesk-cli -p tokendesk-server --bins

version=$(cargo pkgid -p tokendesk-desktop | sed 's/.*@//')
maintainer=$(sed -n 's/^authors = \["\(.*\)"\]$/\1/p' Cargo.toml)
out=target/packages
rm -rf "$out" target/release/bundle/deb
mkdir -p "$out"

# Both packages' Debian changelog (Debian wants one): this version, from this commit (dated as it, so
# that a rebuild writes the same file).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "an unknown commit")
committed=$(git log -1 --format=%ct 2>/dev/null || date +%s)
{
  printf 'tokendesk (%s) stable; urgency=medium\n\n' "$version"
  printf '  * Built from %s.\n\n' "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$(date -R -d "@$committed")"
} >"$out/changelog"

# The desktop package depends on the libraries both of its binaries link, as dpkg-shlibdeps finds them
# (it reads a debian/control, hence the scratch one); the bundler adds WebKitGTK and the tray's library.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/debian"
printf 'Source: tokendesk\n\nPackage: tokendesk-desktop\nArchitecture: any\n' >"$scratch/debian/control"
release=$PWD/target/release
shlibs=$(cd "$scratch" && dpkg-shlibdeps -O -e"$release/tokendesk-desktop" -e"$release/tokendesk")
depends=$(printf '%s' "${shlibs#shlibs:Depends=}" \
  | sed 's/ *, */","/g; s/^/["/; s/$/"]/')
printf '{"bundle": {"linux": {"deb": {"depends": %s, "changelog": "%s/changelog"}}}}\n' \
  "$depends" "$out" >"$out/tauri.deb.generated.json"

npx tauri bundle --bundles deb --features custom-protocol --no-binary-patching \
  --config packaging/desktop/tauri.deb.json --config "$out/tauri.deb.generated.json"
# The bundler compresses with gzip; xz, dpkg's own default, keeps the package under 8 MB.
desktop_deb=tokendesk-desktop_${version}_amd64.deb
dpkg-deb -R "target/release/bundle/deb/$desktop_deb" "$scratch/desktop"
dpkg-deb --root-owner-group -Zxz -b "$scratch/desktop" "$out/$desktop_deb"

cargo deb --locked --no-build -p tokendesk-server --output "$out/"

ls -l "$out"/*.deb
