#!/usr/bin/env bash
# Resume across GPU calls (issue 16): is a run split across two device calls the run trained in one go?
# Attention-56 on the CIFAR-10 JPEG copy for 0.5% of the paper's schedule (800 iterations), bf16, the
# CUDA-graph step, deterministic kernels where they exist, trained three ways:
#   A and C: the same run twice, in one go, side by side. Kernels without a deterministic CUDA version
#            (the backward of bilinear upsampling and of adaptive average pooling) make them differ:
#            that difference is the floor any comparison of GPU runs has;
#   D:       C's checkpoint at iteration 400, copied to a new folder by the first call, resumed to the
#            end by the second call (a new process, as after a session boundary).
# Resume is exact when D ends where C does, differing from it at most twice as much as A does (bit for
# bit where A and C are equal).
#
#   RESATTN_COMMIT=$(git rev-parse HEAD) bash scripts/resume_check.sh first    # carry .stage/cifar10-jpeg.tar.gz
#   RESATTN_COMMIT=$(git rev-parse HEAD) bash scripts/resume_check.sh second   # within 30 s: /tmp survives
# The second call writes $OUT/resume_check.json (weight gaps, loss curves after the split, test errors).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${RESATTN_COMMIT:?set RESATTN_COMMIT to the commit under test (the GPU machine has no current .git)}"
export RESATTN_COMMIT PYTHONUNBUFFERED=1 PYTHONPATH="$PWD" RESATTN_DATA="${RESATTN_DATA:-/tmp/stage/data}"
unset RESATTN_QUICK
OUT="${OUT:-/tmp/out}" RUNS=/tmp/resume-check DATA="$RESATTN_DATA/cifar10-jpeg" SPLIT=400
mkdir -p "$OUT" "$RUNS"
run() {  # run NAME [extra flags]: the one configuration of all three
    local name=$1; shift
    python3 -m resattn_min train --config cifar10_attention56 --dataset "$DATA" --schedule-scale 0.005 \
        --amp bf16 --cuda-graph --deterministic --no-progress --run-dir "$RUNS/$name" "$@" >"$RUNS/$name.log" 2>&1
}

case "${1:-}" in
first)
    if [ ! -d "$DATA/train" ]; then
        mkdir -p "$DATA" && tar -xzf .stage/cifar10-jpeg.tar.gz -C "$DATA" || { echo "no .stage/cifar10-jpeg.tar.gz"; exit 2; }
    fi
    rm -rf "${RUNS:?}"/*
    # ckpt-every is in the paper's iterations: 80,000 of them at scale 0.005 is a checkpoint every 400
    run A --overwrite & run C --overwrite --ckpt-every 80000 --keep-checkpoints 3 & wait
    mkdir -p "$RUNS/D" && cp "$RUNS/C/checkpoint-$(printf %08d $SPLIT).pt" "$RUNS/D/" || exit 1
    tail -n 2 "$RUNS"/A.log "$RUNS"/C.log
    ;;
second)
    [ -f "$RUNS/D/checkpoint-$(printf %08d $SPLIT).pt" ] || { echo "no split checkpoint: run 'first' (the machine went cold?)"; exit 2; }
    run D --resume auto --ckpt-every 80000 --keep-checkpoints 3
    tail -n 2 "$RUNS"/D.log
    python3 - "$RUNS" "$OUT" "$SPLIT" <<'PY'
import json, sys
from pathlib import Path

from resattn_min.experiments.campaign import split_run_report

runs, out, split = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
report = {"what": "Attention-56, 800 iterations, bf16, CUDA graph: A and C in one go, D resumed from C's "
                  f"checkpoint at iteration {split} in a second device call", **split_run_report(runs, split)}
(out / "resume_check.json").write_text(json.dumps(report, indent=1) + "\n")
print(json.dumps(report, indent=1))
PY
    ;;
*) echo "usage: bash scripts/resume_check.sh first|second" >&2; exit 2 ;;
esac
