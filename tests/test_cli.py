"""The command line: mistakes end in one clear line and exit code 2, and no earlier checkpoint is lost."""

import json
import subprocess
import sys

import pytest
import torch
from _train_helpers import ENV, HERE, error_of, one_thread, write_config  # noqa: F401

from resattn_min.cli import main
from resattn_min.train.checkpoint import list_checkpoints


@pytest.mark.slow
def test_unknown_model_is_one_line_exit_2_before_any_work(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "resattn_min", "train", "--model", "attention93_cifar",
                           "--dataset", "synthetic", "--run-dir", str(run_dir)],
                          cwd=HERE.parent, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown model 'attention93_cifar'. Did you mean attention92_cifar")
    assert len(done.stderr.strip().splitlines()) == 1 and not run_dir.exists()


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "cifar1000"], "unknown dataset 'cifar1000'"),
    (["--milestones", "30,20"], "milestones must be strictly increasing, got [30, 20]"),
    (["--milestones", "20,40"], "milestones must lie between 1 and total - 1"),
    (["--batch-size", "many"], "config key 'batch_size' must be int, got 'many'"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, capsys, flags, message):
    config = write_config(tmp_path / "c.yaml", tmp_path / "run")
    assert main(["train", "--config", str(config), *flags]) == 2
    assert message in error_of(capsys)


def test_missing_dataset_offline_says_where_it_looked(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", tmp_path / "run")
    empty = tmp_path / "empty"
    assert main(["train", "--config", str(config), "--dataset", "cifar10", "--data-root", str(empty)]) == 2
    err = error_of(capsys)
    assert "CIFAR-10" in err and "was not found" in err and "download" in err


def test_missing_config_file_and_unknown_key(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "no config file at" in error_of(capsys)
    (tmp_path / "typo.yaml").write_text("model: attention56_cifar\nlearning_rate: 0.1\n")
    assert main(["train", "--config", str(tmp_path / "typo.yaml")]) == 2
    assert "unknown config key(s) ['learning_rate']" in error_of(capsys)


def test_corrupt_or_foreign_checkpoint_is_refused_and_nothing_is_lost(tmp_path, capsys, trained):
    run_dir, _ = trained
    before = {p.name: p.read_bytes() for p in list_checkpoints(run_dir)}
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 100)
    elsewhere = write_config(tmp_path / "e.yaml", tmp_path / "run")  # run_dir holds a run of its own
    assert main(["train", "--config", str(elsewhere), "--resume", str(bad)]) == 2
    assert "not a readable checkpoint" in error_of(capsys)
    config = write_config(tmp_path / "c.yaml", run_dir)
    assert main(["evaluate", str(bad)]) == 2
    assert "not a readable checkpoint" in error_of(capsys)
    assert main(["train", "--config", str(config), "--model", "tiny_convnet_test",
                 "--resume", str(run_dir / "checkpoint-00000010.pt")]) == 2
    assert "holds a 'tiny_attention_test' model, not 'tiny_convnet_test'" in error_of(capsys)
    assert main(["train", "--config", str(config), "--mask", "local",
                 "--resume", str(run_dir / "checkpoint-00000010.pt")]) == 2
    assert "was trained with mask=None (this run: 'local')" in error_of(capsys)
    assert {p.name: p.read_bytes() for p in list_checkpoints(run_dir)} == before


def test_diverged_run_exits_3(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", tmp_path / "run", lr=1e12, total_iters=10, milestones=[8])
    assert main(["train", "--config", str(config)]) == 3
    assert "training diverged: the loss became nan" in error_of(capsys)


def test_resume_from_a_checkpoint_file_alone_continues_its_run(tmp_path, capsys, trained):
    run_dir, result = trained
    copy = tmp_path / "moved.pt"  # as if carried to another machine
    copy.write_bytes((run_dir / "checkpoint-00000005.pt").read_bytes())
    assert main(["train", "--resume", str(copy), "--run-dir", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again["resumed_from"] == 5 and again["test_error"] == result.test_error


def test_evaluate_reproduces_the_final_iteration_error(capsys, trained):
    run_dir, result = trained
    assert main(["evaluate", str(run_dir / "checkpoint-00000010.pt")]) == 0
    out = capsys.readouterr().out
    assert f"after 10 iterations: test error {100 * result.test_error:.2f}%" in out
    assert "on 500 test images of synthetic" in out


def test_bench_on_cpu_times_the_eager_step_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", "tiny_attention_test", "--batch", "8", "--steps", "2", "--warmup", "1",
                 "--profile", "2", "--out", str(out)]) == 0
    assert "fast path (bf16, channels-last, CUDA graph) needs a GPU" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert [r["variant"] for r in report["rows"]] == ["eager fp32"] and report["rows"][0]["ms_per_step"] > 0
    assert "kernels" not in report["rows"][0]  # kernels are counted on a GPU only
    assert {"device", "torch", "git_commit", "date", "command"} <= set(report)


@pytest.mark.slow
def test_report_prints_the_papers_tables_beside_our_counts(capsys):
    assert main(["report", "--no-macs"]) == 0
    out = capsys.readouterr().out
    assert "Table 6 (CIFAR-10)" in out and "Table 2 (ImageNet architectures)" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("attention92_cifar"))
    assert row[1] == "1.9" and abs(float(row[2]) - 1.9) < 0.1 and row[3] == "4.99"


def test_a_bench_profile_counts_kernels_per_step_and_their_time():
    from types import SimpleNamespace

    from resattn_min.train.bench import kernel_summary

    # what torch.profiler's key_averages() gives over 4 steps: a CPU-side row has no GPU time
    events = [SimpleNamespace(key="bn_collect_statistics", count=720, device_time_total=7200.0),
              SimpleNamespace(key="implicit_gemm", count=1200, device_time_total=4800.0),
              SimpleNamespace(key="cudaGraphLaunch", count=4, device_time_total=0.0)]
    summary = kernel_summary(events, steps=4)
    assert summary["kernels_per_step"] == 480 and summary["kernel_ms_per_step"] == 3.0
    assert summary["us_per_kernel"] == 6.25  # 12,000 us over 1,920 kernels
    assert [k["name"] for k in summary["top_kernels"]] == ["bn_collect_statistics", "implicit_gemm"]
    assert summary["top_kernels"][0] == {"name": "bn_collect_statistics", "calls_per_step": 180.0,
                                         "ms_per_step": 1.8}


@pytest.fixture
def torch_global_settings():
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark = saved[2]


def test_the_bench_builds_its_model_under_the_trainers_global_settings(torch_global_settings):
    # torch.compile's cache key holds them: with other settings the bench compiled a graph of its own
    # (158 s beside the campaign's filled cache on the H200; on the CPU 66 s against 5.6 s)
    from resattn_min.train.bench import _model

    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = False
    _model("tiny_attention_test", 10, torch.device("cpu"), False)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()  # as seed_everything leaves it
    assert torch.backends.cudnn.benchmark
