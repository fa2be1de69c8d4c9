"""A run killed mid-way and resumed ends with bitwise the same weights as a run never interrupted."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from _train_helpers import CHILD, ENV, one_thread, run_child, write_config  # noqa: F401

from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint

pytestmark = pytest.mark.slow  # kills a training subprocess and resumes it


def final_state(run_dir):
    state = load_checkpoint(list_checkpoints(run_dir)[-1])
    return state["iteration"], state["model"], state["optimizer"]["state"]


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    options = {"total_iters": 24, "milestones": [12, 18], "ckpt_every": 8, "eval_every": 8}
    ref_config = write_config(tmp_path / "ref.yaml", tmp_path / "ref", **options)
    ref = run_child(["train", "--config", str(ref_config)])
    assert ref.returncode == 0, ref.stderr

    config = write_config(tmp_path / "run.yaml", tmp_path / "run", **options)
    slow = {**ENV, "RESATTN_TEST_STEP_DELAY": "0.25"}  # about 6 s of training: time to kill it mid-way
    proc = subprocess.Popen([sys.executable, str(CHILD), "train", "--config", str(config)], env=slow,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = tmp_path / "run" / "checkpoint-00000008.pt"
    deadline = time.monotonic() + 90
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-way"
    assert first.exists() and not (tmp_path / "run" / "results.json").exists()
    killed_at = load_checkpoint(list_checkpoints(tmp_path / "run")[-1])["iteration"]
    assert killed_at < 24

    resumed = run_child(["train", "--config", str(config), "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr

    it_ref, model_ref, momentum_ref = final_state(tmp_path / "ref")
    it_run, model_run, momentum_run = final_state(tmp_path / "run")
    assert it_ref == it_run == 24
    assert all(torch.equal(model_ref[k], model_run[k]) for k in model_ref)  # bitwise, BN statistics included
    assert all(torch.equal(momentum_ref[i]["momentum_buffer"], momentum_run[i]["momentum_buffer"])
               for i in momentum_ref)
    results = [json.loads((tmp_path / d / "results.json").read_text()) for d in ("ref", "run")]
    assert results[0]["test_error"] == results[1]["test_error"]
    assert results[1]["resumed_from"] == killed_at
    # the killed run's rows after its checkpoint were dropped and written again: one row per iteration
    rows = [[json.loads(line)["iteration"] for line in (tmp_path / d / "metrics.jsonl").open()]
            for d in ("ref", "run")]
    assert rows[0] == rows[1] == sorted(set(rows[0]))
