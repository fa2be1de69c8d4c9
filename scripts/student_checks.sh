#!/usr/bin/env bash
# The GPU checks of the student's path (issue 13), on one GPU in about six minutes:
#   1. float16 with loss scaling learns like bfloat16: Attention-56 on the CIFAR-10 JPEG copy for 1.5% of
#      the paper's schedule (2,400 iterations), bf16 and fp16 with the CUDA-graph step, fp16 eager, the
#      three side by side (their speeds are not single-process speeds);
#   2. chapter 6 at lesson size, as a student runs it, with float16 forced (the T4's path) and a budget of
#      LESSON_MINUTES (default 2) instead of 20: it must end inside its budget at a real test error.
# Needs RESATTN_COMMIT (the GPU machine's .git is stale) and .stage/cifar10-jpeg.tar.gz (the JPEG copy,
# carried: cp ../shared/data/cifar10-jpeg.tar.gz .stage/). Writes $OUT/student_checks.json, the runs'
# results, metrics and logs in $OUT/runs.tgz, and the chapter's output in $OUT/chapter6.log.
#
#   RESATTN_COMMIT=$(git rev-parse HEAD) bash scripts/student_checks.sh [amp] [lesson]   # default: both
set -uo pipefail
cd "$(dirname "$0")/.."
: "${RESATTN_COMMIT:?set RESATTN_COMMIT to the commit under test (the GPU machine has no current .git)}"
export RESATTN_COMMIT PYTHONUNBUFFERED=1 PYTHONPATH="$PWD" RESATTN_DATA="${RESATTN_DATA:-/tmp/stage/data}"
export MPLBACKEND=Agg
unset RESATTN_QUICK
OUT="${OUT:-/tmp/out}" RUNS=/tmp/student-runs LESSON_MINUTES="${LESSON_MINUTES:-2}" SCALE="${SCALE:-0.015}"
DATA="$RESATTN_DATA/cifar10-jpeg"
mkdir -p "$OUT" "$RUNS" "$RESATTN_DATA"
PY=python3

if [ ! -d "$DATA/train" ]; then
    mkdir -p "$DATA" && tar -xzf .stage/cifar10-jpeg.tar.gz -C "$DATA" || { echo "no .stage/cifar10-jpeg.tar.gz"; exit 2; }
fi
$PY -c "from resattn_min.data import load_image_tensors as l
for s in ('train', 'test'): print(s, l('$DATA', s).images.shape)"   # decoded once, cached

PARTS=" ${*:-amp lesson} "
if [[ $PARTS == *" amp "* ]]; then
echo "== 1. fp16 against bf16 ($(date -u +%H:%M:%S))"
for run in bf16_graph:bf16:--cuda-graph fp16_graph:fp16:--cuda-graph fp16_eager:fp16:--no-cuda-graph; do
    IFS=: read -r name amp graph <<<"$run"  # side by side: one of these small runs leaves the GPU idle
    $PY -m resattn_min train --config cifar10_attention56 --dataset "$DATA" --schedule-scale "$SCALE" \
        --amp "$amp" "$graph" --no-progress --overwrite --run-dir "$RUNS/$name" >"$RUNS/$name.log" 2>&1 &
done
wait
for log in "$RUNS"/*.log; do echo "-- $log"; tail -n 3 "$log"; done
fi

if [[ $PARTS == *" lesson "* ]]; then

echo "== 2. chapter 6, lesson size, fp16, $LESSON_MINUTES minutes ($(date -u +%H:%M:%S))"
rm -rf chapters/runs/ch6_lesson chapters/runs/ch6_lesson_interrupted
$PY scripts/run_chapter.py chapters/06_training_cifar.ipynb \
    --set "lesson_minutes=20=>lesson_minutes=$LESSON_MINUTES" --set 'amp="auto"=>amp="fp16"' >"$OUT/chapter6.log" 2>&1
echo "chapter 6 exit code $?"; tail -n 25 "$OUT/chapter6.log"
fi

$PY - "$RUNS" "$OUT" "$LESSON_MINUTES" <<'EOF'
import json, shutil, sys
from pathlib import Path

import torch

from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint
from resattn_min.train.precision import resolve_amp

runs, out, minutes = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
(out / "runs").mkdir(exist_ok=True)
keys = ("amp", "cuda_graph", "test_error", "iterations", "schedule_scale", "wall_time_s", "train_images_per_s",
        "budget", "device", "git_commit", "date")
gpu = torch.cuda.is_available()
report = {"auto_amp_here": str(resolve_amp("auto", torch.device("cuda" if gpu else "cpu"))),
          "capability": torch.cuda.get_device_capability() if gpu else None}
folders = {p.name: p for p in sorted(runs.iterdir()) if p.is_dir()}
folders["ch6_lesson"] = Path("chapters/runs/ch6_lesson")
for name, folder in folders.items():
    if not (folder / "results.json").is_file():
        report[name] = "no results.json"
        continue
    results = json.loads((folder / "results.json").read_text())
    report[name] = {k: results.get(k) for k in keys}
    last = list_checkpoints(folder)[-1]
    report[name]["final_loss_scale"] = (load_checkpoint(last).get("scaler") or {}).get("scale")
    for file in ("results.json", "metrics.csv", "log.txt"):
        if (folder / file).is_file():
            shutil.copy(folder / file, out / "runs" / f"{name}_{file}")
bf16, fp16 = report.get("bf16_graph"), report.get("fp16_graph")
lesson = report.get("ch6_lesson")
if isinstance(bf16, dict) and isinstance(fp16, dict):
    report["fp16_learns_like_bf16"] = (abs(fp16["test_error"] - bf16["test_error"]) < 0.03
                                       and fp16["cuda_graph"] and fp16["amp"] == "fp16")
if isinstance(lesson, dict):
    report["lesson_within_budget"] = lesson["wall_time_s"] <= minutes * 60
    report["lesson_real_error"] = lesson["test_error"] < 0.6  # chance is 0.9
(out / "student_checks.json").write_text(json.dumps(report, indent=1) + "\n")
print(json.dumps(report, indent=1))
EOF
cp "$RUNS"/*.log "$OUT/runs/" 2>/dev/null
tar -czf "$OUT/runs.tgz" -C "$OUT" runs && rm -rf "$OUT/runs"  # $OUT brings back a few files only
