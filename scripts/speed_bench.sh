#!/usr/bin/env bash
# The speed measurements of record (results/bench/, notes/PERF.md), on one GPU of the lent machine:
#
#   bash scripts/speed_bench.sh stack      # the CUDA-graph step of 1..6 runs stacked into one network
#   bash scripts/speed_bench.sh compile    # the same with torch.compile, twice: cold, then from the cache
#
# Each writes results/bench-style JSON into $OUT (or /tmp/out). The inductor cache lives in
# $TORCHINDUCTOR_CACHE_DIR (default /tmp/inductor-cache), so a second process compiles from it.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${RESATTN_COMMIT:?set RESATTN_COMMIT to the commit being run (the .git copied to the GPU machine is not current)}"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor-cache}"
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
bench() { python3 -m resattn_min bench --batch-size 64 --image-size 32 --steps 40 --no-check "$@"; }
for what in "$@"; do
    case "$what" in
    stack)
        bench --model attention92_cifar --variants eager,graph --stack 1,2,3,4,6 --out "$OUT/stack_a92.json"
        bench --model resnet164_cifar --variants eager,graph --stack 1,3,6 --out "$OUT/stack_r164.json"
        bench --model attention164_cifar --variants graph --stack 1,2 --out "$OUT/stack_a164.json"
        ;;
    compile)
        for pass in cold warm; do
            bench --model attention92_cifar --variants compile --stack "${STACKS:-3}" \
                --out "$OUT/compile_a92_$pass.json"
        done
        ;;
    *) echo "unknown measurement $what" >&2; exit 2 ;;
    esac
done
