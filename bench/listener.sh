#!/usr/bin/env bash
# The real request rate of one listener, measured from the TUI's own traffic (issue 13's
# capacity model): a server on LIBRARY, a logged-in client device in a temp dir, and the TUI in
# tmux playing the first album of the first artist from the start (null audio output, which
# keeps real time) for SECONDS. The server's own request counters (/metrics) before and after
# give the requests per route; printed per listener-hour.
# Needs the mixtape and mixtape-server binaries (BIN_DIR, default target/release), tmux, curl.
# Usage: bash bench/listener.sh LIBRARY [SECONDS]   (a library of full-length tracks: see
#        docs/scaling.md for the one used there)
set -euo pipefail
cd "$(dirname "$0")/.."

library=$(cd "${1:?usage: bench/listener.sh LIBRARY [SECONDS]}" && pwd)
seconds="${2:-900}"
bin="${BIN_DIR:-target/release}"
for tool in tmux curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: sudo apt-get install $tool" >&2; exit 1; }
done
[ -x "$bin/mixtape" ] && [ -x "$bin/mixtape-server" ] ||
  { echo "no $bin/mixtape or $bin/mixtape-server: cargo build --release -p mixtape -p mixtape-server" >&2; exit 1; }

work=$(mktemp -d /tmp/mixtape-listener.XXXXXX)
session="mixtape-listener-$$"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

password=listener-bench-1
MIXTAPE_ADMIN_PASSWORD=$password "$bin/mixtape-server" --library "$library" --data-dir "$work/server" \
  --listen 127.0.0.1:0 --no-watch 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
  addr=$(sed -n 's|.*listening on http://\([0-9.]*:[0-9]*\).*|\1|p' "$work/server.log" | head -1)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/server.log" >&2; exit 1; }
export XDG_CONFIG_HOME="$work/c" XDG_DATA_HOME="$work/d" XDG_CACHE_HOME="$work/k"
MIXTAPE_PASSWORD=$password "$bin/mixtape" login "http://$addr" --user admin >&2

counts() { curl -s "http://$addr/metrics" | sed -n 's/^mixtape_http_request_duration_seconds_count{[^}]*method="\([A-Z]*\)",route="\([^"]*\)".*} \([0-9]*\)$/\1 \2 \3/p' | grep -v ' /metrics '; }

tmux new-session -d -s "$session" -x 120 -y 35 \
  "env XDG_CONFIG_HOME=$work/c XDG_DATA_HOME=$work/d XDG_CACHE_HOME=$work/k MIXTAPE_AUDIO_OUTPUT=null $bin/mixtape"
sleep 3
# Library view: first artist, its first album, play from its first track.
tmux send-keys -t "$session" l; sleep 0.5
tmux send-keys -t "$session" Enter; sleep 0.5
tmux send-keys -t "$session" l; sleep 0.5
tmux send-keys -t "$session" Enter; sleep 3
tmux capture-pane -t "$session" -p | grep -q '▶' || { tmux capture-pane -t "$session" -p >&2; echo "nothing plays" >&2; exit 1; }
counts >"$work/before"
sleep "$seconds"
counts >"$work/after"
tmux capture-pane -t "$session" -p | tail -3 >&2
echo "| route | requests in ${seconds} s | per listener-hour |"
echo "|---|---|---|"
join -j1 <(awk '{print $1"_"$2, $3}' "$work/after" | sort) <(awk '{print $1"_"$2, $3}' "$work/before" | sort) -a1 -e0 -o '0,1.2,2.2' |
  awk -v s="$seconds" '{d = $2 - $3; if (d > 0) {t += d; sub("_", " ", $1); printf "| %s | %d | %.0f |\n", $1, d, d * 3600 / s}} END {printf "| all | %d | %.0f (%.4f req/s) |\n", t, t * 3600 / s, t / s}'
