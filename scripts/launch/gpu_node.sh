#!/usr/bin/env bash
# One GPU node, one process: jax sees every local GPU and each piece's cells x seeds are laid
# over them (no --distributed needed). XLA_PYTHON_CLIENT_PREALLOCATE=false keeps XLA from
# reserving 75% of each GPU up front, so other jobs (and the memory figures) stay honest.
#
#   bash scripts/launch/gpu_node.sh                                  # depth_sweep, full preset
#   CUDA_VISIBLE_DEVICES=0,1 EXPERIMENT=trainability bash scripts/launch/gpu_node.sh
#   DRY_RUN=1 bash scripts/launch/gpu_node.sh                        # pieces, memory, devices
set -euo pipefail
EXPERIMENT="${EXPERIMENT:-depth_sweep}"
PRESET="${PRESET:-full}"
OUT="${OUT:-runs/${EXPERIMENT}_${PRESET}}"
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
${INITJAX:-initjax} run "$EXPERIMENT" --set preset="$PRESET" --out "$OUT" ${DRY_RUN:+--dry-run}
