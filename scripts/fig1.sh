#!/usr/bin/env bash
# The book's Fig. 1 (chapter 11): Attention-56 trained on Imagenette with the 30-epoch recipe of
# scripts/imagenette_runs.sh (GPU loader), then each stage's mask drawn on validation images at 224 px.
# The Imagenette archives are too large for one GPU call together: carry them in .stage/ as
# imagenette2-160sq-val.tar.gz + imagenette2-160sq-train.tar.gz.part00 (call 1) and .part01 (call 2).
#   bash scripts/fig1.sh receive                 # call 1: keep what was carried in /tmp/stage/in
#   bash scripts/fig1.sh receive unpack train draw   # call 2
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RESATTN_COMMIT:?set RESATTN_COMMIT to the commit being run (the .git copied to the GPU machine is not current)}"
export PYTHONUNBUFFERED=1
STAGE=/tmp/stage RUNS=/tmp/runs/fig1 OUT="${OUT:-/tmp/out}"
mkdir -p "$STAGE/in" "$RUNS" "$OUT"
for action in "$@"; do
    echo "== $action ($(date -u +%H:%M:%S))"
    case "$action" in
    receive) cp .stage/imagenette2-160sq-* "$STAGE/in/" && ls -la "$STAGE/in" ;;
    unpack)
        cat "$STAGE"/in/imagenette2-160sq-train.tar.gz.part* | tar -xz -C "$STAGE"
        tar -xzf "$STAGE/in/imagenette2-160sq-val.tar.gz" -C "$STAGE"
        ls "$STAGE/imagenette2-160sq"
        ;;
    train) MODELS=attention56 LOADER=gpu bash scripts/imagenette_runs.sh "$STAGE/imagenette2-160sq" "$RUNS"
           tail -n 3 "$RUNS/attention56/log.txt"; cat "$RUNS/attention56/eval224.txt" ;;
    draw)
        ckpt=$(ls "$RUNS"/attention56/checkpoint-*.pt | tail -n 1)
        python3 -m resattn_min masks "$ckpt" --out "$OUT/fig1_attention56_imagenette.png" --images 6 --eval-size 224
        cp "$RUNS/attention56/results.json" "$OUT/fig1_run_results.json"
        cp "$RUNS/attention56/eval224.txt" "$OUT/fig1_run_eval224.txt"
        ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
    esac
done
