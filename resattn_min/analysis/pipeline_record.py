"""What chapter 12 (training engineering: feeding the GPU, one GPU or two) shows, computed and tested here.

The bench files say how many images a second the data pipelines supply and each network's training step
consumes; the ``imagenette_pipeline`` runs put the loaders and one against two GPUs side by side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime

from .runs_on_record import learning_curve, load_runs, runs_table, single_crop_errors

__all__ = ["COLAB_CORES", "LOADER_PAIRS", "supply_and_demand", "workers_to_keep_up", "pipeline_table",
           "supply_numbers", "pipeline_numbers", "shared_numbers", "two_gpu_numbers", "torchrun_command"]

COLAB_CORES = 2  # a free Colab machine
W16, G1, G2 = "attention56_16_workers", "attention56_gpu_loader", "attention56_gpu_loader_2gpus"
R18W, R18G = "resnet18_16_workers", "resnet18_gpu_loader"
#: The loader, and the number of GPUs, should not change what a network learns: (a, b) pairs.
LOADER_PAIRS = {"GPU loader vs 16 workers (Attention-56)": (W16, G1),
                "two GPUs vs one (Attention-56)": (G1, G2),
                "GPU loader vs 16 workers (ResNet-18)": (R18W, R18G)}


def supply_and_demand(supply_rows: list[dict], step_rows: list[dict]):
    """Images/s the DataLoader supplies by number of workers (a Series), the GPU stream's bench row, and
    what each network's fast step (the last variant timed, the one the runs trained with) consumes."""
    import pandas as pd

    supply = pd.DataFrame(supply_rows)
    by_workers = supply[supply.workers > 0].set_index("workers")["images_per_s"]
    gpu_stream = supply[supply.workers == 0].iloc[0]
    steps = pd.DataFrame(step_rows)
    fast = steps.variant.iloc[-1]
    consumes = steps[steps.variant == fast].set_index("model")["images_per_s"]
    return by_workers, gpu_stream, consumes


def workers_to_keep_up(consumes, per_worker: float):
    """How many DataLoader workers, at ``per_worker`` images/s each, each network's step needs."""
    import pandas as pd

    return pd.DataFrame({"step consumes (img/s)": consumes.round(0).astype(int),
                         "workers to keep up": [math.ceil(rate / per_worker) for rate in consumes]})


def pipeline_table(consumes):
    """The ``imagenette_pipeline`` runs: loader, GPUs, errors, the steady rate (median over the rows
    of ``metrics.csv``), the rate over all iterations, what the step alone consumes, and wall time."""
    group = "imagenette_pipeline"
    pipe = load_runs(group)
    table = runs_table(group)[["model", "loader", "GPUs", "test error (%)"]]
    table["loader"] = [f"{pipe[r]['config']['workers']} workers" if loader == "workers" else loader
                       for r, loader in table.loader.items()]
    table["single crop 224 px (%)"] = [single_crop_errors(group, r)[224] for r in table.index]
    table["steady img/s"] = [learning_curve(group, r).images_per_s.median() for r in table.index]
    table["train img/s"] = [pipe[r]["train_images_per_s"] for r in table.index]
    table["step alone (img/s)"] = [consumes[m] for m in table.model]
    table["wall (s)"] = [pipe[r]["wall_time_s"] for r in table.index]
    return table


def supply_numbers(by_workers, gpu_stream, consumes, env: Mapping) -> dict[str, object]:
    """The data benchmark: what one and all workers supply, per worker, what each step consumes, the
    workers each needs, what a Colab machine could supply, and the GPU stream."""
    per_worker = by_workers.iloc[-1] / by_workers.index[-1]
    need = workers_to_keep_up(consumes, per_worker)["workers to keep up"]
    short = {"attention56": "56", "attention92": "92", "resnet152": "152", "resnet18": "18"}
    return {"pipe_device": env["device"], "cpu_count": env["cpu_count"], "batch": env["batch"],
            "w1": by_workers.iloc[0], "w_max_n": by_workers.index[-1], "w_max": by_workers.iloc[-1],
            "per_worker": per_worker, "colab_cores": COLAB_CORES, "colab_supply": COLAB_CORES * per_worker,
            "gpu_stream": gpu_stream.images_per_s, "aug_ms": 1e3 * env["batch"] / gpu_stream.images_per_s,
            "dataset_gb": gpu_stream.dataset_bytes / 1e9,
            "train_images": int(gpu_stream.dataset_bytes // (3 * env["image_size"] ** 2)),
            **{f"c{s}": consumes[m] for m, s in short.items()},
            **{f"need{s}": need[m] for m, s in short.items()}}


def pipeline_numbers(table, aug_ms: float, batch: int) -> dict[str, float]:
    """The pipeline runs: steady rates, wall times and errors by run, ResNet-18's share of what its
    step consumes, and Attention-56's rate predicted from its step and the GPU augmentation in turn."""
    step56_ms = 1e3 * batch / table.loc[G1, "step alone (img/s)"]
    keys = {W16: "w16", G1: "g1", G2: "g2", R18W: "r18w", R18G: "r18g"}
    numbers = {"step56_ms": step56_ms, "pred_gpu": 1e3 * batch / (step56_ms + aug_ms),
               "r18_frac": table.loc[R18W, "steady img/s"] / table.loc[R18W, "step alone (img/s)"]}
    for run, key in keys.items():
        numbers |= {f"steady_{key}": table.loc[run, "steady img/s"],
                    f"wall_{key}": table.loc[run, "wall (s)"], f"e_{key}": table.loc[run, "test error (%)"]}
    return numbers


def _span(run: dict) -> tuple[float, float]:
    end = datetime.fromisoformat(run["date"]).timestamp()
    return end - run["wall_time_s"], end


def shared_numbers(runs: Mapping[str, dict], consumes,
                   beside_groups: tuple[str, ...] = ("cifar10_jpeg", "cifar10_jpeg_noise")) -> dict:
    """The runs of one session that shared a GPU (``runs``): their summed rate and workers, the CIFAR
    runs of ``beside_groups`` that overlapped them in time, and the share of a GPU their rates add up
    to when each is divided by what its step consumes alone."""
    began = min(_span(r)[0] for r in runs.values())
    ended = max(_span(r)[1] for r in runs.values())
    beside = [name for group in beside_groups for name, r in load_runs(group).items()
              if _span(r)[0] < ended and _span(r)[1] > began]
    return {"shared_total": sum(r["train_images_per_s"] for r in runs.values()),
            "shared_workers": sum(r["config"]["workers"] for r in runs.values()),
            "shared_cifar": len(beside), "shared_device": next(iter(runs.values()))["device"],
            "shared_gpu_time": sum(r["train_images_per_s"] / consumes[r["model"]] for r in runs.values())}


def two_gpu_numbers(table, curves: Mapping[str, object], two: dict, batch: int) -> dict[str, float]:
    """One GPU (``G1``) against two (``G2``): rates, step times, and when each reached its first log
    row (``curves``: the runs' ``metrics.csv``); ``two`` is the two-GPU run's results.json."""
    steady, rate = table["steady img/s"], table["train img/s"]
    return {"pipe_gpus": two["world_size"], "per_gpu": batch // two["world_size"],
            "ratio_steady": steady[G2] / steady[G1], "ratio_train": rate[G2] / rate[G1],
            "ms_g1": 1e3 * batch / steady[G1], "ms_g2": 1e3 * batch / steady[G2],
            "first_iters": curves[G1].iteration.iloc[0], "first_g1": curves[G1].elapsed_s.iloc[0],
            "first_g2": curves[G2].elapsed_s.iloc[0],
            "log_rows": int(curves[G1].iteration.diff().median())}


def torchrun_command(run: dict, width: int = 88) -> str:
    """The ``torchrun`` command line of a multi-GPU run, from its recorded command, wrapped at
    ``width`` characters with shell continuations."""
    args = re.split(r" (?=--)", run["command"].split(" train ", 1)[1])  # after "__main__.py train"
    lines, line = [], f"torchrun --standalone --nproc_per_node {run['world_size']} -m resattn_min train"
    for arg in args:
        if len(line) + len(arg) + 3 > width:
            lines.append(line + " \\")
            line = "   "
        line += " " + arg
    return "\n".join([*lines, line])
