"""A run folder keeps what its run did: no second run inside it, no fresh run over an earlier one, no
metrics row or good checkpoint lost to a kill, a NaN, Ctrl-C or a full disk, no temporary files left."""

import csv
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _train_helpers import CHILD, ENV, error_of, one_thread, run_child, tiny_config, write_config  # noqa: F401

from resattn_min.cli import main
from resattn_min.train import loop as trainer
from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint
from resattn_min.train.loop import TrainingDiverged, train
from resattn_min.train.results import MetricsLog
from resattn_min.train.run_folder import RunFolderError, claim_run_folder


def iterations(jsonl: Path) -> list[int]:
    return [json.loads(line)["iteration"] for line in jsonl.read_text().splitlines()]


def run_files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if not p.name.startswith(".")}


def test_a_fresh_run_refuses_a_folder_that_holds_an_earlier_run(tmp_path, capsys, trained):
    run_dir, _ = trained
    before = run_files(run_dir)
    config = write_config(tmp_path / "c.yaml", run_dir, total_iters=20, milestones=[10])
    assert main(["train", "--config", str(config)]) == 2
    err = error_of(capsys, one_line=True)
    assert f"{run_dir} holds an earlier run (metrics.csv, metrics.jsonl, results.json, 2 checkpoints)" in err
    assert "--resume auto" in err and "--run-dir" in err and "--overwrite" in err
    assert run_files(run_dir) == before


@pytest.mark.slow
def test_overwrite_deletes_the_earlier_run_before_a_fresh_one(tmp_path):
    train(tiny_config(tmp_path, total_iters=10, milestones=[5], ckpt_every=5))
    result = train(tiny_config(tmp_path, total_iters=4, milestones=[2], ckpt_every=2), overwrite=True)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["checkpoint-00000002.pt", "checkpoint-00000004.pt"]  # 5 and 10 are gone
    assert iterations(tmp_path / "metrics.jsonl") == [2, 4] and result.results["iterations"] == 4


def test_a_second_run_in_a_folder_in_use_is_refused(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", tmp_path / "run")
    with claim_run_folder(tmp_path / "run", fresh=True):  # another run trains there
        assert main(["train", "--config", str(config), "--resume", "auto"]) == 2
    err = error_of(capsys, one_line=True)
    assert f"in use by another run (pid {os.getpid()} on {socket.gethostname()})" in err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
    assert main(["reproduce", "attention56_arl", "attention56_arl", "--parallel", "2", "--dataset",
                 "synthetic", "--runs-dir", str(tmp_path / "runs"), "--deadline", "5"]) == 2
    assert "attention56_arl named more than once" in error_of(capsys, one_line=True)


@pytest.mark.slow
def test_a_killed_run_leaves_no_lock_behind(tmp_path):
    script = (f"import time\nfrom resattn_min.train.run_folder import claim_run_folder\n"
              f"with claim_run_folder({str(tmp_path)!r}, fresh=True):\n"
              "    print('held', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunFolderError, match=f"in use by another run \\(pid {holder.pid} "):
        with claim_run_folder(tmp_path, fresh=False):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with claim_run_folder(tmp_path, fresh=False):  # the operating system released the dead run's lock
        pass


def test_every_checkpoint_has_its_metrics_row_on_disk_first(tmp_path, monkeypatch):
    last_row_at_save = []
    save = trainer.save_checkpoint

    def save_and_look(run_dir, iteration, payload, keep):
        last_row_at_save.append((iteration, iterations(tmp_path / "metrics.jsonl")[-1:]))
        return save(run_dir, iteration, payload, keep=keep)

    monkeypatch.setattr(trainer, "save_checkpoint", save_and_look)
    train(tiny_config(tmp_path, total_iters=10, milestones=[5], ckpt_every=5))
    assert last_row_at_save == [(5, [5]), (10, [10])]  # a kill right after a save loses no row


def test_only_a_checkpoints_metrics_row_waits_for_the_disk(tmp_path, monkeypatch):
    """fsync on every row cost a lesson-sized GPU run (a row every 3 steps) 30 s of a 2-minute budget;
    a row survives a killed process without it. The row a checkpoint belongs to is made durable first."""
    events = []
    fsync, save = os.fsync, trainer.save_checkpoint

    def record_fsync(fd):
        events.append(("fsync", Path(os.readlink(f"/proc/self/fd/{fd}")).name))
        return fsync(fd)

    def save_and_record(run_dir, iteration, payload, keep):
        events.append(("save", iteration))
        return save(run_dir, iteration, payload, keep=keep)

    monkeypatch.setattr("resattn_min.atomic.os.fsync", record_fsync)
    monkeypatch.setattr(trainer, "save_checkpoint", save_and_record)
    train(tiny_config(tmp_path, total_iters=10, milestones=[5], ckpt_every=5, log_every=1))
    rows = [i for i, event in enumerate(events) if event == ("fsync", "metrics.jsonl")]
    saves = [i for i, event in enumerate(events) if event[0] == "save"]
    assert len(rows) == len(saves) == 2  # 10 rows written, 2 of them waited for
    assert all(r < s for r, s in zip(rows, saves, strict=True))  # each before its checkpoint


def test_a_crash_while_the_metrics_are_rewritten_leaves_them_whole(tmp_path, monkeypatch):
    log = MetricsLog(tmp_path)
    for it in (5, 10):
        log.append({"iteration": it, "train_loss": 1.0})
    before = run_files(tmp_path)

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(csv.DictWriter, "writerows", killed)
    with pytest.raises(KeyboardInterrupt):
        MetricsLog(tmp_path, resume_iteration=5)  # a resumed run rewrites both files
    assert run_files(tmp_path) == before


def test_a_metrics_line_cut_short_by_a_kill_is_dropped_on_resume(tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = str(write_config(tmp_path / "c.yaml", run_dir, total_iters=10, milestones=[5], ckpt_every=5))
    assert main(["train", "--config", config]) == 0
    # as if killed while writing the row of iteration 10, before its checkpoint and results
    (run_dir / "checkpoint-00000010.pt").unlink()
    (run_dir / "results.json").unlink()
    jsonl = run_dir / "metrics.jsonl"
    lines = jsonl.read_text().splitlines()
    jsonl.write_text(lines[0] + "\n" + lines[1][:25])
    assert main(["train", "--config", config, "--resume", "auto"]) == 0
    assert f"note: dropped the last line of {jsonl}, cut short" in capsys.readouterr().out
    assert iterations(jsonl) == [5, 10]


def test_a_damaged_metrics_line_before_the_last_is_named(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"iteration": 5}\n{"itera\n{"iteration": 10}\n')
    with pytest.raises(ValueError, match=r"metrics\.jsonl, line 2, is not a metrics row"):
        MetricsLog(tmp_path, resume_iteration=10)


def test_temporary_files_of_killed_writes_are_removed_at_the_next_start(tmp_path, capsys):
    stale = [tmp_path / ".checkpoint-k3j2.tmp", tmp_path / ".checkpoint-00000005.pt.a1b2c3.tmp"]
    for path in stale:
        path.write_bytes(bytes(2**20))
    train(tiny_config(tmp_path, total_iters=4, milestones=[2]))
    assert not any(path.exists() for path in stale)
    assert "removed temporary files (2.0 MiB) that an interrupted run left" in capsys.readouterr().out


def test_a_diverged_update_is_never_saved_or_named_as_good(tmp_path):
    # lr 1e6: at some step the loss is still finite while the update already made the weights NaN
    cfg = tiny_config(tmp_path, lr=1e6, total_iters=10, milestones=[8], ckpt_every=1, log_every=1,
                      keep_checkpoints=0)
    with pytest.raises(TrainingDiverged) as diverged:
        train(cfg)
    kept = list_checkpoints(tmp_path)
    assert f"the last good checkpoint is {kept[-1]}." in str(diverged.value)
    for path in kept:
        state = load_checkpoint(path)
        momentum = [s["momentum_buffer"] for s in state["optimizer"]["state"].values()]
        tensors = [t for t in [*state["model"].values(), *momentum] if t.is_floating_point()]
        assert all(torch.isfinite(t).all() for t in tensors), path.name


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_where_the_run_stopped_and_exits_130(tmp_path):
    run_dir = tmp_path / "run"
    config = str(write_config(tmp_path / "c.yaml", run_dir, total_iters=20, milestones=[10, 15]))
    slow = {**ENV, "RESATTN_TEST_STEP_DELAY": "0.25"}
    proc = subprocess.Popen([sys.executable, str(CHILD), "train", "--config", config], env=slow,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    jsonl, deadline = run_dir / "metrics.jsonl", time.monotonic() + 90
    while not (jsonl.exists() and jsonl.stat().st_size):  # the first row: iteration 5
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before Ctrl-C"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    stopped = re.fullmatch(r"interrupted: stopped by SIGINT after iteration (\d+) of 20; saved in (\S+): "
                           r"continue with --resume auto", err.strip().splitlines()[-1])
    assert stopped, err
    at = int(stopped.group(1))
    assert 5 <= at < 20 and load_checkpoint(stopped.group(2))["iteration"] == at  # the only one before 20
    assert iterations(jsonl)[-1] == at  # its row too, over the steps since the last one
    resumed = run_child(["train", "--config", config, "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "results.json").read_text())["resumed_from"] == at


@pytest.mark.slow
def test_a_full_disk_ends_the_run_in_one_line_and_leaves_no_half_file(tmp_path):
    run_dir = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", run_dir, total_iters=10, milestones=[5], ckpt_every=5)

    def small_files() -> None:  # in the child: writing past 50 kB fails as a full disk would
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    done = run_child(["train", "--config", str(config)], preexec_fn=small_files)
    assert done.returncode == 2
    checkpoint = run_dir / "checkpoint-00000005.pt"
    assert done.stderr.strip().splitlines() == [f"error: {checkpoint}: File too large"]
    assert not list(run_dir.glob(".*.tmp")) and not list_checkpoints(run_dir)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's read-only /sys")
def test_a_run_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", Path("/sys/kernel"))  # not writable, even for root
    assert main(["train", "--config", str(config)]) == 2
    assert "cannot write in the run folder /sys/kernel" in error_of(capsys, one_line=True)
