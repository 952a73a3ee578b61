#!/usr/bin/env bash
# Replica lag during a first scan on PostgreSQL (issue 12: "replica lag during a 100k scan").
# Makes a PostgreSQL primary and a streaming replica of its own in a temp dir (from the installed
# postgresql-15 binaries; default durability settings: fsync and synchronous_commit on), runs
# `mixtape-bench storage` (the first scan of LIBRARY into a scratch database on the primary)
# and samples pg_stat_replication every 250 ms: bytes of WAL the replica has not replayed yet
# and the replay_lag time. Prints the scan figure and the lag's p50, p99 and max.
# Needs the release mixtape-bench (cargo build --release -p mixtape-bench) and postgresql-15.
# Usage: bash bench/replica-lag.sh [LIBRARY]   (default /tmp/bench100k)
set -euo pipefail
cd "$(dirname "$0")/.."

library="${1:-/tmp/bench100k}"
pg=/usr/lib/postgresql/15/bin
[ -x "$pg/initdb" ] || { echo "missing PostgreSQL 15: sudo apt-get install postgresql-15" >&2; exit 1; }
[ -d "$library" ] || { echo "no library at $library: cargo run --release -p mixtape-libgen -- bench --out $library --count 100000" >&2; exit 1; }
bench=./target/release/mixtape-bench
[ -x "$bench" ] || cargo build --release -q -p mixtape-bench
library=$(cd "$library" && pwd)

work=$(mktemp -d /tmp/mixtape-replica-lag.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres:postgres "$work"
cleanup() {
  [ -n "${scan_pid:-}" ] && kill "$scan_pid" 2>/dev/null
  for d in replica primary; do
    [ -d "$work/$d" ] && as_pg "$pg/pg_ctl" -D "$work/$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
primary_port=$(free_port)
replica_port=$(free_port)

as_pg "$pg/initdb" -D "$work/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
printf 'local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n' \
  | as_pg tee "$work/primary/pg_hba.conf" >/dev/null
printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nmax_connections = 200\n" \
  "$primary_port" "$work" | as_pg tee -a "$work/primary/postgresql.conf" >/dev/null
as_pg "$pg/pg_ctl" -D "$work/primary" -l "$work/primary.log" -w start >/dev/null
as_pg "$pg/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$work/replica" -R -X stream -c fast
printf "port = %s\n" "$replica_port" | as_pg tee -a "$work/replica/postgresql.conf" >/dev/null
as_pg "$pg/pg_ctl" -D "$work/replica" -l "$work/replica.log" -w start >/dev/null

psql_primary() { psql -h 127.0.0.1 -p "$primary_port" -U postgres -Atc "$1" postgres; }
[ "$(psql_primary 'select count(*) from pg_stat_replication')" = 1 ] || { echo "the replica is not streaming" >&2; exit 1; }

find "$library" -type f -print0 | xargs -0 cat >/dev/null # warm page cache
"$bench" storage --library "$library" --database "postgres://postgres@127.0.0.1:$primary_port/postgres" \
  --writers 1 --seconds 1 >"$work/scan.txt" &
scan_pid=$!
: >"$work/lag.txt"
while kill -0 "$scan_pid" 2>/dev/null; do
  psql_primary "select pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
                       coalesce(extract(epoch from replay_lag) * 1000, 0)::bigint
                  from pg_stat_replication" >>"$work/lag.txt" || true
  sleep 0.25
done
wait "$scan_pid"
scan_pid=
cat "$work/scan.txt"
sort -t'|' -k1,1n "$work/lag.txt" | awk -F'|' '{b[NR] = $1} END {
  n = NR; if (n == 0) exit 1
  printf "| replica lag in WAL bytes over %d samples (250 ms apart) | p50 %.1f KiB, p99 %.1f KiB, max %.1f KiB |\n",
    n, b[int((n - 1) * 0.5) + 1] / 1024, b[int((n - 1) * 0.99) + 1] / 1024, b[n] / 1024 }'
sort -t'|' -k2,2n "$work/lag.txt" | awk -F'|' '{t[NR] = $2} END {
  n = NR
  printf "| replica replay_lag | p50 %d ms, p99 %d ms, max %d ms |\n",
    t[int((n - 1) * 0.5) + 1], t[int((n - 1) * 0.99) + 1], t[n] }'
