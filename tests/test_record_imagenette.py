"""What chapters 9 and 12 compute from the Imagenette runs and the bench files.

(``imagenette_record`` and ``pipeline_record``.)
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from resattn_min.analysis.imagenette_record import (
    achieved_tflops,
    at_crop,
    floor_numbers,
    step_floor_table,
    step_times,
    table7_numbers,
)
from resattn_min.analysis.pipeline_record import (
    G1,
    G2,
    pipeline_table,
    supply_and_demand,
    torchrun_command,
    two_gpu_numbers,
    workers_to_keep_up,
)
from resattn_min.analysis.runs_on_record import bench_rows, learning_curve, load_runs, single_crop_errors

ROWS = [{"model": m, "variant": v, "ms_per_step": ms, "images_per_s": 64e3 / ms}
        for m, v, ms in (("a", "eager", 100.0), ("a", "fast", 20.0),
                         ("b", "eager", 50.0), ("b", "fast", 40.0))]


def test_step_times_keep_the_variants_in_the_order_timed():
    table = step_times(ROWS)
    assert list(table.columns) == ["eager", "fast"] and table.loc["a", "fast"] == 20.0
    assert step_times(ROWS, "images_per_s").loc["b", "eager"] == pytest.approx(1280.0)


def test_achieved_tflops_are_three_forward_passes_per_step():
    tflops = achieved_tflops(step_times(ROWS), {"a": 1.0, "b": 2.0}, batch=64)
    # 1 G multiply-adds = 2 GFLOP per image, three passes, 64 images in 0.1 s
    assert tflops.loc["a", "eager"] == pytest.approx(3 * 2 * 1e9 * 64 / 0.1 / 1e12)
    assert tflops.loc["a", "fast"] == pytest.approx(5 * tflops.loc["a", "eager"])


def test_table7_numbers_are_ratios_of_ours_and_of_the_papers():
    table = pd.DataFrame({"our params (M)": [60.0, 30.0, None, 50.0],
                          "paper params (M)": [60.2, 31.9, 64.7, 51.3],
                          "our mult-adds (G)": [11.0, 6.0, None, 10.0],
                          "paper mult-adds (G)": [11.3, 6.3, 15.0, 10.4],
                          "paper top-1 error (%)": [22.16, 21.76, 20.1, 19.5]},
                         index=["resnet152", "attention56", "resnet200", "attention92"])
    numbers = table7_numbers(table)
    assert numbers["params_ratio"] == pytest.approx(50.0) and numbers["macs_ratio"] == pytest.approx(600 / 11)
    assert numbers["r200_vs_ours"] == pytest.approx(100 * (64.7 / 50 - 1))
    assert numbers["paper_err_gap"] == pytest.approx(0.40)


def test_at_crop_compares_the_runs_at_the_evaluated_crop():
    runs = load_runs("imagenette")
    crop = at_crop(runs, "imagenette", 224)
    for name, run in crop.items():
        assert run["test_error"] == pytest.approx(single_crop_errors("imagenette", name)[224] / 100)
        assert run["test_images"] == runs[name]["test_images"]
    with pytest.raises(FileNotFoundError, match="not evaluated at 999"):
        at_crop(runs, "imagenette", 999)


def test_the_step_consumes_at_the_rate_of_the_fast_step_and_workers_are_rounded_up():
    supply_rows, _ = bench_rows("imagenette_data_160")
    step_rows, _ = bench_rows("imagenette_160_b64")
    by_workers, gpu_stream, consumes = supply_and_demand(supply_rows, step_rows)
    fast = step_rows[-1]["variant"]
    assert consumes["attention56"] == next(r["images_per_s"] for r in step_rows
                                           if r["model"] == "attention56" and r["variant"] == fast)
    assert gpu_stream.workers == 0 and (by_workers.index > 0).all()
    need = workers_to_keep_up(consumes, 100.0)["workers to keep up"]
    assert all(need[m] == math.ceil(consumes[m] / 100.0) for m in consumes.index)


def test_pipeline_table_and_the_two_gpu_numbers_read_the_runs():
    supply, steps = bench_rows("imagenette_data_160")[0], bench_rows("imagenette_160_b64")[0]
    _, _, consumes = supply_and_demand(supply, steps)
    table = pipeline_table(consumes)
    curves = {name: learning_curve("imagenette_pipeline", name) for name in (G1, G2)}
    assert table.loc[G1, "steady img/s"] == curves[G1].images_per_s.median()
    two = load_runs("imagenette_pipeline")[G2]
    numbers = two_gpu_numbers(table, curves, two, batch=64)
    assert numbers["pipe_gpus"] == 2 and numbers["per_gpu"] == 32
    steady = table["steady img/s"]
    assert numbers["ratio_steady"] == pytest.approx(steady[G2] / steady[G1])


def test_the_torchrun_command_is_the_recorded_one_wrapped_to_the_page():
    two = load_runs("imagenette_pipeline")[G2]
    command = torchrun_command(two, width=88)
    assert all(len(line) <= 88 for line in command.splitlines())
    start = f"torchrun --standalone --nproc_per_node {two['world_size']} -m resattn_min train"
    assert command.startswith(start)
    flags = [arg for arg in two["command"].split(" train ", 1)[1].split() if arg.startswith("--")]
    assert all(flag in command for flag in flags)


def test_the_fast_steps_are_set_beside_their_floors():
    from resattn_min import create_model
    from resattn_min.train.step_limits import PEAKS, step_floors, step_work

    step_ms = pd.DataFrame({"eager": {"attention56_cifar": 40.0, "resnet164_cifar": 45.0},
                            "graph": {"attention56_cifar": 10.0, "resnet164_cifar": 12.0}})
    floors = step_floor_table(step_ms, create_model, "NVIDIA H200", batch=64, image_size=32)
    expected = step_floors(step_work(create_model("resnet164_cifar"), 64, 32), PEAKS["NVIDIA H200"])
    row = floors.loc["resnet164_cifar"]
    assert row["fast step (ms)"] == 12.0  # the last variant timed is the fast one
    assert row["memory floor (ms)"] == pytest.approx(expected["memory_ms"])
    assert row["x memory floor"] == pytest.approx(12.0 / expected["memory_ms"])
    assert row["x compute floor"] == pytest.approx(12.0 / expected["compute_ms"])
    renamed = floors.rename(index={"attention56_cifar": "attention56", "resnet164_cifar": "resnet152"})
    numbers = floor_numbers(renamed, {"attention56": 1.0, "resnet152": 2.0})
    assert numbers["macs_share56"] == 0.5
    share = floors["GB moved"].iloc[0] / floors["GB moved"].iloc[1]
    assert numbers["bytes_share56"] == pytest.approx(share) and 0 < share < 1
    assert numbers["x_memory_low"] <= numbers["x_memory_high"]
