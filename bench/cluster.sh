#!/usr/bin/env bash
# Scale-out, part 2 figures: the cluster from deploy/local-cluster (3 nodes, PostgreSQL primary +
# replica, Redis, haproxy), loaded with wrk on the same machine.
#   a. album-list and search: rate and p99 through haproxy with 1, 2 and 3 nodes in the pool
#      (the others set to MAINT through haproxy's runtime API: still running, idle);
#   b. direct vs balancer: the same wrk against node1 itself and against haproxy with only node1;
#   c. the kill test's added p99: 3 nodes, wrk for 10 s, once undisturbed and once with node3
#      killed (-9) after 3 s, p99 and errors of both;
#   d. CPU time per request per component (nodes, haproxy, PostgreSQL primary + replica, Redis):
#      utime + stime deltas from /proc/<pid>/stat (all of a PostgreSQL cluster's processes,
#      with the postmaster's reaped children) over a wrk run with one connection (-t1 -c1, so
#      one request at a time: well below saturation on 2 cores), divided by the requests wrk
#      completed.
# Usage: bash bench/cluster.sh [LIBRARY] [SECONDS]   (default assets/demo, 10 s per wrk run)
# MIXTAPE_SERVER_BIN picks the binary (else target/release, then target/debug). Markdown rows
# on stdout; raw wrk output on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

library=${1:-assets/demo}
secs=${2:-10}
password=bench-password
declare -A package=([wrk]=wrk [curl]=curl [jq]=jq [socat]=socat [awk]=gawk)
for tool in wrk curl jq socat awk; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install ${package[$tool]}" >&2; exit 1; }
done

state=$(mktemp -d /tmp/mixtape-cluster-bench.XXXXXX)
trap 'deploy/local-cluster down --state "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
lb=$(MIXTAPE_ADMIN_PASSWORD=$password deploy/local-cluster up --nodes 3 --library "$library" --state "$state" \
    | sed -n 's/^lb=//p')
# shellcheck disable=SC1091
source "$state/cluster.env"
read -r -a node_ports <<<"$node_ports"
sock=$state/haproxy/admin.sock
bin=$(tr '\0' ' ' <"/proc/$(head -n1 "$state/nodes/1.pid")/cmdline" | cut -d' ' -f1)

token=$(curl -sf -X POST "$lb/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" | jq -r .token)
auth="Authorization: Bearer $token"
while [[ $(curl -sf -H "$auth" "$lb/api/v1/scan" | jq -r '.state + "/" + .phase') != idle/done ]]; do sleep 0.5; done
query=$(curl -sf -H "$auth" "$lb/api/v1/tracks?limit=1" | jq -r '.items[0].title | split(" ")[0]')
albums=/api/v1/albums?limit=50
search="/api/v1/search?q=$query"

pool() { # pool N: nodes 1..N take traffic, the others are in MAINT
    local i
    for ((i = 1; i <= ${#node_ports[@]}; i++)); do
        local s=ready
        ((i > $1)) && s=maint
        echo "set server nodes/node$i state $s" | socat - "UNIX-CONNECT:$sock" >/dev/null
    done
    sleep 1.5 # two health checks
}
# run BASE PATH [wrk args…]: wrk --latency; prints "rps p99 errors".
run() {
    local base=$1 path=$2 out
    shift 2
    out=$(wrk -t2 -c32 -d"${secs}s" --latency "$@" -H "$auth" "$base$path")
    echo "$out" >&2
    awk '/^Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2}
         /Non-2xx/ {err+=$NF} /Socket errors/ {gsub(/,/,""); err+=$4+$6+$8+$10}
         END {printf "%.0f %s %d\n", rps, p99, err}' <<<"$out"
}

echo "Binary: $bin; library: $library ($(find "$library" -type f | wc -l) files); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) before; $(date -u +%FT%TZ)"
echo
echo "| Nodes in pool | Album list req/s | p99 | Search req/s | p99 | errors |"
echo "|---|---|---|---|---|---|"
for n in 1 2 3; do
    pool "$n"
    read -r a_rps a_p99 a_err < <(run "$lb" "$albums")
    read -r s_rps s_p99 s_err < <(run "$lb" "$search")
    echo "| $n | $a_rps | $a_p99 | $s_rps | $s_p99 | $((a_err + s_err)) |"
done

echo
echo "| Album list, 1 node | req/s | p99 |"
echo "|---|---|---|"
pool 1
read -r d_rps d_p99 _ < <(run "http://127.0.0.1:${node_ports[0]}" "$albums")
read -r b_rps b_p99 _ < <(run "$lb" "$albums")
echo "| direct | $d_rps | $d_p99 |"
echo "| through haproxy | $b_rps | $b_p99 |"
echo "| ratio balancer/direct | $(awk -v b="$b_rps" -v d="$d_rps" 'BEGIN {printf "%.2f", b / d}') | |"

# d. CPU per request, before the kill (3 nodes in the pool).
pool 3
ticks() { # ticks PID...: utime + stime (+ reaped children's) of these processes, in clock ticks
    local p sum=0
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] || continue
        sum=$((sum + $(awk '{sub(/^.*\) /, ""); print $12 + $13 + $14 + $15}' "/proc/$p/stat")))
    done
    echo "$sum"
}
pg_pids() { local pm; for pm in $(head -qn1 "$state"/pg/*/postmaster.pid); do echo "$pm"; pgrep -P "$pm" || true; done; }
node_pids() { cat "$state"/nodes/*.pid; }
hz=$(getconf CLK_TCK)
echo
echo "| CPU µs per request (wrk -t1 -c1, ${secs} s) | requests | nodes | haproxy | PostgreSQL | Redis |"
echo "|---|---|---|---|---|---|"
for path in "$albums" "$search"; do
    # shellcheck disable=SC2046
    n0=$(ticks $(node_pids)) h0=$(ticks "$(cat "$state/haproxy/haproxy.pid")") \
        p0=$(ticks $(pg_pids)) r0=$(ticks "$(cat "$state/redis/redis.pid")")
    out=$(wrk -t1 -c1 -d"${secs}s" -H "$auth" "$lb$path")
    echo "$out" >&2
    # shellcheck disable=SC2046
    n1=$(ticks $(node_pids)) h1=$(ticks "$(cat "$state/haproxy/haproxy.pid")") \
        p1=$(ticks $(pg_pids)) r1=$(ticks "$(cat "$state/redis/redis.pid")")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    us() { awk -v d="$1" -v r="$reqs" -v hz="$hz" 'BEGIN {printf "%.0f", d * 1e6 / hz / r}'; }
    echo "| ${path%%\?*} | $reqs | $(us $((n1 - n0))) | $(us $((h1 - h0))) | $(us $((p1 - p0))) | $(us $((r1 - r0))) |"
done

# c. kill -9 of a node under load: p99 and errors against an undisturbed run.
echo
echo "| 3 nodes, album list, ${secs} s | req/s | p99 | errors |"
echo "|---|---|---|---|"
read -r q_rps q_p99 q_err < <(run "$lb" "$albums")
echo "| undisturbed | $q_rps | $q_p99 | $q_err |"
victim=$(head -n1 "$state/nodes/3.pid")
(sleep 3 && kill -9 "$victim") &
read -r k_rps k_p99 k_err < <(run "$lb" "$albums")
wait
echo "| node3 killed (-9) after 3 s | $k_rps | $k_p99 | $k_err |"
