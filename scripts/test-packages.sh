#!/usr/bin/env bash
# Checks the Debian packages that scripts/package.sh made, installed on this machine as an admin would:
# the desktop's is at most 8 MB; lintian finds no error; every installed binary answers --version with
# the workspace's version; the desktop entry is valid, in English and Chinese, with its icons (and the
# CLI is beside the app); the server's unit verifies and is sandboxed, it runs as its own system user,
# its settings are a 0640 conffile, and an upgrade migrates the database the settings name (or stops
# when it cannot) and creates no admin; removed, the packages leave nothing but their settings, and
# purged, nothing. The desktop package is installed again at the end for the end-to-end test of the
# installed app (tests/e2e/tests/installed.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
fail() {
  echo "test-packages: $*" >&2
  exit 1
}
step() { echo "test-packages: $*"; }

version=$(cargo pkgid -p tokendesk-desktop | sed 's/.*@//')
desktop=target/packages/tokendesk-desktop_${version}_amd64.deb
server=target/packages/tokendesk-server_${version}_amd64.deb
[ -f "$desktop" ] && [ -f "$server" ] || fail "no packages of $version in target/packages: run scripts/package.sh"
ls -l "$desktop" "$server"
[ "$(stat -c %s "$desktop")" -le 8000000 ] || fail "$desktop is over its goal of 8 MB"

step "lintian"
lintian --fail-on error --tag-display-limit 0 "$desktop" "$server"

step "install"
# From a machine without them: a run that stopped half-way may have left them behind.
"${as_root[@]}" dpkg -P tokendesk-desktop tokendesk-server
"${as_root[@]}" dpkg -i "$desktop" "$server"
for binary in tokendesk-desktop tokendesk tokendesk-server; do
  said=$("/usr/bin/$binary" --version)
  [ "$said" = "$binary $version" ] || fail "$binary --version says \"$said\", not \"$binary $version\""
done
[ "$(dpkg -S /usr/bin/tokendesk)" = "tokendesk-desktop: /usr/bin/tokendesk" ] \
  || fail "the tokendesk CLI is not in the desktop package"

step "desktop entry"
entry=/usr/share/applications/tokendesk-desktop.desktop
desktop-file-validate "$entry"
grep -qx 'Name=TokenDesk' "$entry" || fail "$entry has no English name"
grep -q '^Name\[zh_CN\]=.' "$entry" || fail "$entry has no Chinese name"
grep -qx 'Exec=tokendesk-desktop' "$entry" || fail "$entry does not run tokendesk-desktop"
for size in 16 24 32 48 64 128 256 512; do
  [ -f "/usr/share/icons/hicolor/${size}x${size}/apps/tokendesk-desktop.png" ] || fail "no ${size}px icon"
done

step "server unit"
unit=$(dpkg -L tokendesk-server | grep '/systemd/system/tokendesk-server.service$')
verified=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify: $verified"
[ -z "$verified" ] || fail "systemd-analyze verify complains: $verified"
# Exposure from 0 (locked down) to 10 (unprotected), in tenths: the sandbox must keep it at 2 or below.
systemd-analyze security --offline=true --threshold=20 "$unit" >/dev/null \
  || fail "the unit's sandbox is weaker than it was: $(systemd-analyze security --offline=true "$unit" | tail -1)"
grep -qx 'User=tokendesk' "$unit" || fail "the service does not run as tokendesk"
IFS=: read -r _ _ uid _ _ _ shell < <(getent passwd tokendesk) || fail "no tokendesk user"
[ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] || fail "tokendesk is not a system user (uid $uid, $shell)"

step "server settings"
settings=/etc/tokendesk/server.env
[ "$(stat -c '%a %U:%G' "$settings")" = "640 root:tokendesk" ] \
  || fail "$settings is $(stat -c '%a %U:%G' "$settings"), not 640 root:tokendesk"
dpkg-query -W -f='${Conffiles}\n' tokendesk-server | grep -q " $settings " || fail "$settings is no conffile"

step "upgrade migrates the database in the settings, and creates no admin"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d)
cleanup() {
  "${as_root[@]}" runuser -u tokendesk -- "$pg_bin/pg_ctl" -D "$work/socket/data" -m immediate stop >/dev/null 2>&1 || true
  "${as_root[@]}" rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
"${as_root[@]}" install -d -o tokendesk -g tokendesk "$work/socket"
as_tokendesk=("${as_root[@]}" runuser -u tokendesk --)
"${as_tokendesk[@]}" "$pg_bin/initdb" -D "$work/socket/data" --auth-local=peer --auth-host=reject >/dev/null
start_database() {
  "${as_tokendesk[@]}" "$pg_bin/pg_ctl" -D "$work/socket/data" -l "$work/socket/log" -w \
    -o "-k $work/socket -c listen_addresses=''" start >/dev/null
}
start_database
"${as_tokendesk[@]}" "$pg_bin/createdb" -h "$work/socket" tokendesk
"${as_root[@]}" cp "$settings" "$work/settings"
printf 'DATABASE_URL="postgres:///tokendesk?host=%s&user=tokendesk"\n' "$work/socket" | "${as_root[@]}" tee -a "$settings" >/dev/null
# The same package with a later version: dpkg runs the real upgrade path.
"${as_root[@]}" dpkg-deb -R "$server" "$work/next"
"${as_root[@]}" sed -i "s/^Version: .*/Version: $version+next/" "$work/next/DEBIAN/control"
"${as_root[@]}" dpkg-deb -b "$work/next" "$work/next.deb" >/dev/null
"${as_root[@]}" dpkg -i "$work/next.deb"
query() { "${as_tokendesk[@]}" "$pg_bin/psql" -h "$work/socket" -d tokendesk -Atc "$1"; }
applied=$(query 'SELECT count(*) FROM _sqlx_migrations WHERE success')
shipped=$(ls migrations/server/*.sql | wc -l)
[ "$applied" = "$shipped" ] || fail "the upgrade applied $applied migrations of $shipped"
[ "$(query 'SELECT count(*) FROM users')" = 0 ] || fail "the packages created a user or an admin"
grep -q '^DATABASE_URL=' "$settings" || fail "the upgrade lost the admin's settings"
# With the database down the upgrade stops, so the running server is not restarted onto an old schema.
"${as_tokendesk[@]}" "$pg_bin/pg_ctl" -D "$work/socket/data" -m fast -w stop >/dev/null
if "${as_root[@]}" dpkg -i "$server" 2>"$work/refused"; then
  fail "the upgrade went on without migrating"
fi
grep -q 'migrating the database named in /etc/tokendesk/server.env failed' "$work/refused" \
  || fail "the failed upgrade did not say why: $(cat "$work/refused")"
start_database
"${as_root[@]}" dpkg --configure -a
"${as_root[@]}" cp "$work/settings" "$settings"

step "remove leaves only the settings, purge leaves nothing"
"${as_root[@]}" dpkg-query -L tokendesk-desktop tokendesk-server | sort -u >"$work/installed"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' tokendesk-desktop tokendesk-server | awk 'NF {print $1}')
left_over() {
  while read -r path; do
    if [ -f "$path" ] || [ -L "$path" ]; then echo "$path"; fi
  done <"$work/installed"
}
"${as_root[@]}" dpkg -r tokendesk-desktop tokendesk-server
[ "$(left_over)" = "$conffiles" ] || fail "removing left $(left_over | tr '\n' ' ')but the settings are $conffiles"
"${as_root[@]}" dpkg -P tokendesk-desktop tokendesk-server
[ -z "$(left_over)" ] || fail "purging left $(left_over | tr '\n' ' ')"
[ ! -e /etc/tokendesk ] || fail "purging left /etc/tokendesk"
systemd_state=$(find /etc/systemd /var/lib/systemd -name '*tokendesk*' 2>/dev/null)
[ -z "$systemd_state" ] || fail "purging left $systemd_state"

step "install the desktop package again, for the end-to-end test of the installed app"
"${as_root[@]}" dpkg -i "$desktop"
step "passed"
