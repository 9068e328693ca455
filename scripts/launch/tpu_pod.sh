#!/usr/bin/env bash
# A Cloud TPU pod slice (e.g. v5e-32: 8 hosts x 4 chips): the same command on every host
# (--worker=all); `--distributed` auto-detects the pod (coordinator, host count, index) and the
# pieces' cells x seeds are laid over all chips. Process 0 (worker 0) writes --out on its own
# disk; copy it off afterwards (gcloud compute tpus tpu-vm scp) or point --out at a bucket
# mounted with gcsfuse. initjax must be installed on every host (pip install initjax[...]).
#
#   TPU_NAME=my-pod ZONE=us-west4-a bash scripts/launch/tpu_pod.sh
#   DRY_RUN=1 TPU_NAME=my-pod ZONE=us-west4-a bash scripts/launch/tpu_pod.sh   # plan per host
set -euo pipefail
: "${TPU_NAME:?set TPU_NAME}" "${ZONE:?set ZONE}"
EXPERIMENT="${EXPERIMENT:-depth_sweep}"
PRESET="${PRESET:-full}"
OUT="${OUT:-runs/${EXPERIMENT}_${PRESET}}"
CMD="initjax run $EXPERIMENT --set preset=$PRESET --out $OUT --distributed --no-progress${DRY_RUN:+ --dry-run}"
exec ${GCLOUD:-gcloud} compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all \
  --command "$CMD"
