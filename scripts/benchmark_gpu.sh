#!/usr/bin/env bash
# One prepared command for one accelerator (sized for about 5 minutes on one H200): cases 1-4 at
# accelerator scale (width 1024-4096, depth 1000, 256 seeds; see scripts/_bench/sizes.py, GPU) and
# the main job's full preset (`initjax run depth-sweep --set preset=full`: width 1024, depth 1000,
# 128 seeds), printing the table and writing the "gpu" block of BENCHMARKS.md (the CPU block is kept).
#
#   bash scripts/benchmark_gpu.sh              # run
#   bash scripts/benchmark_gpu.sh --dry-run    # print the plan (works on a CPU-only machine)
#
# Extra arguments are passed to scripts/benchmark.py (e.g. --out /tmp/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [[ " $* " != *" --dry-run "* ]]; then
  # Keep XLA from grabbing 75% of device memory up front, so peak memory is what the run uses.
  export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
  "$PY" -c 'import jax, sys; b = jax.default_backend(); print("backend:", b, jax.devices()); sys.exit(b == "cpu")' \
    || { echo "benchmark_gpu.sh: no accelerator visible to jax (use --dry-run on a CPU)" >&2; exit 2; }
fi
exec "$PY" scripts/benchmark.py --preset gpu --cases prng,1,2,3,4,main --label gpu "$@"
