"""What chapter 9 (ImageNet: Table 7, step times, Imagenette runs) shows, computed and tested here."""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from ..train.step_limits import PEAKS, step_floors, step_work
from .runs_on_record import single_crop_errors

__all__ = ["IMAGENET_TRAIN_IMAGES", "IMAGENETTE_PAIRS", "step_times", "achieved_tflops", "table7_numbers",
           "bench_numbers", "step_floor_table", "floor_numbers", "at_crop", "imagenette_numbers"]

IMAGENET_TRAIN_IMAGES = 1_281_167  # ILSVRC 2012
#: Table 7's comparison and ours on Imagenette, as (a, b) pairs of runs.
IMAGENETTE_PAIRS = {"Attention-56 vs ResNet-152": ("resnet152", "attention56"),
                    "NAL vs ARL (Attention-56)": ("attention56", "attention56_nal"),
                    "Attention-92 vs Attention-56": ("attention56", "attention92"),
                    "ResNet-18 vs Attention-56": ("attention56", "resnet18")}


def step_times(rows: list[dict], column: str = "ms_per_step"):
    """A bench file's rows as a table: one row per model, one column per variant in the order timed."""
    import pandas as pd

    table = pd.DataFrame(rows).pivot(index="model", columns="variant", values=column)
    return table[list(dict.fromkeys(r["variant"] for r in rows))]


def achieved_tflops(step_ms, macs: Mapping[str, float], batch: int):
    """Useful arithmetic per second (TFLOP/s): a training step costs about three forward passes
    (the backward pass about two), of ``2 * macs`` FLOPs per image (``macs`` in G, by model)."""
    models = list(macs)
    return step_ms.loc[models].apply(
        lambda col: 3 * 2 * col.index.map(macs) * 1e9 * batch / (col / 1e3) / 1e12)


def table7_numbers(table7) -> dict[str, float]:
    """Attention-56 against ResNet-152 and Attention-92 against ResNet-200: size ratios (%), ours and
    the paper's, and the paper's error gap."""
    ours, paper = table7["our params (M)"], table7["paper params (M)"]
    macs, paper_macs = table7["our mult-adds (G)"], table7["paper mult-adds (G)"]
    error = table7["paper top-1 error (%)"]
    return {"params_ratio": 100 * ours["attention56"] / ours["resnet152"],
            "macs_ratio": 100 * macs["attention56"] / macs["resnet152"],
            "paper_params_ratio": 100 * paper["attention56"] / paper["resnet152"],
            "paper_macs_ratio": 100 * paper_macs["attention56"] / paper_macs["resnet152"],
            "paper_r200_more": 100 * (paper["resnet200"] / paper["attention92"] - 1),
            "r200_vs_ours": 100 * (paper["resnet200"] / ours["attention92"] - 1),
            "paper_err_gap": error["resnet152"] - error["attention56"]}


def bench_numbers(step_ms, memory, tflops, macs: Mapping[str, float], cifar_ms) -> dict[str, float]:
    """The step benchmark at 224 px (``step_ms``, ``memory`` in MiB and ``tflops`` by model and
    variant, the first variant eager float32, the last the fast step) and the CIFAR Attention-92's
    step (``cifar_ms`` by variant)."""
    eager, fast = step_ms.columns[0], step_ms.columns[-1]
    ms = step_ms.to_dict()
    return {
        "mac_ratio56": macs["attention56"] / macs["resnet152"],
        "time_ratio_eager": ms[eager]["attention56"] / ms[eager]["resnet152"],
        "time_ratio_fast": ms[fast]["attention56"] / ms[fast]["resnet152"],
        "ms56_eager": ms[eager]["attention56"], "ms152_eager": ms[eager]["resnet152"],
        "ms56_fast": ms[fast]["attention56"], "ms152_fast": ms[fast]["resnet152"],
        "ms92_fast": ms[fast]["attention92"], "speedup56": ms[eager]["attention56"] / ms[fast]["attention56"],
        "tflops56_eager": tflops.loc["attention56", eager], "tflops152_eager": tflops.loc["resnet152", eager],
        "mem56": memory.loc["attention56", eager] / 1024, "mem152": memory.loc["resnet152", eager] / 1024,
        "cifar_eager": cifar_ms.iloc[0], "cifar_bf16": cifar_ms.iloc[1], "cifar_fast": cifar_ms.iloc[-1],
        "cifar_speedup": cifar_ms.iloc[0] / cifar_ms.iloc[-1],
    }


def step_floor_table(step_ms, build, device: str, batch: int = 64, image_size: int = 224):
    """The floors under each network's step (``train/step_limits.py``, the datasheet peaks of ``device``)
    beside its fastest measured step (the last variant of ``step_ms``), and how many times each floor
    the step takes. ``build(name)`` makes a network; it is counted on the meta device, in no time."""
    import pandas as pd
    import torch

    rows = {}
    for name in step_ms.index:
        with torch.device("meta"):
            work = step_work(build(name), batch, image_size)
        floors = step_floors(work, PEAKS[device])
        fast = step_ms.loc[name].iloc[-1]
        rows[name] = {"GB moved": (work["activation_bytes"] + work["optimizer_bytes"]) / 1e9,
                      "compute floor (ms)": floors["compute_ms"], "memory floor (ms)": floors["memory_ms"],
                      "fast step (ms)": fast, "x compute floor": fast / floors["compute_ms"],
                      "x memory floor": fast / floors["memory_ms"]}
    return pd.DataFrame(rows).T


def floor_numbers(floors, macs: Mapping[str, float]) -> dict[str, float]:
    """What the prose says of the floors: the range of the steps' multiples of each floor, and
    Attention-56's bytes and multiply-adds as shares of ResNet-152's."""
    return {"x_memory_low": floors["x memory floor"].min(), "x_memory_high": floors["x memory floor"].max(),
            "x_compute_low": floors["x compute floor"].min(),
            "x_compute_high": floors["x compute floor"].max(),
            "bytes_share56": floors.loc["attention56", "GB moved"] / floors.loc["resnet152", "GB moved"],
            "macs_share56": macs["attention56"] / macs["resnet152"]}


def at_crop(runs: Mapping[str, dict], group: str, size: int) -> dict[str, dict]:
    """The runs with ``test_error`` replaced by the error of ``evaluate`` on one centre crop of
    ``size`` pixels (``eval<size>.txt``), for comparisons at that crop."""
    changed = {}
    for name, run in runs.items():
        errors = single_crop_errors(group, name)
        if size not in errors:
            raise FileNotFoundError(f"run {group}/{name} was not evaluated at {size} px")
        changed[name] = {**run, "test_error": errors[size] / 100}
    return changed


def imagenette_numbers(table, runs: Mapping[str, dict], train_images: int, recipe) -> dict[str, object]:
    """The Imagenette runs: errors at 224 px by run, the spread of all but ResNet-152, how the larger
    crop and the two evaluations compare, wall times, and the schedule against the paper's
    (``recipe``: the package's ImageNet preset)."""
    err = table["single crop 224 px (%)"]
    first = next(iter(runs.values()))
    schedule, batch = first["schedule"], first["batch_size"]
    others = err.drop("resnet152")
    return {f"err_{name}": value for name, value in err.items()} | {
        "final152": table.loc["resnet152", "final error, 160 px (%)"],
        "rank18": list(err.sort_values().index).index("resnet18") + 1,
        "spread_good": others.max() - others.min(),
        "trainer_vs_evaluate": max(abs(table["final error, 160 px (%)"] - table["single crop 160 px (%)"])),
        "gain_224": statistics.mean(table["single crop 160 px (%)"] - err),
        "wall_min": table["wall (min)"].min(), "wall_max": table["wall (min)"].max(),
        "epochs": schedule["total"] * batch / train_images, "train_images": train_images,
        "test_images": first["test_images"], "imagenet_train_images": IMAGENET_TRAIN_IMAGES,
        "imagenet_epochs": recipe.schedule.total * recipe.batch_size / IMAGENET_TRAIN_IMAGES,
    }
