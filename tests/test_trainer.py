"""The trainer: it learns, it is reproducible, it records what it did, and it stops cleanly on NaN."""

import csv
import json

import pytest
import torch
from _train_helpers import one_thread, tiny_config, tiny_image_folder  # noqa: F401  (one_thread: autouse)

from resattn_min.data import make_cifar_streams
from resattn_min.train.build import build_model
from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint
from resattn_min.train.cuda_graph import CudaGraphStep, CudaGraphUnavailable
from resattn_min.train.loop import TrainingDiverged, train

pytestmark = pytest.mark.slow  # every test trains


def test_quick_mode_run_learns_and_reports_final_iteration_error(tmp_path):
    # quick mode with the paper's CIFAR recipe: its schedule shrunk to about 40 iterations
    cfg = tiny_config(tmp_path, schedule="cifar", lr=None, milestones=None, total_iters=None, batch_size=16)
    result = train(cfg)
    rows = result.metrics
    assert result.results["schedule"]["total"] == 40 and result.results["schedule"]["milestones"] == [16, 24]
    assert result.results["quick"] and result.results["schedule_scale"] == pytest.approx(40 / 160_000)
    assert rows[-1]["train_loss"] < 0.8 * rows[0]["train_loss"]
    assert result.test_error < 0.6  # chance is 0.9 on ten classes
    assert rows[-1]["test_error"] == result.test_error == result.results["test_error"]
    assert "final-iteration" in result.results["evaluation"]


def test_run_files_hold_the_metrics_and_the_results(tmp_path):
    result = train(tiny_config(tmp_path, total_iters=10, milestones=[5], eval_every=5))
    with open(tmp_path / "metrics.csv") as f:
        csv_rows = list(csv.DictReader(f))
    jsonl_rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [int(r["iteration"]) for r in csv_rows] == [r["iteration"] for r in jsonl_rows] == [5, 10]
    assert jsonl_rows == result.metrics
    assert [r["test_error"] is not None for r in jsonl_rows] == [True, True]
    saved = json.loads((tmp_path / "results.json").read_text())
    for key in ("config", "test_error", "test_accuracy", "data_source", "device", "torch", "wall_time_s",
                "train_images_per_s", "peak_memory_bytes", "git_commit", "date", "command", "quick",
                "schedule_scale"):
        assert key in saved, key
    assert saved["data_source"] == "synthetic" and saved["config"]["model"] == "tiny_attention_test"
    assert saved["amp"] == "off" and not saved["cuda_graph"]  # fp32 eager on a CPU


def test_deterministic_runs_are_bitwise_equal(tmp_path):
    a = train(tiny_config(tmp_path / "a", total_iters=8, milestones=[4])).model.state_dict()
    b = train(tiny_config(tmp_path / "b", total_iters=8, milestones=[4])).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class PoisonAfter:
    """A training stream whose batches turn to NaN from step ``n`` on."""

    def __init__(self, stream, n: int) -> None:
        self.stream, self.n, self.seen = stream, n, 0

    def __next__(self):
        images, labels = next(self.stream)
        self.seen += 1
        return (images * float("nan") if self.seen > self.n else images), labels

    def state_dict(self):
        return self.stream.state_dict()


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    data = make_cifar_streams("synthetic", 16, quick=True)
    data.train = PoisonAfter(data.train, 12)
    cfg = tiny_config(tmp_path, total_iters=30, milestones=[20], ckpt_every=5)
    with pytest.raises(TrainingDiverged, match=r"loss became nan between iterations 11 and 15.*"
                                               r"last good checkpoint is .*checkpoint-00000010\.pt"):
        train(cfg, data=data)
    kept = list_checkpoints(tmp_path)
    assert [p.name for p in kept] == ["checkpoint-00000005.pt", "checkpoint-00000010.pt"]
    weights = load_checkpoint(kept[-1])["model"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert not (tmp_path / "results.json").exists()


def test_fast_path_needs_a_gpu_and_the_trainer_falls_back(tmp_path, capsys):
    model = build_model(tiny_config(tmp_path), 10)
    with pytest.raises(CudaGraphUnavailable, match="needs a GPU"):
        CudaGraphStep(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    result = train(tiny_config(tmp_path, total_iters=4, milestones=[2], cuda_graph=True))
    assert "CUDA-graph step needs a GPU" in capsys.readouterr().out and not result.results["cuda_graph"]


def test_an_image_folder_trains_through_the_imagenet_pipeline(tmp_path):
    root = tiny_image_folder(tmp_path / "tiny-imagenet")
    cfg = tiny_config(tmp_path / "run", dataset=str(root), image_size=32, eval_resize=36, workers=0,
                      batch_size=4, total_iters=6, milestones=[4])
    assert cfg.pipeline == "imagenet"
    result = train(cfg)
    assert result.results["data_source"] == "tiny-imagenet" and result.results["num_classes"] == 2
    assert result.results["test_images"] == 6  # the whole val split, one centre crop each
    assert [r["iteration"] for r in result.metrics] == [5, 6]


def test_the_gpu_loader_trains_and_resumes_where_it_stopped(tmp_path):
    root = tiny_image_folder(tmp_path / "tiny-imagenet")
    common = dict(dataset=str(root), data_root=str(tmp_path / "data"), loader="gpu", image_size=32,
                  eval_resize=36, batch_size=4, total_iters=6, milestones=[4], log_every=2, ckpt_every=3,
                  keep_checkpoints=0)
    whole = train(tiny_config(tmp_path / "whole", **common))
    assert whole.results["test_images"] == 6 and whole.results["config"]["loader"] == "gpu"
    assert any((tmp_path / "data" / "cache").glob("tiny-imagenet-*-train.pt"))  # decoded once, cached
    middle = list_checkpoints(tmp_path / "whole")[0]  # as if the run had been killed after iteration 3
    resumed = train(tiny_config(tmp_path / "again", resume=str(middle), **common))
    assert resumed.results["resumed_from"] == 3
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
