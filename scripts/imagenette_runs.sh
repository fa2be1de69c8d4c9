#!/usr/bin/env bash
# The ImageNet networks trained for real on Imagenette (10 ImageNet classes, 160 px squashed copies):
# the paper's ImageNet recipe (Sec. 4.2: SGD, momentum 0.9, weight decay 1e-4, lr divided by 10 three
# times) scaled to the data: 30 epochs at batch 64 instead of 530k iterations at batch 256, lr 0.025
# (0.1 x 64 / 256, the linear scaling rule), milestones at the same fractions of training (200/530,
# 400/530, 500/530). Every network gets the same recipe, so their errors compare.
#   bash scripts/imagenette_runs.sh DATA_DIR RUNS_DIR        # DATA_DIR holds train/ and val/
# Environment:
#   MODELS    "attention56 attention56:nal ..." (model[:combination]); runs start together (--resume auto)
#   LOADER    workers (DataLoader, PIL; WORKERS per run) or gpu (decoded once, augmented on the GPU)
#   NPROC     processes (GPUs) per run through torchrun; the global batch stays 64
#   SUFFIX    appended to each run's folder name (e.g. _gpu2)
#   TRAIN_FLAGS  more train flags for every run (e.g. --no-cuda-graph)
set -uo pipefail
DATA="$1" RUNS="$2"
EPOCHS="${EPOCHS:-30}" BATCH=64 TRAIN_IMAGES=9469
TOTAL=$(( EPOCHS * TRAIN_IMAGES / BATCH ))
SCALE=$(python3 -c "print($TOTAL / 530000)")
# the trainer scales every interval with the schedule: give them at the paper's length
CKPT=$(python3 -c "print(round(500 / $SCALE))") LOG=$(python3 -c "print(round(50 / $SCALE))")
MODELS="${MODELS:-attention56 attention92 resnet152 resnet18 attention56:nal}"
LOADER="${LOADER:-workers}" NPROC="${NPROC:-1}" SUFFIX="${SUFFIX:-}"
LAUNCH=(python3 -m resattn_min)
[ "$NPROC" -gt 1 ] && LAUNCH=(python3 -m torch.distributed.run --standalone --nproc_per_node "$NPROC"
                              -m resattn_min)

run() {  # run NAME MODEL [flags...]
    local name="$1" model="$2"; shift 2
    mkdir -p "$RUNS/$name"
    "${LAUNCH[@]}" train --model "$model" --dataset "$DATA" --schedule imagenet \
        --schedule-scale "$SCALE" --batch-size $BATCH --lr 0.025 --image-size 160 --eval-size 160 \
        --loader "$LOADER" --workers "${WORKERS:-5}" --cuda-graph --no-progress --eval-every 0 \
        --ckpt-every "$CKPT" --log-every "$LOG" --keep-checkpoints 1 --run-dir "$RUNS/$name" \
        --resume auto ${TRAIN_FLAGS:-} "$@" >>"$RUNS/$name/log.txt" 2>&1
    # single-crop test at a larger size than training (the paper: 224 training, 320 testing), through
    # the reference pipeline (PIL) whichever loader trained the run
    local ckpt; ckpt=$(ls "$RUNS/$name"/checkpoint-*.pt | tail -n 1)
    python3 -m resattn_min evaluate "$ckpt" --image-size 224 --loader workers >"$RUNS/$name/eval224.txt" 2>&1
    python3 -m resattn_min evaluate "$ckpt" --image-size 160 --loader workers >"$RUNS/$name/eval160.txt" 2>&1
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
