#!/usr/bin/env bash
# The full-length CIFAR campaign (issue 16) on the lent GPU machine: every unfinished run of the ledger
# resumes from its checkpoint, all train side by side until a deadline, and the newest checkpoints come
# back in pieces. Between sessions they wait in the store and in git's history (campaign bank; results/campaign/README.md).
#
# Here, before a session (checkpoints to carry; a call carries 64 MiB with the working tree):
#   python -m resattn_min campaign carry .stage --data ../shared/data/cifar10-jpeg.tar.gz   # says what each call carries
# There (each call within 30 s of the last; results/campaign/README.md has the whole session):
#   bash scripts/campaign.sh stage                                 # calls 1, ...: data, checkpoints
#   bash scripts/campaign.sh stage start:1300 wait:450 collect:all # the last staging call starts the runs
#   bash scripts/campaign.sh wait:500 collect:all                  # then: a lost machine costs one call
#   bash scripts/campaign.sh until-done:500 collect:all cache-out  # last call
# The compile cache (cache-out, when it packs into 16 MiB) waits in the store for the next session, which
# carries it with a later stage call (cache-in) before start: the runs then load their kernels instead of
# compiling them (120-170 s before the first 400 iterations of each run in session 2).
# Here, after each call:
#   python -m resattn_min campaign unpack /work/.device/N/ckpt runs/campaign
#   tar -xzf /work/.device/N/runs.tgz -C runs/campaign && python -m resattn_min campaign update runs/campaign
#   python -m resattn_min campaign bank        # once, at the end of the session: into git's history
set -uo pipefail
cd "$(dirname "$0")/.."
: "${RESATTN_COMMIT:?set RESATTN_COMMIT to the commit being run (the .git copied to the GPU machine is not current)}"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-cache
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
STAGE=/tmp/stage RUNS=/tmp/runs/cifar10_jpeg_full OUT="${OUT:-/tmp/out}"
CAMPAIGN_RUNS="${CAMPAIGN_RUNS:-attention92 resnet164 attention92_s1 resnet164_s1 attention92_s2 resnet164_s2}"
mkdir -p "$RUNS" "$OUT"

cache-in() {
    if [ -f .stage/inductor-cache.tgz ] && [ ! -d /tmp/inductor-cache ]; then
        tar -xzf .stage/inductor-cache.tgz -C /tmp && echo "compile cache unpacked: $(du -sh /tmp/inductor-cache | cut -f1)"
    fi
}

for action in "$@"; do
    echo "== $action ($(date -u +%H:%M:%S))"
    case "$action" in
    stage)
        bash scripts/gpu_session.sh stage
        for pieces in .stage/ckpt*/; do  # whatever this call carried (campaign carry: ckpt1, ckpt2, ...)
            [ -d "$pieces" ] && python3 -m resattn_min campaign unpack "$pieces" "$RUNS" | grep joined
        done
        cache-in
        ;;
    cache-in)  # torch.compile's cache from an earlier session, if carried: the runs then skip compiling
        cache-in
        ;;
    cache-out)  # the compile cache, to carry into the next session (if it fits in one returned file)
        tar -czf /tmp/inductor-cache.tgz -C /tmp inductor-cache 2>/dev/null
        size=$(stat -c %s /tmp/inductor-cache.tgz 2>/dev/null || echo 0)
        if [ "$size" -gt 0 ] && [ "$size" -le $((15 * 2**20)) ]; then cp /tmp/inductor-cache.tgz "$OUT/"
        else echo "compile cache: $size bytes packed, not returned (one returned file holds 16 MiB)"; fi
        ;;
    start:*)  # train until the deadline (seconds from now); checkpoints every 2,000 iterations
        if pgrep -f "resattn_min reproduce" >/dev/null; then echo "already training"; continue; fi
        pgrep -x nvidia-cuda-mps >/dev/null || { mkdir -p /tmp/mps /tmp/mps-log; nvidia-cuda-mps-control -d; }
        setsid nohup python3 -m resattn_min reproduce $CAMPAIGN_RUNS --dataset "$STAGE/cifar10-jpeg" \
            --run-dir "$RUNS" --parallel 8 --deadline "${action#start:}" \
            --extra --compile --ckpt-every 2000 --keep-checkpoints 1 >"$RUNS/../campaign.log" 2>&1 </dev/null &
        sleep 5
        ;;
    wait:*)
        end=$(( $(date +%s) + ${action#wait:} ))
        while [ "$(date +%s)" -lt "$end" ]; do
            sleep 60
            echo "-- $(date -u +%H:%M:%S)"
            for log in "$RUNS"/*/log.txt; do
                printf '%-18s %s\n' "$(basename "$(dirname "$log")")" "$(grep -v '^\$' "$log" | tail -n 1 | cut -c1-140)"
            done
            nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
        done
        ;;
    until-done:*)  # wait (at most N seconds) until every run has met its deadline and exited
        end=$(( $(date +%s) + ${action#until-done:} ))
        while pgrep -f "resattn_min train" >/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 10; done
        pgrep -af "resattn_min train" | cut -c1-80 || echo "all runs exited"
        ;;
    stop)  # what a deadline does: SIGTERM ends each run's step, writes a checkpoint there and exits
        pkill -TERM -f "resattn_min reproduce"; pkill -TERM -f "resattn_min train"
        for _ in $(seq 60); do pgrep -f "resattn_min train" >/dev/null || break; sleep 2; done
        pgrep -af "resattn_min train" || echo "all runs stopped"
        ;;
    collect:*)  # metrics and logs of every run, and the newest checkpoint of the runs named, in pieces;
        # while the runs train too (a machine can be taken back at any time: collect in every call)
        tar -czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.pt' --exclude='.*.tmp' .
        mkdir -p /tmp/collect
        runs=${action#collect:}; [ "$runs" = all ] && runs=$(echo $CAMPAIGN_RUNS | tr ' ' ,)
        for run in $(echo "$runs" | tr , ' '); do
            for _ in 1 2 3; do  # a hard link outlives the trainer's removal of its older checkpoint
                newest=$(ls "$RUNS/$run"/checkpoint-*.pt 2>/dev/null | tail -n 1)
                [ -z "$newest" ] && break
                ln -f "$newest" "/tmp/collect/$(basename "$newest")" 2>/dev/null && break
            done
            [ -n "$newest" ] && [ -f "/tmp/collect/$(basename "$newest")" ] && python3 -c "import sys; from pathlib import Path
from resattn_min.experiments.campaign import split_file
print(*split_file(Path(sys.argv[1]), Path(sys.argv[2])))" "/tmp/collect/$(basename "$newest")" "$OUT/ckpt/$run"
            rm -f /tmp/collect/*.pt
        done
        ls -la "$OUT" "$OUT"/ckpt/* 2>/dev/null | head -40
        ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
    esac
done
