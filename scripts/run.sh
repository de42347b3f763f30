#!/usr/bin/env bash
# Sets up (dependencies + build) and runs the worker. Without arguments it generates an image with
# the built-in demo model; any arguments are passed to `sd-worker`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
if [ $# -eq 0 ]; then
  set -- generate --model demo --prompt "a lighthouse at dusk" --output demo.png
fi
exec build/runtime/sd-worker "$@"
