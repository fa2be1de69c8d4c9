"""The runs on record: read ``results/`` (written by real training runs) for the results chapters.

Every number the results chapters quote comes from these files: ``results/<group>/<run>/results.json``
(config, final-iteration test error, device, wall time, images/s, commit, date, command),
``metrics.csv`` (the learning curve), ``log.txt``; ``results/bench/*.json`` (step timings). The weights of
a few trained networks install with the package (``resattn_min/weights/``, half precision to stay small;
``results/checkpoints/`` links to them): :func:`load_trained` reads them.

``python -m resattn_min tables`` prints every results table from these files alone.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import torch

from ..env import REPOSITORY, RESULTS
from ..experiments.catalog import EXPERIMENTS

__all__ = ["RESULTS", "GROUPS", "NOT_RECORDED", "recorded_architecture", "load_runs", "runs_table",
           "learning_curve", "bench_rows", "load_trained",
           "single_crop_errors", "shared_recipe", "concurrent_throughput", "print_tables"]

#: Result groups and the data each was trained on (the label every table carries).
GROUPS = {
    "cifar10_jpeg": "CIFAR-10 (JPEG copy)",
    "cifar10_jpeg_noise": "CIFAR-10 (JPEG copy), noisy training labels",
    "imagenette": "Imagenette (160 px, squashed)",
    "imagenette_pipeline": "Imagenette (160 px, squashed): data loaders and GPUs compared",
    "student_path": "CIFAR-10 (JPEG copy): float16 against bfloat16, and chapter 6 at lesson size",
}


#: What :func:`recorded_architecture` says of a run whose results.json does not name its architecture.
NOT_RECORDED = "not recorded"


def recorded_architecture(record: dict) -> str:
    """Which definition of the network a run trained: the ``architecture`` of its results.json.

    The CIFAR trunk was corrected after the first runs (one residual unit per stage was missing), so a
    CIFAR table must say which definition each of its runs used.
    """
    return record.get("architecture") or NOT_RECORDED


def load_runs(group: str, root: Path = RESULTS) -> dict[str, dict]:
    """``{run name: results.json}`` of one group, sorted by name."""
    folder = Path(root) / group
    if group not in GROUPS:
        raise FileNotFoundError(f"no results group {group!r}; groups: {', '.join(GROUPS)}")
    if not folder.is_dir():
        raise FileNotFoundError(f"no results group {group!r} under {root}: the runs on record are in the "
                                f"repository, not in the installed package; run from a clone of {REPOSITORY} "
                                "(on Colab the chapters' first cell makes one) or set RESATTN_HOME to one")
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/results.json"))}


def _options(config: dict) -> str:
    keys = ("combination", "activation", "mask", "unit")
    return ", ".join(f"{k}={config[k]}" for k in keys if config.get(k)) or "-"


def runs_table(group: str, runs: list[str] | None = None, root: Path = RESULTS):
    """A pandas DataFrame, one row per run: ours beside the paper's error where the paper has one."""
    import pandas as pd

    records = load_runs(group, root)
    rows = []
    for name in runs or list(records):
        r = records[name]
        exp = EXPERIMENTS.get(name) if group.startswith("cifar10") else None  # CIFAR-10 rows of the paper
        rows.append({
            "run": name, "model": r["model"], "options": _options(r["config"]),
            "architecture": recorded_architecture(r),
            "clean ratio r": round((r.get("noise") or {}).get("r", 1.0), 4),
            "test error (%)": round(100 * r["test_error"], 2),
            "paper (%)": exp.paper_error if exp else None,
            "loader": r["config"].get("loader", "workers"), "GPUs": r.get("world_size", 1),
            "iterations": r["iterations"], "schedule scale": r["schedule_scale"],
            "wall (min)": round(r["wall_time_s"] / 60, 1),
            "train img/s": round(r["train_images_per_s"] or 0),
            "peak GPU memory (GiB)": round((r["peak_memory_bytes"] or 0) / 2**30, 2),
            "device": r["device"], "date": r["date"][:10], "commit": (r["git_commit"] or "-")[:8],
        })
    return pd.DataFrame(rows).set_index("run")


def shared_recipe(runs: dict[str, dict], train_images: int):
    """What every run of a group shares (data, schedule, device), as a pandas Series.

    Refuses runs that differ in any of it: their errors would not compare. ``train_images`` (the size of
    the training split) turns iterations into epochs.
    """
    import pandas as pd

    first = next(iter(runs.values()))
    keys = ("iterations", "schedule_scale", "batch_size", "schedule", "data_source", "device")
    differ = [k for k in keys if any(r[k] != first[k] for r in runs.values())]
    if differ:
        raise ValueError(f"the runs do not share one recipe: they differ in {differ}")
    return pd.Series({
        "data": first["data_source"],
        "runs": len(runs),
        f"iterations (batch {first['batch_size']})": first["iterations"],
        "paper's iterations": round(first["iterations"] / first["schedule_scale"]),
        "schedule scale": first["schedule_scale"],
        "epochs": round(first["iterations"] * first["batch_size"] / train_images, 1),
        "learning rate / 10 at": first["schedule"]["milestones"],
        "device": first["device"],
        "dates": ", ".join(sorted({r["date"][:10] for r in runs.values()})),
        "commits": ", ".join(sorted({r["git_commit"][:8] for r in runs.values()})),
    }, name="runs on record")


def learning_curve(group: str, run: str, root: Path = RESULTS):
    """The run's ``metrics.csv`` as a DataFrame (``test_error`` only at evaluation points)."""
    import pandas as pd

    return pd.read_csv(Path(root) / group / run / "metrics.csv")


def bench_rows(name: str, root: Path = RESULTS) -> tuple[list[dict], dict]:
    """Rows and environment of ``results/bench/<name>.json`` (``python -m resattn_min bench``)."""
    report = json.loads((Path(root) / "bench" / f"{name}.json").read_text())
    return report["rows"], {k: v for k, v in report.items() if k not in ("rows", "agreement")}


_EVAL = re.compile(r"test error ([\d.]+)% .* at (\d+)x\d+")


def single_crop_errors(group: str, run: str, root: Path = RESULTS) -> dict[int, float]:
    """``{crop size: test error (%)}`` from the run's ``eval<size>.txt`` (written by ``evaluate``)."""
    errors = {}
    for path in sorted((Path(root) / group / run).glob("eval*.txt")):
        match = _EVAL.search(path.read_text())
        if match:
            errors[int(match.group(2))] = float(match.group(1))
    return errors


def load_trained(name: str) -> torch.nn.Module:
    """The trained network ``name`` (``resattn_min.models.pretrained.WEIGHTS``) in float32 and eval mode.

    It takes images with the per-pixel mean of its training images subtracted, as in training;
    ``create_model(..., pretrained=True)`` gives the same network taking images in [0, 1].
    """
    from ..models.pretrained import load_network

    return load_network(name)


def concurrent_throughput(groups: tuple[str, ...] = ("cifar10_jpeg", "cifar10_jpeg_noise"),
                          start_s: float = 120, end_s: float = 480,
                          root: Path = RESULTS) -> tuple[int, float]:
    """Processes running and their summed training images/s between ``start_s`` and ``end_s`` seconds
    after the first of the runs started (each run's median over its metric rows in that window).

    The runs of a group shared one GPU; their clocks are put on one axis from ``date`` (the end of the
    run) minus ``wall_time_s``.
    """
    import pandas as pd

    frames = []
    for group in groups:
        for name, r in load_runs(group, root).items():
            curve = learning_curve(group, name, root)
            began = datetime.fromisoformat(r["date"]).timestamp() - r["wall_time_s"]
            frames.append(curve.assign(t=began + curve["elapsed_s"], run=f"{group}/{name}"))
    rows = pd.concat(frames)
    rows["t"] -= rows["t"].min()
    window = rows[(rows["t"] >= start_s) & (rows["t"] < end_s)]
    per_run = window.groupby("run")["images_per_s"].median()
    return len(per_run), float(per_run.sum())


def print_tables(root: Path = RESULTS) -> None:
    """Every results table, as text (``python -m resattn_min tables``)."""
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for group, label in GROUPS.items():
            if (Path(root) / group).is_dir():
                print(f"\n{label} ({group})")
                cols = ["model", "options", "architecture", "test error (%)", "paper (%)", "iterations",
                        "wall (min)", "train img/s", "device", "date", "commit"]
                if group.startswith("imagenette"):
                    cols[2:2] = ["loader", "GPUs"]
                print(runs_table(group, root=root)[cols].to_string())
        for bench in sorted((Path(root) / "bench").glob("*.json")):
            rows, env = bench_rows(bench.stem, root)
            print(f"\nbench {bench.stem} ({env['device']}, {env['date'][:10]})")
            print(pd.DataFrame(rows).to_string(index=False))
        if (Path(root) / "cifar10_jpeg").is_dir():
            n, total = concurrent_throughput(root=root)
            print(f"\n{n} CIFAR training processes sharing the GPU (MPS), 120-480 s into the session: "
                  f"{total:,.0f} training images/s in all")
