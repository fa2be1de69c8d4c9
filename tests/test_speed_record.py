"""Issue 12's record (analysis/speed_record): speed-ups, time per kernel and the budget a target sets."""

import pytest
import torch

from resattn_min import create_model
from resattn_min.analysis.speed_record import (
    campaign_mix,
    kernel_budget,
    kernel_overlap,
    last_segments,
    steady_rates,
    step_numbers,
    step_table,
    structure_kernels,
)


def _row(variant, ms, kernels=None, model="attention92_cifar", gpu_ms=None):
    return {"model": model, "variant": variant, "ms_per_step": ms, "images_per_s": 64_000 / ms,
            "kernels": {"kernels_per_step": kernels, "kernel_ms_per_step": gpu_ms} if kernels else None}


def test_the_step_table_says_each_paths_speed_up_and_time_per_kernel():
    rows = [_row("eager fp32", 40.0), _row("graph bf16+CL", 10.0, 2500), _row("graph+compile", 8.0, 2000),
            _row("graph bf16+CL", 5.0, 100, model="resnet164_cifar")]
    table = step_table(rows, "attention92_cifar")
    assert list(table.index) == ["eager fp32", "graph bf16+CL", "graph+compile"]
    assert list(table["x first row"]) == [1.0, 4.0, 5.0]
    assert table.loc["graph+compile", "us/kernel"] == pytest.approx(4.0)  # 8 ms over 2,000 kernels
    assert table["us/kernel"].isna().iloc[0]  # not profiled: no kernel count, no time per kernel
    with pytest.raises(KeyError):
        step_table(rows, "attention56_cifar")


def test_a_target_rate_asks_for_cheaper_kernels_or_fewer():
    need = kernel_budget(ms_per_step=10.0, kernels=2500, target_images_per_s=12_800, batch=64)
    assert need["target_ms"] == pytest.approx(5.0)  # 64 images in 5 ms
    assert need["us_per_kernel"] == pytest.approx(4.0)
    assert need["us_per_kernel_needed"] == pytest.approx(2.0)  # the same 2,500 kernels in 5 ms
    assert need["kernels_allowed"] == 1250  # or half the kernels at 4 us each


def test_steady_rates_leave_out_the_compiling_rows_and_other_segments(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.csv").write_text(
        "iteration,images_per_s\n400,100\n2400,900\n4000,1000\n6000,1100\n7600,300\n10400,2000\n")
    ledger = {"runs": {"a": {"segments": [{"start": 0, "end": 6000}, {"start": 6000, "end": 10400}]},
                       "b": {"segments": []}}}
    assert last_segments(ledger) == {"a": (6000, 10400)}
    assert steady_rates(tmp_path, {"a": (0, 6000)}) == {"a": 1000.0}  # median of 900, 1000, 1100
    assert steady_rates(tmp_path, last_segments(ledger)) == {"a": 2000.0}  # 7,600 is still compiling


def test_the_step_table_says_how_much_of_each_step_the_gpu_computes():
    rows = [_row("eager fp32", 40.0, 2400, gpu_ms=10.0), _row("graph+compile", 8.0, 2000, gpu_ms=7.0)]
    table = step_table(rows, "attention92_cifar")
    assert list(table["GPU busy"]) == [0.25, 0.875]  # eager: the GPU waits for launches 3/4 of the step
    numbers = step_numbers(table, 16_000, {"kernels": 900, "convolutions": 100, "batchnorms": 150})
    assert numbers["speedup"] == 5.0 and numbers["gaps_ms"] == pytest.approx(1.0)
    assert numbers["target_ms"] == pytest.approx(4.0)  # 64 images at 16,000 a second
    assert numbers["target_speedup"] == pytest.approx(10.0)  # 40 ms eager against 4 ms
    assert numbers["us_per_kernel"] == pytest.approx(4.0) and numbers["kernels_allowed"] == 1000
    assert numbers["structure_kernels"] == 900 and numbers["eager_busy"] == 0.25
    assert numbers["kernels_left"] == 100  # allowed beyond what the layers need
    assert numbers["kernels_beyond"] == 1100  # the step's own beyond them
    assert numbers["fused"] == 400  # kernels the last path has fewer than the one before it


def test_the_kernels_a_structure_needs_are_three_per_convolution_and_four_per_batchnorm():
    small = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                torch.nn.Conv2d(4, 4, 1), torch.nn.BatchNorm2d(4))
    assert structure_kernels(small) == {"convolutions": 2, "batchnorms": 2, "kernels": 14}
    with torch.device("meta"):  # the CIFAR Attention-92: 196 convolutions, 193 BatchNorms (36m+20)
        assert structure_kernels(create_model("attention92_cifar"))["kernels"] == 3 * 196 + 4 * 193


def test_kernel_overlap_is_one_when_runs_take_turns_and_more_when_their_kernels_overlap():
    # two runs whose kernels take 8 ms a step of 64 alone: taking turns, 4,000 images/s together
    assert kernel_overlap({"a": 4000, "b": 4000}, {"a": 8.0, "b": 8.0}) == pytest.approx(1.0)
    assert kernel_overlap({"a": 6000, "b": 6000}, {"a": 8.0, "b": 8.0}) == pytest.approx(1.5)


def test_the_campaign_mix_adds_its_runs_rates_and_weighs_their_kernels(tmp_path):
    for run, rate in (("a", 2000), ("b", 4000)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "metrics.csv").write_text(f"iteration,images_per_s\n400,10\n4000,{rate}\n")
    this = {"start": 0, "end": 4000, "git_commit": "aaaa1"}
    later = {"start": 4000, "end": 8000, "git_commit": "bbbb"}  # a later segment: not this one
    ledger = {"runs": {"a": {"model": "net_a", "segments": [this, later]},
                       "b": {"model": "net_b", "segments": [this]},
                       "c": {"model": "net_b", "segments": [later]}}}
    steps = {"net_a": step_table([_row("graph+compile", 8.0, 100, "net_a", gpu_ms=6.4)], "net_a"),
             "net_b": step_table([_row("graph+compile", 4.0, 100, "net_b", gpu_ms=3.2)], "net_b")}
    mix = campaign_mix(steps, ledger, tmp_path, commit="aaaa")
    assert mix["mix_runs"] == 2 and mix["mix_rate"] == 6000
    assert mix["mix_models"] == {"net_a": 1, "net_b": 1}
    with pytest.raises(KeyError):
        campaign_mix(steps, ledger, tmp_path, commit="cccc")
    assert mix["overlap"] == pytest.approx(2000 / 64 * 0.0064 + 4000 / 64 * 0.0032)  # 0.4 s of kernels a s
