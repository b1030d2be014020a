#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (and the benchmark):
#
#   bash scripts/pg-cluster.sh start DIR [PORT]   # initdb into DIR (once), start on 127.0.0.1
#   bash scripts/pg-cluster.sh stop DIR           # fast shutdown
#
# The server listens on 127.0.0.1 only, with its socket in DIR/sock. The
# superuser is `postgres` with the password in DIR/password (scram over
# TCP, so a wrong password is refused). As root the server runs as the
# `postgres` system user (PostgreSQL refuses to run as root).
#
# PORT: the port to use; without it, the port DIR was started on before,
# or else the first free one from PG_CLUSTER_PORT (default 25432) upward:
# below the ephemeral range, so no outgoing connection can hold it, and
# a second test suite running on the same machine simply takes the next.
# On start it prints the URL, e.g. postgresql://postgres:PW@127.0.0.1:25432/postgres.
# PG_CLUSTER_FAST=1: fsync off, for tests.
set -euo pipefail

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bin=$d; done
fi
[ -n "$bin" ] && [ -x "$bin/pg_ctl" ] || { echo "pg-cluster: PostgreSQL server binaries not found (install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg-cluster.sh start DIR [PORT] | stop DIR" >&2; exit 2; }

case "$cmd" in
start)
  port=${3:-}
  mkdir -p "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir/data" "$dir/sock"
    pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n' "$pw" > "$dir/password"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/password" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 100
CONF
    # the test suite's cluster: durability buys nothing in a throwaway
    if [ "${PG_CLUSTER_FAST:-0}" = 1 ]; then
      printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >> "$dir/data/postgresql.conf"
    fi
  fi
  if [ -z "$port" ] && [ -f "$dir/port" ]; then
    port=$(cat "$dir/port")
  fi
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    if [ -n "$port" ]; then
      tries=$port
    else
      base=${PG_CLUSTER_PORT:-25432}
      tries=$(seq "$base" $((base + 40)))
    fi
    started=""
    for p in $tries; do
      rm -f "$dir/server.log"
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $p" -w -t 30 \
          start >/dev/null 2>&1; then
        started=$p
        break
      fi
      grep -q "Address already in use" "$dir/server.log" || break # another failure: report it
    done
    if [ -z "$started" ]; then
      tail -20 "$dir/server.log" >&2
      exit 1
    fi
    port=$started
    echo "$port" > "$dir/port"
  fi
  echo "postgresql://postgres:$(cat "$dir/password")@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] || exit 0
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
  ;;
*)
  echo "usage: pg-cluster.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
