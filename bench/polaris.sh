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
#   - one stream of the largest file of the library with curl (%{speed_download}), median of 5.
# Then (BIG=1, the default) one stream of a 1 GiB WAV, three times on each server.
# Prints Markdown rows: medians over the rounds (min-max after single figures); each run's
# figures and tables go to stderr.
# Needs target/release/mixtape-server and mixtape-bench, curl, jq, awk, ss (and ffmpeg for BIG).
# Usage: bash bench/polaris.sh POLARIS_BIN LIBRARY [QUERIES]   (env: ROUNDS=3, SEED=1, BIG=1;
# MIXTAPE_SERVER and MIXTAPE_BENCH: other builds, a profiling build say)
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

for tool in curl jq awk ss; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[ -x "$polaris" ] || { echo "no Polaris binary at $polaris" >&2; exit 1; }
[ -d "$library" ] || { echo "no library at $library (see mixtape-libgen bench)" >&2; exit 1; }
server=${MIXTAPE_SERVER:-./target/release/mixtape-server}
bench=${MIXTAPE_BENCH:-./target/release/mixtape-bench}
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

audio=(\( -iname '*.mp3' -o -iname '*.ogg' -o -iname '*.opus' -o -iname '*.m4a' -o -iname '*.flac'
  -o -iname '*.wav' \))
# The audio files both servers should index.
files=$(find "$library" -type f "${audio[@]}" | wc -l)

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

# start_mixtape LIBRARY DATA: starts mixtape-server on a free port and waits until its scan is
# done. Sets PID, BASE, TOKEN, STATUS (its scan status) and SCAN (seconds from the start).
start_mixtape() {
  local lib=$1 data=$2 started addr=
  : >"$data.log" # exists before the server writes it, for the sed below
  started=$(now)
  MIXTAPE_ADMIN_PASSWORD=$password NO_COLOR=1 "$server" --library "$lib" --data-dir "$data" \
    --listen 127.0.0.1:0 --no-watch 2>"$data.log" &
  PID=$!
  for _ in $(seq 1 600); do
    addr=$(sed -n 's|.*listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$data.log" | head -1)
    [ -n "$addr" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$data.log" >&2; echo "mixtape-server exited" >&2; exit 1; }
    sleep 0.05
  done
  [ -n "$addr" ] || { echo "mixtape-server did not report its address" >&2; exit 1; }
  BASE="http://$addr"
  TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -r .token)
  while :; do
    STATUS=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/scan")
    [ "$(jq -r '.state + "/" + .phase' <<<"$STATUS")" = idle/done ] && break
    sleep 0.1
  done
  SCAN=$(since "$started")
}

# start_polaris LIBRARY DIR: starts Polaris with one mount, "lib" (LIBRARY), and one admin,
# its config, data and cache in DIR, and waits until its index is up to date. Sets PID, BASE,
# TOKEN, STATUS (its index_status) and SCAN (seconds from the start).
start_polaris() {
  local lib=$1 dir=$2 started port
  mkdir -p "$dir/data" "$dir/cache" "$dir/web"
  printf '[[mount_dirs]]\nsource = "%s"\nname = "lib"\n\n[[users]]\nname = "admin"\nadmin = true\ninitial_password = "%s"\n' \
    "$lib" "$password" >"$dir/polaris.toml"
  port=$(free_port)
  BASE="http://127.0.0.1:$port"
  started=$(now)
  # -f: in the foreground (it daemonizes otherwise). It logs every request at its default level.
  "$polaris" -f -c "$dir/polaris.toml" --data "$dir/data" --cache "$dir/cache" -w "$dir/web" \
    --bind-address 127.0.0.1 -p "$port" >"$dir/polaris.log" 2>&1 &
  PID=$!
  TOKEN=
  for _ in $(seq 1 600); do
    TOKEN=$(curl -sf -X POST "$BASE/api/auth" -H 'content-type: application/json' \
      -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -r .token) && break
    kill -0 "$PID" 2>/dev/null || { cat "$dir/polaris.log" >&2; echo "polaris exited" >&2; exit 1; }
    sleep 0.05
  done
  [ -n "$TOKEN" ] || { echo "could not log in to Polaris" >&2; exit 1; }
  # OutOfDate, InProgress, then UpToDate once the whole index is built and saved.
  while :; do
    STATUS=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/index_status")
    [ "$(jq -r .state <<<"$STATUS")" = UpToDate ] && break
    sleep 0.1
  done
  SCAN=$(since "$started")
}

stop() {
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
}

# polaris_url PATH: Polaris's URL of a file of the library (its virtual path is under "lib").
polaris_url() {
  echo "$BASE/api/audio/lib/$(jq -rn --arg p "$1" '$p | split("/") | map(@uri) | join("/")')"
}

# speed URL: one download with curl, in bytes/s.
speed() { curl -sf -o /dev/null -w '%{speed_download}' -H "Authorization: Bearer $TOKEN" "$1"; }
# speed5 URL: the median of five downloads (one download of a few KiB is mostly noise).
speed5() { for _ in 1 2 3 4 5; do speed "$1"; echo; done | sort -n | sed -n 3p; }

# search SERVER: the queries against the running server; figures in $work/search.json.
search() {
  "$bench" peer search --server "$1" --url "$BASE" --token "$TOKEN" --tags "$work/tags.json" \
    --queries "$queries" --seed "$seed" --json "$work/search.json" >&2
}

# An untimed Mixtape run first saves the tags every run draws its queries from (and warms the
# page cache for both servers), so no timed run lists the whole library.
start_mixtape "$library" "$work/tags-run"
"$bench" peer tags --url "$BASE" --token "$TOKEN" --out "$work/tags.json" >"$work/largest"
stop
rm -rf "$work/tags-run" "$work/tags-run.log"
read -r largest_hash largest_size <"$work/largest"
# A file of that size, for Polaris, which names files by path.
largest_path=$(cd "$library" && find . -type f "${audio[@]}" -size "${largest_size}c" -print -quit)
largest_path=${largest_path#./}
echo "largest file: $largest_path, $largest_size bytes, $largest_hash" >&2

for round in $(seq 1 "$rounds"); do
  data="$work/mixtape-$round"
  start_mixtape "$library" "$data"
  hwm_scan=$(mib "$PID" VmHWM)
  search mixtape
  jq -n --argjson s "$(cat "$work/search.json")" --argjson scan "$SCAN" \
    --argjson indexed "$(jq .tracks_added <<<"$STATUS")" \
    --argjson failed "$(jq '.failures | length' <<<"$STATUS")" \
    --argjson hwm_scan "$hwm_scan" --argjson hwm_end "$(mib "$PID" VmHWM)" \
    --argjson stream "$(speed5 "$BASE/api/v1/media/$largest_hash")" \
    '{scan: $scan, indexed: $indexed, failed: $failed, hwm_scan: $hwm_scan, hwm_end: $hwm_end,
      stream: $stream, search: $s}' >"$data.json"
  stop
  echo "mixtape round $round: $(jq -c 'del(.search)' "$data.json")" >&2
  rm -rf "$data" "$data.log"

  dir="$work/polaris-$round"
  start_polaris "$library" "$dir"
  hwm_scan=$(mib "$PID" VmHWM)
  search polaris
  # Files Polaris cannot read are logged and left out of its index.
  jq -n --argjson s "$(cat "$work/search.json")" --argjson scan "$SCAN" \
    --argjson indexed "$(jq .num_songs_indexed <<<"$STATUS")" \
    --argjson own "$(jq '(.last_end_time - .last_start_time) / 1000' <<<"$STATUS")" \
    --argjson failed "$(grep -c 'Error while reading file metadata' "$dir/polaris.log" || true)" \
    --argjson hwm_scan "$hwm_scan" --argjson hwm_end "$(mib "$PID" VmHWM)" \
    --argjson stream "$(speed5 "$(polaris_url "$largest_path")")" \
    '{scan: $scan, own_scan: $own, indexed: $indexed, failed: $failed, hwm_scan: $hwm_scan,
      hwm_end: $hwm_end, stream: $stream, search: $s}' >"$dir.json"
  stop
  echo "polaris round $round: $(jq -c 'del(.search)' "$dir.json")" >&2
  grep -m3 'Error while reading file metadata' "$dir/polaris.log" >&2 || true
  rm -rf "$dir"
done

# One stream of a 1 GiB WAV, as in bench/http.sh: the library's files are a few KiB, so their
# stream shows latency more than throughput. Each server serves a library of that one file,
# three downloads each, alternating servers, the page cache warm.
if [ "${BIG:-1}" = 1 ] && command -v ffmpeg >/dev/null; then
  mkdir -p "$work/big"
  # 6087 s of stereo 16-bit 44.1 kHz PCM: just over 1 GiB.
  ffmpeg -nostdin -loglevel error -f lavfi -i "anoisesrc=d=6087:c=white:r=44100:a=0.3" -ac 2 \
    -c:a pcm_s16le -metadata title="Big Noise" -metadata artist=Bench -metadata album=Bench \
    "$work/big/big.wav"
  cat "$work/big/big.wav" >/dev/null
  big_size=$(stat -c %s "$work/big/big.wav")
  for i in 1 2 3; do
    start_mixtape "$work/big" "$work/big-mixtape"
    hash=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/tracks?limit=1" |
      jq -r '.items[0].content_hash')
    echo "{\"big\": $(speed "$BASE/api/v1/media/$hash")}" >"$work/big-mixtape-$i.json"
    stop
    start_polaris "$work/big" "$work/big-polaris"
    echo "{\"big\": $(speed "$(polaris_url big.wav)")}" >"$work/big-polaris-$i.json"
    stop
    rm -rf "$work/big-mixtape" "$work/big-mixtape.log" "$work/big-polaris"
  done
  rm -rf "$work/big"
fi

# cell SERVER EXPR DIGITS [RANGE]: the median of EXPR over that server's rounds, DIGITS after
# the point; with RANGE, "(min-max)" after it.
cell() {
  jq -s -r --argjson d "$3" --arg range "${4:-}" "
    def f: if \$d == 0 then round else . * pow(10; \$d) | round / pow(10; \$d) end | tostring;
    map($2) | map(select(. != null)) | sort
    | if length == 0 then \"n/a\" else
        (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end | f)
        + (if \$range != \"\" and length > 1 then \" (\" + (.[0] | f) + \"-\" + (.[-1] | f) + \")\" else \"\" end)
      end" "$work/$1"-[0-9]*.json
}
# row LABEL EXPR DIGITS: one figure for each server, median (min-max).
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
row "one stream of the largest file of the library ($((largest_size / 1024)) KiB, median of 5), MB/s" '.stream / 1e6' 1
row "queries the server refused (its syntax)" '.search.refused' 0
if [ -f "$work/big-mixtape-1.json" ]; then
  big() { jq -s -r 'map(.big / 1e9 * 100 | round / 100 | tostring) | join(", ")' "$work/big-$1"-*.json; }
  echo "| one stream of a $((big_size / 1048576)) MiB WAV, GB/s, 3 runs | $(big mixtape) | $(big polaris) |"
fi
echo
echo "| class | Mixtape p50 / p95 / p99 ms | Mixtape recall@10 | Polaris p50 / p95 / p99 ms | Polaris recall@10 |"
echo "|---|---|---|---|---|"
for class in "whole title" "whole artist" "1-3 words" "prefix as typed" typo "words run together" all; do
  search_row "$class"
done
echo
# A miss is either no match or a match ranked below the top ten: the track anywhere in what was
# sent (Mixtape sends 20 tracks; Polaris the tags of its first 200 matches), and how many
# tracks Polaris matched (Mixtape sends no total).
echo "| class | Mixtape: the track among the 20 sent | Polaris: among the 200 sent | Polaris: median matches |"
echo "|---|---|---|---|"
for class in "whole title" "whole artist" "1-3 words" "prefix as typed" typo "words run together"; do
  c=".search.classes[\"$class\"]"
  echo "| $class | $(cell mixtape "$c.in_answer" 1) % | $(cell polaris "$c.in_answer" 1) % | $(cell polaris "$c.median_matches" 0) |"
done
