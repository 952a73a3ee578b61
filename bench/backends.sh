#!/usr/bin/env bash
# Catalog pages through the page cache on SQLite and on PostgreSQL, side by side (issue 12:
# "album-list and track-page rates through the page cache within 10 % of SQLite's").
# For each backend, `mixtape-bench serve` scans LIBRARY into a fresh database (SQLite in a temp
# dir; PostgreSQL: a scratch database on DATABASE_URL, dropped after) and serves it; wrk then
# asks for the first album page and the first track page (both through the page cache), and
# the change feed at its head (`changes?since=REVISION`: what an idle client's 30-second poll
# asks, answered from the database, not the page cache), RUNS times each, alternating backends
# so that drift of the shared machine hits both alike.
# Needs the release mixtape-bench (cargo build --release -p mixtape-bench), wrk, curl, jq.
# Usage: bash bench/backends.sh [LIBRARY] [DATABASE_URL] [RUNS]
#        (defaults: /tmp/bench20k, postgres://postgres@127.0.0.1:5432/postgres, 3)
set -euo pipefail
cd "$(dirname "$0")/.."

library="${1:-/tmp/bench20k}"
database="${2:-postgres://postgres@127.0.0.1:5432/postgres}"
runs="${3:-3}"
seconds="${BENCH_SECONDS:-10}"

declare -A package=([wrk]=wrk [curl]=curl [jq]=jq)
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "missing $tool: sudo apt-get install ${package[$tool]}" >&2; exit 1; }
done
[ -d "$library" ] || { echo "no library at $library: cargo run --release -p mixtape-libgen -- bench --out $library --count 20000" >&2; exit 1; }
bench=./target/release/mixtape-bench
[ -x "$bench" ] || cargo build --release -q -p mixtape-bench

work=$(mktemp -d /tmp/mixtape-backends.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# serve NAME [BACKEND ARGS...]: starts a scanned server; sets URL_<NAME> and TOKEN_<NAME>.
serve() {
  local name=$1 out="$work/$1.out"
  shift
  "$bench" serve --library "$library" --data-dir "$work/$name" "$@" >"$out" 2>"$work/$name.log" &
  pids+=("$!")
  local started=$SECONDS
  until [ -s "$out" ]; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$name.log" >&2; echo "$name server exited" >&2; exit 1; }
    [ $((SECONDS - started)) -lt 3600 ] || { echo "$name server did not start" >&2; exit 1; }
    sleep 0.5
  done
  read -r url token <"$out"
  printf -v "URL_$name" '%s' "$url"
  printf -v "TOKEN_$name" '%s' "$token"
  echo "$name: scanned and serving at $url after $((SECONDS - started)) s" >&2
}

serve sqlite
serve postgres --database "$database"

rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$1"; }
p99() { awk '/^ +99%/ {print $2; exit}' "$1"; }
non2xx() { awk '/Non-2xx or 3xx responses/ {n = $5} END {print n + 0}' "$1"; }

echo "| page | run | SQLite req/s (p99) | PostgreSQL req/s (p99) | PostgreSQL / SQLite |"
echo "|---|---|---|---|---|"
revision() {
  local url_var="URL_$1" token_var="TOKEN_$1"
  curl -sf -H "Authorization: Bearer ${!token_var}" "${!url_var}/api/v1/changes?since=0&limit=1" | jq -r .revision
}
rev_sqlite=$(revision sqlite)
rev_postgres=$(revision postgres)
for page in "albums?limit=50" "tracks?limit=50" "changes?since=REV"; do
  for run in $(seq 1 "$runs"); do
    declare -A got=()
    for name in sqlite postgres; do
      url_var="URL_$name" token_var="TOKEN_$name" rev_var="rev_$name"
      out="$work/wrk-$name.txt"
      path="${page/REV/${!rev_var}}"
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${!token_var}" "${!url_var}/api/v1/$path")
      [ "$code" = 200 ] || { echo "$name $path answered $code" >&2; exit 1; }
      wrk -t2 -c64 -d"${seconds}s" --latency -H "Authorization: Bearer ${!token_var}" "${!url_var}/api/v1/$path" >"$out"
      cat "$out" >&2
      [ "$(non2xx "$out")" = 0 ] || { echo "$name $page: non-2xx answers" >&2; exit 1; }
      got[$name]="$(rps "$out") ($(p99 "$out"))"
      got[${name}_rps]=$(rps "$out")
    done
    ratio=$(awk -v p="${got[postgres_rps]}" -v s="${got[sqlite_rps]}" 'BEGIN {printf "%.2f", p / s}')
    echo "| $page | $run | ${got[sqlite]} | ${got[postgres]} | $ratio |"
  done
done
