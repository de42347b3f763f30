#!/usr/bin/env bash
# Three processes in three network namespaces (docs/distributed.md): run as
# `unshare -rn test_distributed_netns.sh SD_WORKER MODEL_DIR` (tests/e2e/netns.cmake registers it
# only where the machine allows unprivileged network namespaces). This shell's namespace holds the
# front (`generate --stage`); an encoder+decoder node and a denoiser node each get a namespace of
# their own, joined to the front's by a veth pair (10.77.1.0/24, 10.77.2.0/24) and listening on
# their veth address only, so every stage hand-off crosses a namespace boundary over TLS. The PNG
# must equal the single-process `generate`'s byte for byte, and each stage must have run on its node.
set -euo pipefail
bin=$1
model=$2
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.out "$tmp"/*.err; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}

ip link set lo up
head -c 32 /dev/urandom | base64 >"$tmp/secret"

# start_node NAME SUBNET STAGES: a node in a new namespace on 10.77.SUBNET.2, veth to 10.77.SUBNET.1 here.
start_node() {
  local name=$1 net=$2 stages=$3
  mkfifo "$tmp/$name.ready" "$tmp/$name.go"
  # The child enters its namespace, says so, waits for its veth end, configures it and becomes the node.
  unshare -n bash -c '
    echo >"$1.ready"; read -r _ <"$1.go"
    ip link set lo up; ip addr add "10.77.$2.2/24" dev "$3-n"; ip link set "$3-n" up
    exec "$4" node --listen "10.77.$2.2:0" --model "$5" --stages "$6" --secret "$7"' \
    _ "$tmp/$name" "$net" "$name" "$bin" "$model" "$stages" "$tmp/secret" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  read -r _ <"$tmp/$name.ready"
  ip link add "$name-f" type veth peer name "$name-n" netns "$pid"
  ip addr add "10.77.$net.1/24" dev "$name-f"
  ip link set "$name-f" up
  echo >"$tmp/$name.go"
}

# wait_port NAME: the port from the node's "listening on 10.77.X.2:PORT" line (bounded: 120 s).
wait_port() {
  local name=$1 line
  for _ in $(seq 1200); do
    line=$(grep -o 'listening on [0-9.]*:[0-9]*' "$tmp/$name.out" 2>/dev/null || true)
    if [ -n "$line" ]; then echo "${line##*:}"; return; fi
    kill -0 "${pids[$2]}" 2>/dev/null || fail "node $name exited"
    sleep 0.1  # polling the log, bounded by the loop
  done
  fail "node $name printed no listening line"
}

start_node ends 1 encoder,decoder
start_node middle 2 denoiser
ends_port=$(wait_port ends 0)
middle_port=$(wait_port middle 1)
grep -q "transport tls, shared-secret handshake" "$tmp/middle.out" || fail "the node does not say it serves TLS"

gen=("$bin" generate --model "$model" --prompt "a red cube on a table" --width 32 --height 32 --steps 4 --seed 77)
"${gen[@]}" --output "$tmp/local.png" >"$tmp/local.out" 2>"$tmp/local.err" || fail "local generate"
"${gen[@]}" --output "$tmp/remote.png" --secret "$tmp/secret" \
  --stage "encoder=10.77.1.2:$ends_port" --stage "decoder=10.77.1.2:$ends_port" \
  --stage "denoiser=10.77.2.2:$middle_port" >"$tmp/remote.out" 2>"$tmp/remote.err" || fail "generate --stage"
for s in "encoder node 10.77.1.2:$ends_port" "decoder node 10.77.1.2:$ends_port" "denoiser node 10.77.2.2:$middle_port"; do
  grep -q "stage ${s% node*}: node ${s#* node } up, 1 request(s)" "$tmp/remote.out" || fail "stage $s did not run there"
done
cmp "$tmp/local.png" "$tmp/remote.png" || fail "the PNGs differ"
# The nodes are reachable only through the veth pairs: not on this namespace's loopback.
! (exec 3<>"/dev/tcp/127.0.0.1/$middle_port") 2>/dev/null || fail "the denoiser node is reachable on this namespace's loopback"
echo "PASS: three namespaces, PNG byte-identical ($(stat -c %s "$tmp/remote.png") bytes)"
