#!/usr/bin/env bash
# Old against new in the same window (issue 24: "the same runs for the previous commit ... ratios,
# not absolute times"): builds `sd-worker` at two commits in git worktrees under a cache folder
# (ccache shared with the main build), then runs the same `sd-worker bench` alternately OLD, NEW,
# OLD, NEW ... and prints each stage's per-round medians and the NEW/OLD ratio.
#
#   bench/compare_commits.sh [--rounds N] OLD NEW -- <sd-worker bench args>
#   e.g. bench/compare_commits.sh 9b6c2e8 HEAD -- --arch sd15 --width 256 --height 256 --steps 1
#
# OLD and NEW: anything `git rev-parse` takes (committed states only: the working tree's changes
# are not built). --rounds N: N OLD/NEW pairs (default 2). Environment:
#   SDW_COMPARE_DIR   worktrees, builds and logs (default ${XDG_CACHE_HOME:-~/.cache}/sdw-compare);
#                     a commit's build is reused by later comparisons
#   SDW_COMPARE_JOBS  ninja -j for the builds (default 2)
#   SDW_COMPARE_CMAKE_ARGS  extra cmake arguments for both configures (e.g. -DTorch_DIR=...)
#   SDW_BENCH_LOCK    lock file held (flock) while the benches run, not while building (default
#                     /tmp/sdw-bench.lock; empty: no lock). Do not call this script under that lock.
set -euo pipefail

usage() { echo "usage: $0 [--rounds N] OLD NEW -- <sd-worker bench args>" >&2; exit 2; }

rounds=2
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || usage
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || usage
bench_args=("$@")

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
old=$(git -C "$repo" rev-parse --verify "${positional[0]}^{commit}")
new=$(git -C "$repo" rev-parse --verify "${positional[1]}^{commit}")
cache=${SDW_COMPARE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sdw-compare}
jobs=${SDW_COMPARE_JOBS:-2}
lock=${SDW_BENCH_LOCK-/tmp/sdw-bench.lock}
mkdir -p "$cache"

# Builds `sd-worker` at commit $1 and prints the binary's path (build output to stderr).
build_commit() {
  # The build folder sits one level inside the worktree, as build-*/ does in a checkout, so that
  # with CCACHE_BASEDIR the compile lines match the main build's and ccache serves its objects.
  local sha=$1 src="$cache/src-${1:0:12}" bld="$cache/src-${1:0:12}/build"
  if [ ! -e "$src/.git" ]; then
    git -C "$repo" worktree prune
    git -C "$repo" worktree add --detach "$src" "$sha" >&2
  fi
  [ "$(git -C "$src" rev-parse HEAD)" = "$sha" ] || { echo "$src is not at $sha" >&2; exit 1; }
  if [ ! -f "$bld/build.ninja" ]; then
    # shellcheck disable=SC2086  # SDW_COMPARE_CMAKE_ARGS is a list of arguments
    cmake -S "$src" -B "$bld" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSDW_BUILD_TESTS=OFF -DSDW_BUILD_UI=OFF \
      ${SDW_COMPARE_CMAKE_ARGS:-} >&2
  fi
  (cd "$src" && CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=1 \
     CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime \
     ninja -C "$bld" -j"$jobs" sd-worker >&2)
  local bin
  bin=$(find "$bld" -name sd-worker -type f -perm -u+x | head -n 1)
  [ -n "$bin" ] || { echo "no sd-worker binary in $bld" >&2; exit 1; }
  echo "$bin"
}

echo "building OLD ${old:0:12} and NEW ${new:0:12} under $cache (-j$jobs)" >&2
old_bin=$(build_commit "$old")
if [ "$new" = "$old" ]; then new_bin=$old_bin; else new_bin=$(build_commit "$new"); fi

logs="$cache/logs/$(date -u +%Y%m%dT%H%M%SZ)-${old:0:8}-${new:0:8}"
mkdir -p "$logs"

run_rounds() {
  echo "load before: $(uptime)"
  for r in $(seq 1 "$rounds"); do
    for side in OLD NEW; do
      local bin=$old_bin
      [ "$side" = NEW ] && bin=$new_bin
      local out="$logs/$side-$r.txt"
      echo "round $r: $side ($bin bench ${bench_args[*]})" >&2
      if ! "$bin" bench "${bench_args[@]}" > "$out" 2>&1; then
        echo "$side bench failed (round $r):" >&2
        cat "$out" >&2
        exit 1
      fi
    done
  done
  echo "load after: $(uptime)"
}
if [ -n "$lock" ]; then
  export -f run_rounds
  export old_bin new_bin logs rounds
  # bench_args is an array: pass it through the command line.
  flock "$lock" bash -c 'bench_args=("$@"); run_rounds' _ "${bench_args[@]}" | tee "$logs/load.txt"
else
  run_rounds | tee "$logs/load.txt"
fi

echo
echo "OLD ${old:0:12} ($(git -C "$repo" log -1 --format=%s "$old" | cut -c1-70))"
echo "NEW ${new:0:12} ($(git -C "$repo" log -1 --format=%s "$new" | cut -c1-70))"
echo "sd-worker bench ${bench_args[*]}; $rounds round(s) of OLD then NEW; logs in $logs"
grep -m1 -v '^$' "$logs/OLD-1.txt" || true  # the machine fingerprint line
echo
# The main table's rows ("| stage | median ms | note", up to the first blank line) and the peak
# memory line of every log; per stage: each round's value, the median per side, NEW/OLD.
for f in "$logs"/OLD-*.txt "$logs"/NEW-*.txt; do
  side=$(basename "$f" | cut -d- -f1)
  awk -v side="$side" '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    /^\| *stage *\|/ { in_table = 1; next }
    in_table && /^$/ { in_table = 0 }
    in_table && /^\|[^-]/ {
      split($0, c, "|"); name = trim(c[2]); ms = trim(c[3])
      if (ms != "n/a") { seen[name]++; key = seen[name] > 1 ? name " #" seen[name] : name; print side "\t" key " (ms)\t" ms }
    }
    /^peak memory: / { print side "\tpeak memory (GiB)\t" $3 }
  ' "$f"
done | awk -F'\t' -v rounds="$rounds" '
  function median(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  !($2 in order) { order[$2] = ++count; names[count] = $2 }
  { vals[$1, $2] = vals[$1, $2] (vals[$1, $2] == "" ? "" : " ") $3 }
  END {
    printf "| %-32s | %-24s | %-24s | %10s | %10s | %7s |\n", "stage", "OLD per round", "NEW per round", "OLD median", "NEW median", "NEW/OLD"
    printf "|----------------------------------|--------------------------|--------------------------|------------|------------|---------|\n"
    for (i = 1; i <= count; i++) {
      s = names[i]; a = vals["OLD", s]; b = vals["NEW", s]
      ma = a == "" ? "" : sprintf("%.2f", median(a)); mb = b == "" ? "" : sprintf("%.2f", median(b))
      ratio = (ma != "" && mb != "" && ma + 0 > 0) ? sprintf("%.3f", mb / ma) : "n/a"
      printf "| %-32s | %-24s | %-24s | %10s | %10s | %7s |\n", s, a, b, ma, mb, ratio
    }
  }'
