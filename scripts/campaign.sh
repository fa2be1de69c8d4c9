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
#                                                                  # (bench-first before start: once)
#   bash scripts/campaign.sh wait:500 collect:all                  # then: each call returns what fits, in turn
#   bash scripts/campaign.sh until-done:500 collect:all            # last call (and collect:all again in
#                                                                  # one more if a call could not return all)
# torch.compile's cache folder does not cross sessions (478 MB after the first minutes; notes/PERF.md); its
# portable form does: the first process of each network keeps what it compiled in $RUNS/compiled, which
# goes back in the room the checkpoints leave and comes in with them next time (compile_artifacts).
# Here, after each call (unpack its pieces and runs.tgz into runs/campaign, then update):
#   python -m resattn_min campaign receive /work/.device/N
#   python -m resattn_min campaign bank        # once, at the end of the session: into git's history
set -uo pipefail
cd "$(dirname "$0")/.."
: "${RESATTN_COMMIT:?set RESATTN_COMMIT to the commit being run (the .git copied to the GPU machine is not current)}"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-cache
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
STAGE=/tmp/stage RUNS=/tmp/runs/cifar10_jpeg_full OUT="${OUT:-/tmp/out}"
# Table 6's six runs first; the Attention-164 pair takes the place of a run that finishes (six at a time)
CAMPAIGN_RUNS="${CAMPAIGN_RUNS:-attention92 resnet164 attention92_s1 resnet164_s1 attention92_s2 resnet164_s2 attention164_arl attention164_nal}"
mkdir -p "$RUNS" "$OUT"

for action in "$@"; do
    echo "== $action ($(date -u +%H:%M:%S))"
    case "$action" in
    stage)
        bash scripts/gpu_session.sh stage
        for pieces in .stage/ckpt*/; do  # whatever this call carried (campaign carry: ckpt1, ckpt2, ...)
            [ -d "$pieces" ] && python3 -m resattn_min campaign unpack "$pieces" "$RUNS" | grep joined
        done
        mkdir -p "$RUNS/compiled" && touch "$RUNS/compiled/.carried"  # what is older came from the store
        ;;
    start:*)  # train until the deadline (seconds from now); checkpoints every 2,000 iterations
        if pgrep -f "resattn_min reproduce" >/dev/null; then echo "already training"; continue; fi
        pgrep -x nvidia-cuda-mps >/dev/null || { mkdir -p /tmp/mps /tmp/mps-log; nvidia-cuda-mps-control -d; }
        setsid nohup python3 -m resattn_min reproduce $CAMPAIGN_RUNS --dataset "$STAGE/cifar10-jpeg" \
            --run-dir "$RUNS" --parallel 6 --deadline "${action#start:}" \
            --extra --compile --compile-artifacts "$RUNS/compiled" --ckpt-every 2000 --keep-checkpoints 1 \
            >"$RUNS/../campaign.log" 2>&1 </dev/null &
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
    collect:*)  # metrics and logs of every run, and the newest checkpoints one call can return, in turn
        # (8 files, 64 MiB: four of six runs; what is left goes in the next call; nothing goes twice),
        # then, in the room left, compiled graphs the runs wrote this session (once each)
        # In every call while the runs train: a machine can be taken back at any time
        tar -czf "$OUT/runs.tgz" -C "$RUNS" --exclude='*.pt' --exclude='.*.tmp' --exclude=./compiled . \
            $( [ -d /tmp/extra ] && echo "-C /tmp extra" )  # what profile-step wrote
        runs=${action#collect:}; [ "$runs" = all ] && runs=$(echo $CAMPAIGN_RUNS | tr ' ' ,)
        python3 -m resattn_min campaign collect "$RUNS" "$OUT/ckpt" --runs "$runs"
        ;;
    bench-first)  # before start:, the GPU alone: each network's step eager, graph and compiled, with its
        # kernels (issue 12's record); compiling here fills the cache the campaign's processes then read
        mkdir -p /tmp/extra
        timeout 420 python3 -m resattn_min bench --model attention92_cifar,resnet164_cifar \
            --variants eager,graph,compile --steps 50 --warmup 10 --profile 5 \
            --out /tmp/extra/cifar_h200_alone.json 2>&1 | grep -v Warning
        ;;
    profile-step)  # in the background: the kernels of one Attention-92 step, eager, graph and compiled
        # (bench --profile; beside the campaign the times are shared, the kernel counts are not)
        mkdir -p /tmp/extra
        setsid nohup timeout 500 python3 -m resattn_min bench --model attention92_cifar \
            --variants eager-bf16,graph,compile --steps 20 --warmup 3 --profile 5 --no-check \
            --out /tmp/extra/bench_profile_a92.json >/tmp/extra/bench_profile.txt 2>&1 </dev/null &
        ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
    esac
done
