#!/usr/bin/env bash
# Runs the org server on 127.0.0.1:8780 over a local PostgreSQL cluster kept in a data folder, migrating
# first. Set DATABASE_URL to use an existing PostgreSQL instead (nothing is started then), LISTEN to serve
# elsewhere, TOKENDESK_SERVER_DATA to keep the cluster in another folder. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pg_ctlcluster >/dev/null || [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi
cargo build --release --locked -p tokendesk-server
server=target/release/tokendesk-server
listen=${LISTEN:-127.0.0.1:8780}

if [ -z "${DATABASE_URL:-}" ]; then
  bin=/usr/lib/postgresql/15/bin
  data=$(realpath -m "${TOKENDESK_SERVER_DATA:-.server-data}")
  port=${PGPORT:-55432}
  as_postgres=()
  if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses to run as root: the cluster belongs to the postgres user.
    mkdir -p "$data" && chown postgres: "$data"
    as_postgres=(runuser -u postgres --)
    if ! "${as_postgres[@]}" test -w "$data"; then
      echo "the postgres user cannot write $data; set TOKENDESK_SERVER_DATA to a folder it can reach" >&2
      exit 1
    fi
  fi
  if [ ! -f "$data/pg/PG_VERSION" ]; then
    "${as_postgres[@]}" "$bin/initdb" -A trust -U postgres -D "$data/pg" >/dev/null
  fi
  if ! "${as_postgres[@]}" "$bin/pg_ctl" -D "$data/pg" status >/dev/null 2>&1; then
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$data/pg" -w -l "$data/pg.log" \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
    trap '"${as_postgres[@]}" "$bin/pg_ctl" -D "$data/pg" -m fast stop >/dev/null' EXIT
  fi
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'tokendesk'" \
    | grep -q 1 || "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres tokendesk
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/tokendesk"
fi

"$server" migrate
echo "TokenDesk server on http://$listen (database $DATABASE_URL)"
echo "First admin, in another shell: DATABASE_URL=$DATABASE_URL $server admin create NAME"
"$server" serve --listen "$listen"
