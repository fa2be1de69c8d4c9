"""``reproduce``: the paper's experiments by name; stopped runs start again, finished ones are kept."""

from __future__ import annotations

import json
import sys

import pytest
from _train_helpers import CHILD, ENV

from resattn_min.cli import main
from resattn_min.experiments.catalog import EXPERIMENTS
from resattn_min.experiments.reproduce import reproduce, train_command

#: The tiny registered test network in place of the experiment's model (flags given last win).
TINY = ["--model", "tiny_attention_test", "--schedule", "none", "--lr", "0.1", "--milestones", "20,30",
        "--total-iters", "40", "--batch-size", "16", "--quick", "--device", "cpu"]


def test_every_table_of_the_paper_has_its_experiments():
    tables = {e.table for e in EXPERIMENTS.values()}
    assert {"Table 1", "Table 3", "Table 4", "Table 5", "Table 6"} <= tables
    table5 = [e for e in EXPERIMENTS.values() if e.table == "Table 5"]
    assert sorted({e.options["noise_ratio"] for e in table5}) == [0.1, 0.3, 0.5, 0.7]  # r = 0.9 ... 0.3


def test_an_experiment_becomes_one_resumable_train_command(tmp_path):
    cmd = train_command(EXPERIMENTS["attention56_nal"], "cifar10", 0.1, tmp_path / "run", ["--seed", "3"])
    assert cmd[:4] == [sys.executable, "-m", "resattn_min", "train"]
    value = {flag: cmd[i + 1] for i, flag in enumerate(cmd) if flag.startswith("--") and i + 1 < len(cmd)}
    assert value["--model"] == "attention56_cifar" and value["--combination"] == "nal"
    assert value["--resume"] == "auto" and value["--schedule-scale"] == "0.1"
    assert value["--run-dir"] == str(tmp_path / "run") and cmd[-2:] == ["--seed", "3"]  # extra flags last


def test_unknown_experiment_is_a_clear_error(capsys):
    assert main(["reproduce", "attention93", "--dataset", "synthetic"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'attention93'" in err and "attention92_nal" in err


@pytest.mark.slow
def test_stopped_runs_start_again_and_finished_runs_are_kept(tmp_path, monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    launcher = (sys.executable, str(CHILD))
    names = ["attention56_arl", "attention56_nal"]
    common = dict(dataset="synthetic", scale=None, runs_dir=tmp_path, extra=TINY, launcher=launcher,
                  poll_s=0.2)

    stopped = reproduce(names, parallel=1, deadline_s=0, **common)  # the deadline passes at once
    assert stopped == {"attention56_arl": "stopped", "attention56_nal": "waiting"}

    done = reproduce(names, parallel=2, **common)
    assert done == {"attention56_arl": "done", "attention56_nal": "done"}
    results = json.loads((tmp_path / "attention56_nal" / "results.json").read_text())
    assert results["config"]["combination"] == "nal" and results["iterations"] == 40

    log = tmp_path / "attention56_arl" / "log.txt"
    starts = log.read_text().count("$ ")
    assert reproduce(names, parallel=2, **common) == {n: "done" for n in names}
    assert log.read_text().count("$ ") == starts  # nothing was trained again


def test_a_run_waiting_for_a_place_does_not_start_in_the_deadlines_last_minutes(tmp_path):
    """Each 'run' here is a process that exits after 0.3 s: the first takes the one place, and once it
    is done the deadline is too near for the next (as compiling alone would take minutes on a GPU)."""
    launcher = (sys.executable, "-c", "import time; time.sleep(0.3)")
    names = ["attention56_arl", "attention56_nal", "attention92"]
    common = dict(dataset="synthetic", scale=None, runs_dir=tmp_path, launcher=launcher, poll_s=0.05)
    late = reproduce(names, parallel=1, deadline_s=60, late_start_s=120, **common)
    assert late == {"attention56_arl": "done", "attention56_nal": "waiting", "attention92": "waiting"}
    assert not (tmp_path / "attention56_nal").exists()  # never started
    early = reproduce(names[1:], parallel=1, deadline_s=60, late_start_s=1, **common)
    assert early == {"attention56_nal": "done", "attention92": "done"}  # far from the deadline: both
