"""What the book shows of the full-length campaign (issue 16) while it runs, computed and tested here:
how far each run has come (the ledger) and the test-error curves so far, seed by seed.

A paused run's curve is in ``results/campaign/runs/<run>/``, a finished run's in
``results/<runs_dir>/<run>/`` (``campaign update`` moves it there). The test split is evaluated every 8,000
iterations to *report* progress; an error before the end of the schedule is no result of the paper's.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..env import RESULTS
from ..experiments.campaign import CURVES, LEDGER, load_ledger
from ..experiments.catalog import get_experiment
from ..train.run_config import TrainConfig
from .runs_on_record import learning_curve
from .stats import Comparison, compare_seeds

__all__ = ["network_of", "campaign_progress", "campaign_curves", "compare_at_common_iteration",
           "campaign_numbers"]


def network_of(run: str) -> str:
    """The experiment a seeded run repeats: ``attention92_s1`` -> ``attention92``."""
    return re.sub(r"_s\d+$", "", run)


def campaign_progress(ledger_path: Path = LEDGER):
    """One row per run of the ledger: network, seed, status, the iteration reached and its share of the
    schedule, the GPU sessions (segments) so far, their wall-clock minutes (the runs of a session share
    one GPU, side by side), and the last segment's images/s."""
    import pandas as pd

    ledger = load_ledger(ledger_path)
    rows = []
    for run, entry in ledger["runs"].items():
        segments = entry["segments"]
        rows.append({"run": run, "network": network_of(run), "seed": entry["seed"], "status": entry["status"],
                     "iteration": entry["iteration"],
                     "of schedule (%)": 100 * entry["iteration"] / entry["target_iterations"],
                     "segments": len(segments), "wall minutes": sum(s["wall_s"] for s in segments) / 60,
                     "img/s (last segment)": segments[-1]["images_per_s"] if segments else None})
    return pd.DataFrame(rows).set_index("run")


def _curve_group(run: str, ledger: dict, results: Path) -> str | None:
    """Where a run's curve is: with the paused runs' curves, or with the finished runs'."""
    for group in (str(CURVES.relative_to(RESULTS)), ledger["runs_dir"]):
        if (results / group / run / "metrics.csv").is_file():
            return group
    return None


def campaign_curves(ledger_path: Path = LEDGER, results: Path = RESULTS):
    """The test errors (%) every run has reported so far, one row per run and evaluation point, with the
    network and seed of the run; runs not started yet have no rows."""
    import pandas as pd

    ledger = load_ledger(ledger_path)
    frames = []
    for run, entry in ledger["runs"].items():
        group = _curve_group(run, ledger, Path(results))
        if entry["iteration"] == 0 or group is None:
            continue
        curve = learning_curve(group, run, results).dropna(subset=["test_error"])
        frames.append(pd.DataFrame({"run": run, "network": network_of(run), "seed": entry["seed"],
                                    "iteration": curve.iteration, "test error (%)": 100 * curve.test_error}))
    return pd.concat(frames, ignore_index=True)


def compare_at_common_iteration(curves, a: str, b: str) -> tuple[int, dict[str, list[float]], Comparison]:
    """``b`` against ``a`` at the last evaluation point that every seed of both networks has reached: that
    iteration, the errors (%) of each network's seeds there, and the difference over seeds
    (:func:`~resattn_min.analysis.stats.compare_seeds`)."""
    mine = curves[curves.network.isin([a, b])]
    reached = mine.groupby("run").iteration.max().min()
    at = mine[mine.iteration == reached]
    errors = {n: at[at.network == n].sort_values("seed")["test error (%)"].tolist() for n in (a, b)}
    return int(reached), errors, compare_seeds(*[[e / 100 for e in errors[n]] for n in (a, b)])


def campaign_numbers(progress, curves, a: str = "attention92", b: str = "resnet164") -> dict:
    """What the book's prose says of the campaign so far: the iterations reached, the milestones, and
    ``b`` against ``a`` at their common evaluation point, with the paper's final errors."""
    started = progress[progress.iteration > 0]
    iteration, errors, versus = compare_at_common_iteration(curves, a, b)
    paper = TrainConfig(schedule="cifar", quick=False).plan().schedule
    return {"runs_started": len(started), "runs_planned": len(progress),
            "least_iteration": int(started.iteration.min()), "most_iteration": int(started.iteration.max()),
            "sessions": int(started.segments.max()), "common_iteration": iteration,
            "seeds": min(len(e) for e in errors.values()),
            "mean_a": sum(errors[a]) / len(errors[a]), "mean_b": sum(errors[b]) / len(errors[b]),
            "difference": versus.difference, "interval": versus.interval, "verdict": versus.verdict,
            "first_drop": paper.milestones[0], "second_drop": paper.milestones[1], "total": paper.total,
            "paper_a": get_experiment(a).paper_error, "paper_b": get_experiment(b).paper_error}
