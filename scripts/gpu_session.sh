#!/usr/bin/env bash
# How the recorded GPU runs (results/) were made on a lent GPU machine that runs one command at a time,
# at most 10 minutes each, keeps /tmp between calls while it stays warm, and returns files from $OUT.
#
#   bash scripts/gpu_session.sh stage bench cifar wait:480 collect      # call 1
#   bash scripts/gpu_session.sh stage wait:540 collect                  # later calls: runs go on meanwhile
#
# Actions, in the order given:
#   stage        unpack the archives carried in .stage/ (git-ignored) into /tmp/stage, decode CIFAR once
#   bench        time the training step (eager fp32 vs the fast path) for CIFAR and ImageNet networks
#   cifar        start the CIFAR experiments (below) in the background, several processes on the one GPU
#   imagenette   start the Imagenette runs in the background (scripts/imagenette_runs.sh)
#   pipeline     start issue 7's measurements on a two-GPU machine (scripts/imagenette_pipeline.sh)
#   wait:N       wait N seconds (printing progress), then return; background runs go on after the call
#   collect      pack every run's small files (no checkpoints) into $OUT/runs.tgz
# The runs themselves are ordinary `python -m resattn_min reproduce` / `train` commands: with --resume auto a
# run stopped by a lost machine continues from its last checkpoint when the same action is given again.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 RESATTN_DATA=/tmp/stage/data
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
STAGE=/tmp/stage RUNS=/tmp/runs OUT="${OUT:-/tmp/out}"
mkdir -p "$STAGE/data" "$RUNS" "$OUT"
PY=python3

# Scaled paper schedules (160k iterations x scale), by priority: Table 6, Table 3, Tables 1 and 4, Sec. 4.2.
CIFAR_SCALE="${CIFAR_SCALE:-0.1}"
CIFAR_RUNS="${CIFAR_RUNS-attention92 resnet164 attention56_arl attention56_nal attention92_nal \
attention56_channel attention56_spatial attention56_local}"
NOISE_SCALE="${NOISE_SCALE:-0.05}"
NOISE_RUNS="${NOISE_RUNS-attention92_noise_r70 resnet164_noise_r70 attention92_noise_r30 resnet164_noise_r30}"

start_mps() {  # MPS lets the processes' kernels run side by side instead of taking turns on the GPU
    if command -v nvidia-cuda-mps-control >/dev/null && [ "${MPS:-1}" = 1 ]; then
        mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
        pgrep -x nvidia-cuda-mps >/dev/null || nvidia-cuda-mps-control -d
        echo "MPS on"
    fi
}

progress() {
    for log in "$RUNS"/*/*/log.txt; do
        [ -f "$log" ] || continue
        printf '%-40s %s\n' "$(basename "$(dirname "$(dirname "$log")")")/$(basename "$(dirname "$log")")" \
            "$(grep -v '^\$' "$log" | tail -n 1 | cut -c1-150)"
    done
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
}

for action in "$@"; do
    echo "== $action ($(date -u +%H:%M:%S))"
    case "$action" in
    stage)
        for archive in .stage/*.tar.gz; do
            [ -f "$archive" ] || continue
            name=$(basename "$archive" .tar.gz)
            if [ ! -f "$STAGE/$name.done" ]; then
                case "$name" in
                cifar10-jpeg) mkdir -p "$STAGE/cifar10-jpeg" && tar -xzf "$archive" -C "$STAGE/cifar10-jpeg" ;;
                *) tar -xzf "$archive" -C "$STAGE" ;;
                esac
                touch "$STAGE/$name.done"
            fi
        done
        if [ -d "$STAGE/cifar10-jpeg/train" ]; then
            $PY -c "from resattn_min.data import load_image_tensors as l
for s in ('train', 'test'): print(s, l('$STAGE/cifar10-jpeg', s).images.shape)"
        fi
        ls "$STAGE"
        ;;
    bench)
        mkdir -p "$RUNS/bench"
        $PY -m resattn_min bench --model attention92_cifar --batch-size 64 --image-size 32 --steps 50 \
            --out "$RUNS/bench/cifar_attention92_b64.json"
        $PY -m resattn_min bench --model attention56,attention92,resnet152 --batch-size 64 --image-size 224 \
            --steps 20 --warmup 5 --out "$RUNS/bench/imagenet_224_b64.json"
        ;;
    cifar)
        start_mps
        jobs=""  # either list may be empty
        [ -n "$CIFAR_RUNS" ] && jobs="$jobs $PY -m resattn_min reproduce $CIFAR_RUNS \
            --dataset $STAGE/cifar10-jpeg --schedule-scale $CIFAR_SCALE --run-dir $RUNS/cifar10_jpeg \
            --parallel ${PARALLEL:-8} &"
        [ -n "$NOISE_RUNS" ] && jobs="$jobs $PY -m resattn_min reproduce $NOISE_RUNS \
            --dataset $STAGE/cifar10-jpeg --schedule-scale $NOISE_SCALE --run-dir $RUNS/cifar10_jpeg_noise \
            --parallel ${PARALLEL:-8} &"
        setsid nohup bash -c "$jobs wait" >"$RUNS/cifar.log" 2>&1 </dev/null &
        sleep 2
        ;;
    pipeline)  # two GPUs: data supply vs training speed, one GPU vs two (scripts/imagenette_pipeline.sh)
        setsid nohup bash scripts/imagenette_pipeline.sh "$STAGE/imagenette2-160sq" "$RUNS/imagenette_pipeline" \
            >"$RUNS/pipeline.log" 2>&1 </dev/null &
        sleep 2
        ;;
    imagenette)
        start_mps
        setsid nohup bash scripts/imagenette_runs.sh "$STAGE/imagenette2-160sq" "$RUNS/imagenette" \
            >"$RUNS/imagenette.log" 2>&1 </dev/null &
        sleep 2
        ;;
    wait:*)
        end=$(( $(date +%s) + ${action#wait:} ))
        while [ "$(date +%s)" -lt "$end" ]; do
            sleep 60
            echo "-- $(date -u +%H:%M:%S)"; progress
        done
        ;;
    collect)
        tar -czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.pt' --exclude='.*.tmp' .
        cp "$RUNS"/*.log "$OUT/" 2>/dev/null
        progress
        ls -la "$OUT"
        ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
    esac
done
