"""More mistakes that end in one clear ``error:`` line (exit code 2) instead of a traceback, a hang or a
silently wrong result: a resume that does not fit the run, bad flags, a failed experiment."""

import pickle
import sys

import pytest
import torch
from _train_helpers import CHILD, ENV, error_of, one_thread, tiny_image_folder, write_config  # noqa: F401

from resattn_min.cli import main
from resattn_min.experiments.reproduce import reproduce
from resattn_min.train.checkpoint import CheckpointError, load_checkpoint

#: The tiny test network in place of an experiment's model (flags given last win).
TINY = ["--model", "tiny_attention_test", "--schedule", "none", "--lr", "0.1", "--milestones", "20,30",
        "--total-iters", "40", "--batch-size", "16", "--quick", "--device", "cpu"]


@pytest.mark.parametrize("flags, message", [
    (["--combination", "nal"], "was trained with combination=None (this run: 'nal')"),
    (["--activation", "spatial"], "was trained with activation=None (this run: 'spatial')"),
    (["--total-iters", "8", "--milestones", "4"], "is at iteration 10, past the end of this run's schedule"),
])
def test_resume_refuses_a_checkpoint_of_other_options_or_past_the_end(capsys, trained, flags, message):
    run_dir, _ = trained
    before = (run_dir / "metrics.jsonl").read_bytes()
    assert main(["train", "--resume", str(run_dir / "checkpoint-00000010.pt"), *flags]) == 2
    assert message in error_of(capsys, one_line=True)
    assert (run_dir / "metrics.jsonl").read_bytes() == before


def test_resume_refuses_a_checkpoint_without_optimizer_state(tmp_path, capsys, trained):
    state = load_checkpoint(trained[0] / "checkpoint-00000005.pt")
    del state["optimizer"], state["path"]
    (tmp_path / "run").mkdir()
    torch.save(state, tmp_path / "run" / "checkpoint-00000005.pt")
    assert main(["train", "--resume", "auto", "--run-dir", str(tmp_path / "run"), "--model",
                 "tiny_attention_test", "--dataset", "synthetic", "--quick"]) == 2
    assert "holds no optimizer state" in error_of(capsys, one_line=True)


def test_a_class_count_mismatch_is_blamed_on_the_classes(tmp_path, capsys, trained):
    folder = tiny_image_folder(tmp_path / "two-classes")
    checkpoint = trained[0] / "checkpoint-00000010.pt"
    assert main(["evaluate", str(checkpoint), "--dataset", str(folder), "--workers", "0"]) == 2
    assert "classifies 10 classes, the data has 2" in error_of(capsys, one_line=True)


def test_torch_load_advice_and_colour_codes_stay_out_of_messages(tmp_path):
    pickled = tmp_path / "pickled.pt"
    torch.save({"config": pickle.loads(pickle.dumps(CheckpointError("x")))}, pickled)  # a pickled object
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 40)
    for path, finding in ((pickled, "Unsupported global"), (garbage, "Unsupported operand")):
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(path)
        message = str(refused.value)
        assert finding in message and "weights_only" not in message and "\x1b" not in message, message
        assert len(message.splitlines()) == 1


def test_evaluate_refuses_a_batch_size_below_one(capsys, trained):
    assert main(["evaluate", str(trained[0] / "checkpoint-00000010.pt"), "--batch-size", "-2"]) == 2
    assert "the batch size must be at least 1, got -2" in error_of(capsys, one_line=True)


@pytest.mark.parametrize("flags, message", [
    (["--device", "gpu9"], "unknown device 'gpu9'; use auto, cpu, cuda or cuda:N"),
    (["--on-bad-image", "ignore"], "on_bad_image must be one of ('error', 'skip'), got 'ignore'"),
])
def test_bad_train_flags_are_one_line(tmp_path, capsys, flags, message):
    config = write_config(tmp_path / "c.yaml", tmp_path / "run")
    assert main(["train", "--config", str(config), *flags]) == 2
    assert message in error_of(capsys, one_line=True)


def test_a_yaml_syntax_error_names_the_file_and_the_place(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: attention56_cifar\nmilestones: [20, 30\nlr: 0.1\n")
    assert main(["train", "--config", str(bad)]) == 2
    err = error_of(capsys, one_line=True)
    assert f"{bad} is not valid YAML: " in err and "(line 3, column 3)" in err


@pytest.mark.parametrize("flags, message", [
    (["bench", "--batch", "-1"], "--batch-size, --image-size and --steps must be at least 1"),
    (["bench", "--out", "{tmp}"], "--out {tmp} is a folder; give a file name"),
    (["bench-data", "--dataset", "{tmp}", "--workers", "a,b"], "--workers takes comma-separated numbers"),
    (["bench-data", "--dataset", "{tmp}", "--out", "{tmp}"], "--out {tmp} is a folder"),
])
def test_bench_flags_are_checked_before_any_work(tmp_path, capsys, flags, message):
    assert main([f.format(tmp=tmp_path) for f in flags]) == 2
    assert message.format(tmp=tmp_path) in error_of(capsys, one_line=True)
    assert capsys.readouterr().out == ""  # nothing was timed


def test_reproduce_with_no_process_at_a_time_is_refused(tmp_path, capsys):
    assert main(["reproduce", "attention56_arl", "--parallel", "0", "--dataset", "synthetic", "--run-dir",
                 str(tmp_path), "--deadline", "5"]) == 2
    assert "--parallel must be at least 1, got 0" in error_of(capsys, one_line=True)


@pytest.mark.slow
def test_a_failed_experiment_says_why_and_where_its_log_is(tmp_path, monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    status = reproduce(["attention56_nal"], "synthetic", None, tmp_path, extra=[*TINY, "--lr", "-1"],
                       launcher=(sys.executable, str(CHILD)), poll_s=0.2)
    log = tmp_path / "attention56_nal" / "log.txt"
    reason = "error: lr and gamma must be positive, got lr=-1.0, gamma=0.1"
    assert status == {"attention56_nal": f"failed (exit 2): {reason} (log: {log})"}
