#!/usr/bin/env bash
# Throughput of remote denoiser stages on loopback (docs/distributed.md): one front worker with
# CONCURRENCY device slots (that many jobs at once) and its denoiser local, on one node over plain
# TCP, on one node over TLS (--secret), or on two TLS node replicas; JOBS jobs of STEPS steps at SIZE
# px with the tiny SD1.5 fixture, sent CONCURRENCY at a time to A1111's synchronous txt2img; then
# one job at a time (latency: the remote overhead per job). Prints jobs/s, mean latency, the bytes
# sent and received per job and the time on the wire per job (round trip minus the node's own stage
# time), from the front's /v1/models.
# usage: scripts/bench_distributed.sh [BUILD_DIR] (default build)
#   env: JOBS=16 STEPS=20 SIZE=64 CONCURRENCY=2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/runtime/sd-worker
model=$root/tests/fixtures/pipelines/tiny-sd15
jobs=${JOBS:-16} steps=${STEPS:-20} size=${SIZE:-64} concurrency=${CONCURRENCY:-2}
tmp=$(mktemp -d)
pids=()
# start_node runs in a command substitution (a subshell): its nodes' pids go to a file.
cleanup() {
  for p in "${pids[@]}" $(cat "$tmp/node.pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export SDW_CPU_THREADS=${SDW_CPU_THREADS:-1}
head -c 32 /dev/urandom | base64 >"$tmp/secret"
tls=(--secret "$tmp/secret")

start_node() {  # $1 name, rest: transport flags; prints the node's port once it listens
  local log=$tmp/node$1.out; shift
  "$bin" node --listen 127.0.0.1:0 --model "$model" --stages denoiser "$@" >"$log" 2>&1 &
  echo $! >>"$tmp/node.pids"
  for _ in $(seq 600); do
    if grep -q "listening on" "$log"; then sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log"; return; fi
    sleep 0.1
  done
  echo "node did not start" >&2; cat "$log" >&2; exit 1
}

start_front() {  # $1: port, rest: extra flags
  local port=$1; shift
  local devices=()
  for _ in $(seq "$concurrency"); do devices+=(--device cpu); done
  "$bin" serve --port "$port" --model "$model" --min-side 16 "${devices[@]}" "$@" >"$tmp/front$port.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
    sleep 0.1
  done
  for _ in $(seq 600); do  # every node link up
    curl -s "http://127.0.0.1:$port/v1/models" | jq -e '[.data[0].stages[].nodes // [] | .[].state] | all(. == "up")' >/dev/null && return
    sleep 0.1
  done
}

one_job() {  # $1 port, $2 seed
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$1/sdapi/v1/txt2img" -H 'content-type: application/json' \
    -d "{\"prompt\":\"a red cube\",\"steps\":$steps,\"width\":$size,\"height\":$size,\"seed\":$2}"
}
export -f one_job; export steps size

measure() {  # $1 label, $2 port
  one_job "$2" 1  # warm-up
  local t0 t1 t2
  t0=$(date +%s.%N)
  seq 1 "$jobs" | xargs -P "$concurrency" -I{} bash -c "one_job $2 {}"
  t1=$(date +%s.%N)
  for s in $(seq 1 "$jobs"); do one_job "$2" "$s"; done
  t2=$(date +%s.%N)
  local sent received n wire
  read -r sent received n wire < <(curl -s "http://127.0.0.1:$2/v1/models" |
    jq -r '[.data[0].stages[].nodes // [] | .[]] | "\(map(.bytes_sent) | add // 0) \(map(.bytes_received) | add // 0) \(map(.requests) | add // 0) \(map(.wire_ms) | add // 0)"')
  local total=$((2 * jobs + 1))
  awk -v l="$1" -v j="$jobs" -v a="$t0" -v b="$t1" -v c="$t2" -v s="$sent" -v r="$received" -v t="$total" -v n="$n" -v w="$wire" 'BEGIN {
    printf "| %-24s | %6.2f | %7.1f | %9s | %9s | %6s |\n", l, j / (b - a), 1000 * (c - b) / j,
      (n > 0 ? sprintf("%d", s / t) : "-"), (n > 0 ? sprintf("%d", r / t) : "-"), (n > 0 ? sprintf("%.2f", w / t) : "-") }'
}

p1=$(start_node plain --insecure-plaintext); n1=$(start_node tls1 "${tls[@]}"); n2=$(start_node tls2 "${tls[@]}")
start_front 18901
start_front 18902 --stage denoiser=127.0.0.1:$p1 --insecure-plaintext
start_front 18903 --stage denoiser=127.0.0.1:$n1 "${tls[@]}"
start_front 18904 --stage denoiser=127.0.0.1:$n1 --stage denoiser=127.0.0.1:$n2 "${tls[@]}"
echo "tiny-sd15, $size x $size, $steps steps, $jobs jobs, $concurrency at a time; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| denoiser                 | jobs/s ($concurrency at a time) | ms/job (1 at a time) | bytes sent/job | bytes received/job | wire ms/job |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
measure "local" 18901
measure "1 node, plaintext" 18902
measure "1 node, tls" 18903
measure "2 tls node replicas" 18904
measure "local (again)" 18901
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
