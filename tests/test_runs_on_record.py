"""The runs on record in ``results/``: every number the results chapters quote comes from complete files."""

from __future__ import annotations

import pytest
import torch

from resattn_min.analysis.runs_on_record import (
    GROUPS,
    RESULTS,
    learning_curve,
    load_runs,
    load_trained,
    runs_table,
    shared_recipe,
    single_crop_errors,
)
from resattn_min.cli import main
from resattn_min.env import DATA_ROOT

RECORD = ("command", "device", "date", "git_commit", "torch", "test_error", "iterations", "schedule_scale",
          "wall_time_s", "train_images_per_s", "config")


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_run_records_what_made_it(group):
    runs = load_runs(group)
    assert runs, f"no runs in results/{group}"
    for name, r in runs.items():
        missing = [k for k in RECORD if r.get(k) in (None, "")]
        assert not missing, f"{group}/{name} lacks {missing}"
        assert 0 < r["test_error"] < 1 and not r["quick"]
        assert r["device_type"] == "cuda" and "-dirty" not in r["git_commit"]
        curve = learning_curve(group, name)
        assert curve["iteration"].iloc[-1] == r["iterations"]  # the curve reaches the end of the run
        assert curve["test_error"].dropna().iloc[-1] == pytest.approx(r["test_error"])  # final = reported


def test_tables_put_the_papers_numbers_beside_ours_on_cifar_only(capsys):
    cifar = runs_table("cifar10_jpeg")
    assert cifar.loc["attention92", "paper (%)"] == 4.99 and cifar.loc["resnet164", "paper (%)"] == 5.46
    assert runs_table("imagenette")["paper (%)"].isna().all()  # 10 classes at 160 px: no paper number
    noise = runs_table("cifar10_jpeg_noise")
    assert sorted(set(noise["clean ratio r"])) == [0.3, 0.5, 0.7, 0.9]
    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    assert all(label in out for label in GROUPS.values())


@pytest.mark.parametrize("group", ["imagenette", "imagenette_pipeline"])
def test_imagenette_runs_were_also_tested_at_a_larger_crop(group):
    for name in load_runs(group):
        assert set(single_crop_errors(group, name)) == {160, 224}


def test_two_gpus_train_the_same_network_to_the_same_error():
    runs = load_runs("imagenette_pipeline")
    one, two = runs["attention56_gpu_loader"], runs["attention56_gpu_loader_2gpus"]
    assert (one["world_size"], two["world_size"]) == (1, 2) and two["batch_size"] == one["batch_size"] == 64
    assert one["config"]["loader"] == two["config"]["loader"] == "gpu" and two["cuda_graph"]
    p, n = one["test_error"], one["test_images"]
    standard_error = (2 * p * (1 - p) / n) ** 0.5  # of the difference of two errors on the same 3,925 images
    assert abs(one["test_error"] - two["test_error"]) < 2 * standard_error


def test_the_gpu_waited_where_the_workers_supplied_less_than_the_step_uses():
    from resattn_min.analysis.runs_on_record import bench_rows

    supply, env = bench_rows("imagenette_data_160")
    steps, step_env = bench_rows("imagenette_160_b64")
    assert env["device"] == step_env["device"]
    workers16 = next(r["images_per_s"] for r in supply if r["workers"] == 16)
    resnet18 = next(r["images_per_s"] for r in steps
                    if r["model"] == "resnet18" and r["variant"].startswith("graph"))
    assert workers16 < resnet18  # 16 workers cannot feed ResNet-18's step ...
    runs = load_runs("imagenette_pipeline")
    fed, starved = runs["resnet18_gpu_loader"], runs["resnet18_16_workers"]
    assert starved["train_images_per_s"] < 1.1 * workers16  # ... so that run went at the workers' pace
    assert fed["wall_time_s"] < 0.6 * starved["wall_time_s"]  # and the GPU loader's run took half the time


def test_unknown_checkpoint_lists_the_trained_networks():
    with pytest.raises(FileNotFoundError, match="cifar10_jpeg_attention92"):
        load_trained("attention93")


@pytest.mark.skipif(not (DATA_ROOT / "cifar10-jpeg" / "test").is_dir(), reason="CIFAR-10 JPEG copy not here")
def test_shipped_attention56_checkpoint_reproduces_its_recorded_error():
    """The fp16 weights, on 500 test images of the copy they were trained on, give the recorded error."""
    from resattn_min.data import load_image_tensors, pixel_mean

    train = load_image_tensors(DATA_ROOT / "cifar10-jpeg", "train")
    test = load_image_tensors(DATA_ROOT / "cifar10-jpeg", "test")
    pick = torch.randperm(len(test.labels), generator=torch.Generator().manual_seed(0))[:500]
    images = test.images[pick].float() / 255 - pixel_mean(train.images)
    model = load_trained("cifar10_jpeg_attention56_arl")
    with torch.no_grad():
        wrong = (model(images).argmax(1) != test.labels[pick]).float().mean().item()
    recorded = load_runs("cifar10_jpeg")["attention56_arl"]["test_error"]
    assert wrong == pytest.approx(recorded, abs=0.05)  # 500 images: a standard error of about 1.6 points
    assert (RESULTS / "checkpoints" / "cifar10_jpeg_attention56_arl.fp16.pt").stat().st_size < 4 * 2**20


def test_a_group_shares_one_recipe_and_a_different_run_is_refused():
    runs = load_runs("cifar10_jpeg")
    setting = shared_recipe(runs, train_images=50_000)
    assert setting["paper's iterations"] == 160_000 and setting["epochs"] == pytest.approx(20.5, abs=0.05)
    longer = {**runs, "other": {**runs["attention92"], "schedule_scale": 1.0}}
    with pytest.raises(ValueError, match="schedule_scale"):
        shared_recipe(longer, train_images=50_000)
