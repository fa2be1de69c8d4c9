#!/usr/bin/env bash
# Issue 7's measurements on a two-GPU machine: is the GPU fed, and what do two GPUs give?
#   bash scripts/imagenette_pipeline.sh DATA_DIR RUNS_DIR
# 1. GPU 0: images/s that DataLoader workers (PIL) and the GPU stream supply (bench-data), and the
#    training step's images/s at 160 px (bench); meanwhile GPU 1 trains Attention-56 with --loader gpu.
# 2. Both GPUs: the same run through torchrun (global batch 64, 32 per GPU, CUDA graph with the
#    gradient all-reduce inside it).
# 3. GPU 0: the same run with the DataLoader (16 workers), the loader the earlier runs used.
# Every run is an ordinary scripts/imagenette_runs.sh run (30 epochs, the scaled ImageNet recipe).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA="$1" RUNS="$2"
mkdir -p "$RUNS/bench"
runs() { bash scripts/imagenette_runs.sh "$DATA" "$RUNS"; }

CUDA_VISIBLE_DEVICES=1 MODELS=attention56 LOADER=gpu SUFFIX=_gpu_loader runs &
CUDA_VISIBLE_DEVICES=0 python3 -m resattn_min bench-data --dataset "$DATA" --workers "${DATA_WORKERS:-1,2,4,8,16}" \
    --out "$RUNS/bench/imagenette_data_160.json"
CUDA_VISIBLE_DEVICES=0 python3 -m resattn_min bench --model attention56,attention92,resnet152,resnet18 \
    --batch-size 64 --image-size 160 --num-classes 10 --steps 30 --warmup 5 --out "$RUNS/bench/imagenette_160_b64.json"
wait
MODELS=attention56 LOADER=gpu NPROC=2 SUFFIX=_gpu_loader_2gpus runs
if [ ! -f "$RUNS/attention56_gpu_loader_2gpus/results.json" ]; then  # the graph failed: DDP's eager step
    MODELS=attention56 LOADER=gpu NPROC=2 SUFFIX=_gpu_loader_2gpus_eager TRAIN_FLAGS=--no-cuda-graph runs
fi
CUDA_VISIBLE_DEVICES=0 MODELS=attention56 LOADER=workers WORKERS=16 SUFFIX=_16_workers runs
echo "pipeline measurements ended"
