"""Issue 12's record (analysis/speed_record): speed-ups, time per kernel and the budget a target sets."""

import pytest

from resattn_min.analysis.speed_record import kernel_budget, last_segments, steady_rates, step_table


def _row(variant, ms, kernels=None, model="attention92_cifar"):
    return {"model": model, "variant": variant, "ms_per_step": ms, "images_per_s": 64_000 / ms,
            "kernels": {"kernels_per_step": kernels} if kernels else None}


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
