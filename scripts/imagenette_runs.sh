#!/usr/bin/env bash
# The ImageNet networks trained for real on Imagenette (10 ImageNet classes, 160 px squashed copies), each
# with the shipped recipe resattn_min/configs/imagenette.yaml (the paper's ImageNet recipe scaled to the
# data: 30 epochs at batch 64, lr 0.025, milestones at the paper's fractions of training), so their errors
# compare; then each run's single-crop test error at 224 and 160 px.
#   bash scripts/imagenette_runs.sh DATA_DIR RUNS_DIR        # DATA_DIR holds train/ and val/
# Environment:
#   MODELS    "attention56 attention56:nal ..." (model[:combination]); runs start together (--resume auto)
#   LOADER    workers (DataLoader, PIL; WORKERS per run) or gpu (decoded once, augmented on the GPU)
#   NPROC     processes (GPUs) per run through torchrun; the global batch stays 64
#   SUFFIX    appended to each run's folder name (e.g. _gpu2)
#   TRAIN_FLAGS  more train flags for every run (e.g. --no-cuda-graph)
set -uo pipefail
DATA="$1" RUNS="$2"
MODELS="${MODELS:-attention56 attention92 resnet152 resnet18 attention56:nal}"
LOADER="${LOADER:-workers}" NPROC="${NPROC:-1}" SUFFIX="${SUFFIX:-}"
LAUNCH=(python3 -m resattn_min)
[ "$NPROC" -gt 1 ] && LAUNCH=(python3 -m torch.distributed.run --standalone --nproc_per_node "$NPROC"
                              -m resattn_min)

run() {  # run NAME MODEL [flags...]
    local name="$1" model="$2"; shift 2
    mkdir -p "$RUNS/$name"
    "${LAUNCH[@]}" train --config imagenette --model "$model" --dataset "$DATA" --loader "$LOADER" \
        --workers "${WORKERS:-5}" --run-dir "$RUNS/$name" --resume auto ${TRAIN_FLAGS:-} "$@" \
        >>"$RUNS/$name/log.txt" 2>&1
    # single-crop test at a larger size than training (the paper: 224 training, 320 testing), through
    # the reference pipeline (PIL) whichever loader trained the run
    local ckpt; ckpt=$(ls "$RUNS/$name"/checkpoint-*.pt | tail -n 1)
    python3 -m resattn_min evaluate "$ckpt" --eval-size 224 --loader workers >"$RUNS/$name/eval224.txt" 2>&1
    python3 -m resattn_min evaluate "$ckpt" --eval-size 160 --loader workers >"$RUNS/$name/eval160.txt" 2>&1
}

for spec in $MODELS; do
    model="${spec%%:*}"
    if [ "$spec" != "$model" ]; then
        run "${model}_${spec#*:}$SUFFIX" "$model" --combination "${spec#*:}" &
    else
        run "$model$SUFFIX" "$model" &
    fi
done
wait
echo "all Imagenette runs ended"
