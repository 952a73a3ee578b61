#!/usr/bin/env bash
# Measures the TUI as a person would see it: the release `mixtape` in tmux at 120x40.
#   bash bench/tui.sh [LIBRARY]     (default: assets/demo)
#   MIXTAPE_BENCH_PAINT_ONLY=1 bash bench/tui.sh /tmp/bench100k   (the paint target at 100k tracks)
# Prints Markdown rows: time to the first painted screen (from launch until tmux shows the tab
# bar), RSS (VmRSS/VmHWM from /proc) and CPU (utime+stime from /proc over 20 s) while playing a
# FLAC track on the paced null sink, and CPU over 10 s idle (paused).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
library=${1:-$root/assets/demo}
for tool in tmux curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $tool" >&2; exit 1; }
done
[ -n "${MIXTAPE_BENCH_NO_BUILD:-}" ] || cargo build --release -q -p mixtape -p mixtape-bench --manifest-path "$root/Cargo.toml"
mixtape=$root/target/release/mixtape
work=$(mktemp -d)
session=mixtape-bench-$$
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_DATA_HOME=$work/data XDG_CACHE_HOME=$work/cache XDG_CONFIG_HOME=$work/config

# A server on the library, and a device that mirrors it.
"$root/target/release/mixtape-bench" serve --library "$library" --data-dir "$work/server" >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
until [ -s "$work/serve.out" ]; do sleep 0.2; kill -0 "$server_pid"; done
read -r url _token <"$work/serve.out"
MIXTAPE_PASSWORD=bench-password "$mixtape" login "$url" --user admin >/dev/null
tracks=$("$mixtape" status --json | sed -n 's/.*"tracks": \([0-9]*\).*/\1/p')

screen() { tmux capture-pane -t "$session" -p; }
wait_for() { # pattern, timeout seconds
  local deadline=$((SECONDS + $2))
  until screen | grep -q "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $1" >&2; screen >&2; exit 1; }
    sleep 0.05
  done
}

# First paint: launch to tab bar, five times.
paints=()
for _ in 1 2 3 4 5; do
  start=$(date +%s%N)
  tmux new-session -d -s "$session" -x 120 -y 40 "$mixtape --audio-output null 2>$work/tui.err"
  until screen | grep -q "1 Library"; do :; done
  end=$(date +%s%N)
  paints+=($(( (end - start) / 1000 )))
  tmux send-keys -t "$session" q
  # The next run starts only when this one has exited (its start-up sync would compete).
  for _ in $(seq 100); do pgrep -f "$mixtape --audio-output null" >/dev/null || break; sleep 0.05; done
  tmux kill-session -t "$session" 2>/dev/null || true
  sleep 1
done
# The same measurement of a program that prints the tab bar and nothing else: what tmux and
# process start-up cost by themselves.
base=()
for _ in 1 2 3 4 5; do
  start=$(date +%s%N)
  tmux new-session -d -s "$session" -x 120 -y 40 "echo ' 1 Library'; sleep 5"
  until screen | grep -q "1 Library"; do :; done
  end=$(date +%s%N)
  base+=($(( (end - start) / 1000 )))
  tmux kill-session -t "$session" 2>/dev/null || true
done
base_median=$(printf '%s\n' "${base[@]}" | sort -n | sed -n 3p)
sorted=$(printf '%s\n' "${paints[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${paints[@]}" | sort -n | sed -n 3p)
echo "| first painted screen ($tracks-track mirror) | median $((median / 1000)).$(( (median % 1000) / 100 )) ms (runs, µs: $sorted); tmux + echo alone: median $((base_median / 1000)).$(( (base_median % 1000) / 100 )) ms |"

[ -n "${MIXTAPE_BENCH_PAINT_ONLY:-}" ] && exit 0

# Playing FLAC on the null sink for 20 s.
tmux new-session -d -s "$session" -x 120 -y 40 "$mixtape --audio-output null 2>$work/tui.err"
wait_for "1 Library" 10
pid=$(pgrep -n -f "$mixtape --audio-output null")
tmux send-keys -t "$session" /
tmux send-keys -t "$session" -l "${MIXTAPE_BENCH_QUERY:-norðurljós}"
wait_for "results" 10
tmux send-keys -t "$session" Escape
sleep 0.3 # an Escape followed at once by Enter reads as Alt-Enter
tmux send-keys -t "$session" Enter
wait_for "0:0[1-9] /" 15
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); sleep 20; t1=$(ticks)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "| playing FLAC (null sink), 20 s | CPU $(awk "BEGIN {printf \"%.2f\", 100 * ($t1 - $t0) / $hz / 20}") % of a core; RSS $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB) |"
tmux send-keys -t "$session" space
sleep 1
t0=$(ticks); sleep 10; t1=$(ticks)
echo "| paused, 10 s | CPU $(awk "BEGIN {printf \"%.2f\", 100 * ($t1 - $t0) / $hz / 10}") % of a core |"
tmux send-keys -t "$session" q
