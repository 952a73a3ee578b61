#!/usr/bin/env bash
# HTTP load benchmarks of the release mixtape-server on loopback (127.0.0.1 only):
#   a. album-list page throughput (wrk -t2 -c64 -d15s);
#   b. 500 concurrent streams (wrk -t2 -c500 -d20s) with the server's RSS sampled every second;
#   c. one stream of a ~1 GiB WAV, timed with curl three times, next to curl file:// of the same file;
#   d. 500 long-lived streams of that WAV (wrk -t2 -c500 -d20s), RSS sampled as in b.
# Needs the release binary (cargo build --release -p mixtape-server) and wrk, curl, ffmpeg, jq.
# Results are printed on stdout as Markdown rows; raw wrk output goes to stderr.
# Usage: bash bench/http.sh [LIBRARY]   (default /tmp/bench20k; see docs/benchmarks.md)
# MIXTAPE_SERVER=path runs another build of the server (a profiling build, an older one to compare).
set -euo pipefail
cd "$(dirname "$0")/.."

library="${1:-/tmp/bench20k}"
password=bench-password

# Debian package that provides each tool.
declare -A package=([wrk]=wrk [curl]=curl [ffmpeg]=ffmpeg [jq]=jq [awk]=gawk)
missing=()
for tool in wrk curl ffmpeg jq awk; do
  command -v "$tool" >/dev/null || missing+=("${package[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "missing tools; install the Debian packages: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
if [ ! -d "$library" ]; then
  echo "no library at $library; generate one with:" >&2
  echo "  cargo run --release -p mixtape-libgen -- bench --out $library --count 20000" >&2
  exit 1
fi
server=${MIXTAPE_SERVER:-./target/release/mixtape-server}
[ -x "$server" ] || cargo build --release -q -p mixtape-server

work=$(mktemp -d /tmp/mixtape-http-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# start LIBRARY DATA_DIR: starts a server on a free port and waits for its scan to finish.
# Sets PID, ADDR and TOKEN.
start() {
  local lib=$1 data=$2 log="$2.log"
  MIXTAPE_ADMIN_PASSWORD=$password NO_COLOR=1 "$server" --library "$lib" --data-dir "$data" \
    --listen 127.0.0.1:0 --no-watch 2>"$log" &
  PID=$!
  pids+=("$PID")
  ADDR=
  for _ in $(seq 1 600); do
    ADDR=$(sed -n 's|.*listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$ADDR" ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; echo "server exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$ADDR" ] || { cat "$log" >&2; echo "server did not report its address" >&2; exit 1; }
  TOKEN=$(curl -sf -X POST "http://$ADDR/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -r .token)
  local started=$SECONDS status
  while :; do
    status=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/scan")
    [ "$(jq -r '.state + "/" + .phase' <<<"$status")" = idle/done ] && break
    [ $((SECONDS - started)) -lt 1800 ] || { echo "scan did not finish: $status" >&2; exit 1; }
    sleep 0.5
  done
  local failed
  failed=$(jq '.failures | length' <<<"$status")
  [ "$failed" = 0 ] || echo "warning: $failed files failed to scan in $lib" >&2
}

api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://$ADDR$1"; }
# mib PID FIELD: a /proc/PID/status field (VmRSS, VmHWM) in MiB.
mib() { awk -v f="$2:" '$1 == f {printf "%d", $2 / 1024}' "/proc/$1/status"; }
# Fields of a saved wrk --latency output.
wrk_rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$1"; }
wrk_lat() { awk '/^    Latency/ {print $2; exit}' "$1"; }
wrk_p99() { awk '/^ +99%/ {print $2; exit}' "$1"; }
wrk_non2xx() { awk '/Non-2xx or 3xx responses/ {n = $5} END {print n + 0}' "$1"; }
wrk_errors() { awk '/Socket errors/ {sub(/.*Socket errors: /, ""); e = $0} END {print (e == "" ? "none" : e)}' "$1"; }
wrk_total() { awk '/requests in/ {print $1; exit}' "$1"; }
wrk_read() { awk '/requests in/ {print $(NF-1); exit}' "$1"; }

# sampled_wrk OUT WRK_ARGS...: runs wrk into OUT while sampling the server's ($PID) VmRSS every
# second; sets PEAK (MiB) and SAMPLES.
sampled_wrk() {
  local out=$1 r wrk_pid
  shift
  wrk "$@" >"$out" &
  wrk_pid=$!
  PEAK=0
  SAMPLES=()
  while kill -0 "$wrk_pid" 2>/dev/null; do
    r=$(mib "$PID" VmRSS)
    SAMPLES+=("$r")
    [ "$r" -gt "$PEAK" ] && PEAK=$r
    sleep 1
  done
  wait "$wrk_pid"
}

echo "| machine | $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -r) |"

# --- a. Album list page -----------------------------------------------------------------------
start "$library" "$work/data"
tracks=$(api "/api/v1/scan" | jq .files_seen)
echo "| library | $library, $tracks audio files; server RSS after first scan $(mib "$PID" VmRSS) MiB (VmHWM $(mib "$PID" VmHWM) MiB) |"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$ADDR/api/v1/albums?limit=50")
[ "$code" = 200 ] || { echo "album list answered $code" >&2; exit 1; }
wrk -t2 -c64 -d15s --latency -H "Authorization: Bearer $TOKEN" \
  "http://$ADDR/api/v1/albums?limit=50" >"$work/albums.txt"
cat "$work/albums.txt" >&2
echo "| album list page (wrk -t2 -c64 -d15s, limit=50) | $(wrk_rps "$work/albums.txt") req/s; latency avg $(wrk_lat "$work/albums.txt"), p99 $(wrk_p99 "$work/albums.txt"); $(wrk_total "$work/albums.txt") requests, non-2xx $(wrk_non2xx "$work/albums.txt"), socket errors $(wrk_errors "$work/albums.txt") |"
kill "$PID"; wait "$PID" 2>/dev/null || true

# --- b. 500 concurrent streams ----------------------------------------------------------------
# A fresh process on the same database (its startup rescan finds nothing changed), so VmHWM is
# not the first scan's peak.
start "$library" "$work/data"
track=$(api "/api/v1/tracks?limit=1" | jq -c '.items[0] | {id, format, size_bytes}')
id=$(jq .id <<<"$track")
url="http://$ADDR/api/v1/tracks/$id/stream"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$url")
[ "$code" = 200 ] || { echo "stream answered $code" >&2; exit 1; }
before=$(mib "$PID" VmRSS)
sampled_wrk "$work/streams.txt" -t2 -c500 -d20s --latency -H "Authorization: Bearer $TOKEN" "$url"
cat "$work/streams.txt" >&2
echo "RSS samples, 500 short streams (MiB, 1/s): ${SAMPLES[*]}" >&2
echo "| 500 concurrent streams (wrk -t2 -c500 -d20s, track $track) | $(wrk_rps "$work/streams.txt") responses/s, $(awk '/^Transfer\/sec/ {print $2}' "$work/streams.txt")/s; latency avg $(wrk_lat "$work/streams.txt"), p99 $(wrk_p99 "$work/streams.txt"); non-2xx $(wrk_non2xx "$work/streams.txt"), socket errors $(wrk_errors "$work/streams.txt") |"
echo "| server RSS, 500 streams | before $before MiB; peak sampled VmRSS $PEAK MiB; VmHWM $(mib "$PID" VmHWM) MiB (includes the startup rescan) |"
kill "$PID"; wait "$PID" 2>/dev/null || true

# --- c. One large stream ----------------------------------------------------------------------
# 6087 s of stereo 16-bit 44.1 kHz PCM: 6087 * 44100 * 4 = 1,073,746,800 bytes of samples, just over 1 GiB.
mkdir -p "$work/big"
ffmpeg -nostdin -loglevel error -f lavfi -i "anoisesrc=d=6087:c=white:r=44100:a=0.3" -ac 2 \
  -c:a pcm_s16le -metadata title="Big Noise" -metadata artist=Bench -metadata album=Bench \
  "$work/big/big.wav"
big="$work/big/big.wav"
sync # write the 1 GiB out now, not during the timed runs
size=$(stat -c %s "$big")
start "$work/big" "$work/bigdata"
id=$(api "/api/v1/tracks?limit=1" | jq .items[0].id)
url="http://$ADDR/api/v1/tracks/$id/stream"
cat "$big" >/dev/null # warm page cache for both the server and the file:// reads
gbps() { awk -v s="$1" 'BEGIN {printf "%.2f", s / 1e9}'; }
for i in 1 2 3; do
  out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
    -H "Authorization: Bearer $TOKEN" "$url")
  read -r code got speed <<<"$out"
  [ "$code" = 200 ] && [ "$got" = "$size" ] || echo "warning: stream run $i: HTTP $code, $got of $size bytes" >&2
  raw=$(curl -s -o /dev/null -w '%{speed_download}' "file://$big")
  echo "| one stream, $((size / 1048576)) MiB WAV, run $i | $(gbps "$speed") GB/s over HTTP (curl file:// of the same file: $(gbps "$raw") GB/s) |"
done
echo "| server RSS after 3 large streams | VmRSS $(mib "$PID" VmRSS) MiB, VmHWM $(mib "$PID" VmHWM) MiB |"

# d. 500 long-lived streams: every connection asks for the whole 1 GiB file, so none finishes within
# the run and the server holds 500 open responses at once.
before=$(mib "$PID" VmRSS)
sampled_wrk "$work/long.txt" -t2 -c500 -d20s --timeout 60s -H "Authorization: Bearer $TOKEN" "$url"
cat "$work/long.txt" >&2
echo "RSS samples, 500 long streams (MiB, 1/s): ${SAMPLES[*]}" >&2
echo "| 500 concurrent long streams of the 1 GiB WAV (wrk -t2 -c500 -d20s) | $(wrk_read "$work/long.txt") read in 20 s, socket errors $(wrk_errors "$work/long.txt"); server RSS before $before MiB, peak sampled VmRSS $PEAK MiB, VmHWM $(mib "$PID" VmHWM) MiB |"
