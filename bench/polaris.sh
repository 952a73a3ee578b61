#!/usr/bin/env bash
# Side by side with Polaris (issue 16), on one library, on loopback: the release mixtape-server
# and an already-built Polaris binary run alternately (Mixtape, Polaris, Mixtape, ...), ROUNDS
# rounds, each on a fresh data dir removed after. Per run:
#   - first scan: seconds from the process start until its index is complete (Mixtape: scan
#     idle/done; Polaris: index_status UpToDate), and files/s over the library's audio files;
#   - peak RSS after the scan (VmHWM), and after the searches;
#   - the queries of `mixtape-bench search` (drawn once from the library's tags, the same list
#     for both servers), timed one at a time with `mixtape-bench peer search`: p50/p95/p99 and
#     recall@10 per class;
#   - one stream of the largest file of the library with curl (%{speed_download}).
# Prints Markdown rows of the medians over the rounds (min-max after each), raw per-run JSON
# in the work dir's log on stderr.
# Needs target/release/mixtape-server and mixtape-bench, curl, jq, awk.
# Usage: bash bench/polaris.sh POLARIS_BIN LIBRARY [QUERIES]   (env: ROUNDS=3, SEED=1)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  echo "usage: bash bench/polaris.sh POLARIS_BIN LIBRARY [QUERIES]" >&2
  exit 1
fi
polaris=$(realpath "$1")
library=$(realpath "$2")
queries=${3:-3000}
rounds=${ROUNDS:-3}
seed=${SEED:-1}
password=bench-password

for tool in curl jq awk; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install $tool)" >&2; exit 1; }
done
[ -x "$polaris" ] || { echo "no Polaris binary at $polaris" >&2; exit 1; }
[ -d "$library" ] || { echo "no library at $library (see mixtape-libgen bench)" >&2; exit 1; }
server=./target/release/mixtape-server
bench=./target/release/mixtape-bench
[ -x "$server" ] && [ -x "$bench" ] || cargo build --release -q -p mixtape-server -p mixtape-bench

work=$(mktemp -d /tmp/mixtape-polaris.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The audio files both servers should index (the formats mixtape-libgen writes).
files=$(find "$library" -type f \( -iname '*.mp3' -o -iname '*.ogg' -o -iname '*.opus' \
  -o -iname '*.m4a' -o -iname '*.flac' -o -iname '*.wav' \) | wc -l)

# mib PID FIELD: a /proc/PID/status field (VmRSS, VmHWM) in MiB.
mib() { awk -v f="$2:" '$1 == f {printf "%d", $2 / 1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
# A port nothing listens on (Polaris takes a port, not port 0).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    ss -ltnH "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# mixtape ROUND: one Mixtape run; writes $work/mixtape-ROUND.json (round 0: the tags).
mixtape() {
  local round=$1 data="$work/mixtape-$1" addr token status started scan hwm_scan speed
  started=$(now)
  MIXTAPE_ADMIN_PASSWORD=$password NO_COLOR=1 "$server" --library "$library" --data-dir "$data" \
    --listen 127.0.0.1:0 --no-watch 2>"$data.log" &
  PID=$!
  addr=
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|.*listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$data.log" | head -1)
    [ -n "$addr" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$data.log" >&2; echo "mixtape-server exited" >&2; exit 1; }
    sleep 0.05
  done
  [ -n "$addr" ] || { echo "mixtape-server did not report its address" >&2; exit 1; }
  token=$(curl -sf -X POST "http://$addr/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -r .token)
  while :; do
    status=$(curl -sf -H "Authorization: Bearer $token" "http://$addr/api/v1/scan")
    [ "$(jq -r '.state + "/" + .phase' <<<"$status")" = idle/done ] && break
    sleep 0.1
  done
  scan=$(since "$started")
  hwm_scan=$(mib "$PID" VmHWM)
  # Round 0 only saves the tags every run draws its queries from (and warms the page cache
  # for both servers), so no timed run lists the whole library.
  if [ "$round" = 0 ]; then
    "$bench" peer tags --url "http://$addr" --token "$token" --out "$work/tags.json" >"$work/largest"
    echo "largest file: $(cat "$work/largest")" >&2
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    rm -rf "$data" "$data.log"
    return
  fi
  "$bench" peer search --server mixtape --url "http://$addr" --token "$token" \
    --tags "$work/tags.json" --queries "$queries" --seed "$seed" --json "$work/search.json" >&2
  read -r hash size <"$work/largest"
  speed=$(curl -sf -o /dev/null -w '%{speed_download}' -H "Authorization: Bearer $token" \
    "http://$addr/api/v1/media/$hash")
  jq -n --argjson s "$(cat "$work/search.json")" --argjson scan "$scan" \
    --argjson indexed "$(jq .tracks_added <<<"$status")" --argjson failed "$(jq '.failures | length' <<<"$status")" \
    --argjson hwm_scan "$hwm_scan" --argjson hwm_end "$(mib "$PID" VmHWM)" --argjson speed "$speed" \
    '{scan: $scan, indexed: $indexed, failed: $failed, hwm_scan: $hwm_scan, hwm_end: $hwm_end,
      stream: $speed, search: $s}' >"$work/mixtape-$round.json"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  echo "mixtape round $round: $(jq -c 'del(.search)' "$work/mixtape-$round.json")" >&2
  rm -rf "$data" "$data.log"
}

# polaris ROUND: one Polaris run, one mount (the library) and one admin; writes
# $work/polaris-ROUND.json.
polaris() {
  local round=$1 dir="$work/polaris-$1" port base token status started scan hwm_scan speed rel url
  mkdir -p "$dir/data" "$dir/cache" "$dir/web"
  cat >"$dir/polaris.toml" <<EOF
[[mount_dirs]]
source = "$library"
name = "lib"

[[users]]
name = "admin"
admin = true
initial_password = "$password"
EOF
  port=$(free_port)
  base="http://127.0.0.1:$port"
  started=$(now)
  "$polaris" -f -c "$dir/polaris.toml" --data "$dir/data" --cache "$dir/cache" -w "$dir/web" \
    --bind-address 127.0.0.1 -p "$port" >"$dir/polaris.log" 2>&1 &
  PID=$!
  token=
  for _ in $(seq 1 600); do
    token=$(curl -sf -X POST "$base/api/auth" -H 'content-type: application/json' \
      -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -r .token) && break
    kill -0 "$PID" 2>/dev/null || { cat "$dir/polaris.log" >&2; echo "polaris exited" >&2; exit 1; }
    sleep 0.05
  done
  [ -n "$token" ] || { echo "could not log in to Polaris" >&2; exit 1; }
  while :; do
    status=$(curl -sf -H "Authorization: Bearer $token" "$base/api/index_status")
    [ "$(jq -r .state <<<"$status")" = UpToDate ] && break
    sleep 0.1
  done
  scan=$(since "$started")
  hwm_scan=$(mib "$PID" VmHWM)
  "$bench" peer search --server polaris --url "$base" --token "$token" \
    --tags "$work/tags.json" --queries "$queries" --seed "$seed" --json "$work/search.json" >&2
  # A file of the largest size (Mixtape streamed the same size), by its virtual path.
  read -r _ size <"$work/largest"
  rel=$(cd "$library" && find . -type f -size "${size}c" -print -quit)
  url="$base/api/audio/lib/$(jq -rn --arg p "${rel#./}" '$p | split("/") | map(@uri) | join("/")')"
  speed=$(curl -sf -o /dev/null -w '%{speed_download}' -H "Authorization: Bearer $token" "$url")
  jq -n --argjson s "$(cat "$work/search.json")" --argjson scan "$scan" \
    --argjson indexed "$(jq .num_songs_indexed <<<"$status")" \
    --argjson own "$(jq '(.last_end_time - .last_start_time) / 1000' <<<"$status")" \
    --argjson failed "$(grep -c 'Error while reading file metadata' "$dir/polaris.log" || true)" \
    --argjson hwm_scan "$hwm_scan" --argjson hwm_end "$(mib "$PID" VmHWM)" --argjson speed "$speed" \
    '{scan: $scan, own_scan: $own, indexed: $indexed, failed: $failed, hwm_scan: $hwm_scan,
      hwm_end: $hwm_end, stream: $speed, search: $s}' >"$work/polaris-$round.json"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  echo "polaris round $round: $(jq -c 'del(.search)' "$work/polaris-$round.json")" >&2
  grep -m3 'Error while reading file metadata' "$dir/polaris.log" >&2 || true
  rm -rf "$dir"
}

mixtape 0
for round in $(seq 1 "$rounds"); do
  mixtape "$round"
  polaris "$round"
done

# cell SERVER EXPR DIGITS [RANGE]: the median of EXPR over that server's rounds, DIGITS after
# the point; with RANGE, "(min-max)" after it.
cell() {
  jq -s -r --argjson d "$3" --arg range "${4:-}" "
    def f: if \$d == 0 then round else . * pow(10; \$d) | round / pow(10; \$d) end | tostring;
    map($2) | map(select(. != null)) | sort
    | if length == 0 then \"n/a\" else
        (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end | f)
        + (if \$range != \"\" and length > 1 then \" (\" + (.[0] | f) + \"-\" + (.[-1] | f) + \")\" else \"\" end)
      end" "$work/$1"-*.json
}
# row LABEL EXPR DIGITS: one figure, median (min-max), for each server.
row() { echo "| $1 | $(cell mixtape "$2" "$3" range) | $(cell polaris "$2" "$3" range) |"; }
# search_row CLASS: p50 / p95 / p99 ms, recall@10 and empty answers, medians.
search_row() {
  local c=".search.classes[\"$1\"]" s out="| $1 |"
  for s in mixtape polaris; do
    out+=" $(cell $s "$c.p50_ms" 2) / $(cell $s "$c.p95_ms" 2) / $(cell $s "$c.p99_ms" 2) |"
    out+=" $(cell $s "$c.recall" 1) % ($(cell $s "$c.empty" 0) empty) |"
  done
  echo "$out"
}

echo "| machine | $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average after the runs $(cut -d' ' -f1-3 /proc/loadavg) |"
echo "| library | $library, $files audio files; $queries queries, seed $seed; query digests $(jq -r .search.digest "$work/mixtape-1.json") (Mixtape), $(jq -r .search.digest "$work/polaris-1.json") (Polaris); medians of $rounds runs (min-max) |"
echo
echo "| | Mixtape | Polaris |"
echo "|---|---|---|"
row "files indexed" '.indexed' 0
row "files that failed to read" '.failed' 0
row "first scan, start to index complete (s)" '.scan' 2
row "first scan, files/s" "$files / .scan" 0
row "Polaris's own scan time, from its index_status (s)" '.own_scan' 2
row "peak RSS after the scan (VmHWM, MiB)" '.hwm_scan' 0
row "peak RSS after the searches (VmHWM, MiB)" '.hwm_end' 0
row "first search after the scan (ms)" '.search.first_search_ms' 1
row "one stream of the largest file ($(awk '{printf "%.0f KiB", $2 / 1024}' "$work/largest")), MB/s" '.stream / 1e6' 1
row "queries the server refused (its syntax)" '.search.refused' 0
echo
echo "| class | Mixtape p50 / p95 / p99 ms | Mixtape recall@10 | Polaris p50 / p95 / p99 ms | Polaris recall@10 |"
echo "|---|---|---|---|---|"
for class in "whole title" "whole artist" "1-3 words" "prefix as typed" typo "words run together" all; do
  search_row "$class"
done
