"""What the book shows of the full-length campaign (issue 16) while it runs, computed and tested here:
how far each run has come (the ledger) and the test-error curves so far, seed by seed.

A paused run's curve is in ``results/campaign/runs/<run>/``, a finished run's in
``results/<runs_dir>/<run>/`` (``campaign update`` moves it there), and the curve of an attempt whose
checkpoint was lost in ``results/campaign/lost/<run>-<iteration>/`` (the ledger's ``lost`` list names it).
The test split is evaluated every 8,000 iterations to *report* progress; an error before the end of the
schedule is no result of the paper's.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

from ..env import RESULTS
from ..experiments.campaign import CURVES, LEDGER, load_ledger
from ..experiments.catalog import get_experiment
from ..train.run_config import TrainConfig
from .runs_on_record import learning_curve
from .stats import Comparison, compare_seeds

__all__ = ["network_of", "campaign_progress", "campaign_curves", "compare_at_common_iteration",
           "campaign_numbers", "progress_numbers", "attempts_compared", "run_on_record", "full_length_table"]


def network_of(run: str) -> str:
    """The experiment a seeded run repeats: ``attention92_s1`` -> ``attention92``."""
    return re.sub(r"_s\d+$", "", run)


def campaign_progress(ledger_path: Path = LEDGER):
    """One row per run of the ledger: network, seed, status, the iteration reached and its share of the
    schedule, the GPU sessions (segments) so far, their wall-clock minutes (the runs of a session share
    one GPU, side by side), the last segment's images/s, how many more segments like the last one the
    run needs, and the iteration its first attempt reached before its checkpoint was lost."""
    import pandas as pd

    ledger = load_ledger(ledger_path)
    rows = []
    for run, entry in ledger["runs"].items():
        segments = entry["segments"]
        rows.append({"run": run, "network": network_of(run), "seed": entry["seed"], "status": entry["status"],
                     "iteration": entry["iteration"],
                     "of schedule (%)": 100 * entry["iteration"] / entry["target_iterations"],
                     "segments": len(segments), "wall minutes": sum(s["wall_s"] for s in segments) / 60,
                     "img/s (last segment)": segments[-1]["images_per_s"] if segments else None,
                     "segments to go": _segments_to_go(entry),
                     "lost at": entry["lost"][0]["iteration"] if entry.get("lost") else None})
    return pd.DataFrame(rows).set_index("run")


def _segments_to_go(entry: dict) -> int | None:
    """How many more segments as long as the last one an unfinished run needs (None before its first)."""
    if entry["status"] == "done":
        return 0
    if not entry["segments"]:
        return None
    last = entry["segments"][-1]
    return math.ceil((entry["target_iterations"] - entry["iteration"]) / max(last["end"] - last["start"], 1))


def _curve_group(run: str, ledger: dict, results: Path) -> str | None:
    """Where a run's curve is: with the paused runs' curves, or with the finished runs'."""
    for group in (str(CURVES.relative_to(RESULTS)), ledger["runs_dir"]):
        if (results / group / run / "metrics.csv").is_file():
            return group
    return None


def campaign_curves(ledger_path: Path = LEDGER, results: Path = RESULTS, lost: bool = False):
    """The test errors (%) every run has reported so far, one row per run and evaluation point, with the
    network and seed of the run; runs not started yet have no rows. ``lost=True``: the curves of each
    run's first attempt whose checkpoint was lost, instead of the current attempt's."""
    import pandas as pd

    ledger = load_ledger(ledger_path)
    frames = []
    for run, entry in ledger["runs"].items():
        if lost:
            attempts = [a for a in entry.get("lost", []) if a.get("curve")]
            if not attempts:
                continue
            group, name = str(Path(attempts[0]["curve"]).parent), Path(attempts[0]["curve"]).name
        else:
            group, name = _curve_group(run, ledger, Path(results)), run
            if entry["iteration"] == 0 or group is None:
                continue
        curve = learning_curve(group, name, results).dropna(subset=["test_error"])
        frames.append(pd.DataFrame({"run": run, "network": network_of(run), "seed": entry["seed"],
                                    "iteration": curve.iteration, "test error (%)": 100 * curve.test_error}))
    columns = ["run", "network", "seed", "iteration", "test error (%)"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def run_on_record(run: str = "attention92", ledger_path: Path = LEDGER, results: Path = RESULTS) -> dict:
    """One run of the campaign as chapter 6 shows it: its whole ``metrics.csv`` so far (``metrics``), the
    iteration it reached of its ``target``, its ``status``, and the GPU time and sessions it took
    (``wall_minutes``, ``segments``). A run not started yet has no metrics."""
    ledger = load_ledger(ledger_path)
    entry = ledger["runs"][run]
    group = _curve_group(run, ledger, Path(results))
    if entry["iteration"] == 0 or group is None:
        raise ValueError(f"{run} has no learning curve on record yet (status {entry['status']})")
    return {"run": run, "metrics": learning_curve(group, run, results), "iteration": entry["iteration"],
            "target": entry["target_iterations"], "status": entry["status"],
            "segments": len(entry["segments"]),
            "wall_minutes": sum(s["wall_s"] for s in entry["segments"]) / 60}


def full_length_table(ledger_path: Path = LEDGER, results: Path = RESULTS, short: str = "cifar10_jpeg"):
    """Table 6 and Table 3's deep end as the campaign fills them, one row per network: the paper's error,
    ours at a tenth of the schedule (the ``short`` group's one run), and the full-length runs: how many
    are done of those planned, the mean and spread (standard deviation) of their final errors, and the
    fewest iterations any of them has reached."""
    import pandas as pd

    ledger = load_ledger(ledger_path)
    seeds: dict[str, list[dict]] = {}
    for run, entry in ledger["runs"].items():
        seeds.setdefault(network_of(run), []).append(entry)
    rows = {}
    for network, entries in seeds.items():
        done = [100 * e["test_error"] for e in entries if e["status"] == "done"]
        short_run = Path(results) / short / network / "results.json"
        rows[network] = {
            "paper (%)": get_experiment(network).paper_error,
            "0.1 schedule (%)": 100 * json.loads(short_run.read_text())["test_error"]
            if short_run.is_file() else math.nan,
            "full length: done": f"{len(done)} of {len(entries)}",
            "mean (%)": statistics.mean(done) if done else math.nan,
            "spread (sd)": statistics.stdev(done) if len(done) > 1 else math.nan,
            "least iteration": min(e["iteration"] for e in entries)}
    return pd.DataFrame(rows).T


def compare_at_common_iteration(curves, a: str, b: str) -> tuple[int, dict[str, list[float]], Comparison]:
    """``b`` against ``a`` at the last evaluation point that every seed of both networks has reached: that
    iteration, the errors (%) of each network's seeds there, and the difference over seeds
    (:func:`~resattn_min.analysis.stats.compare_seeds`)."""
    mine = curves[curves.network.isin([a, b])]
    reached = mine.groupby("run").iteration.max().min()
    at = mine[mine.iteration == reached]
    errors = {n: at[at.network == n].sort_values("seed")["test error (%)"].tolist() for n in (a, b)}
    return int(reached), errors, compare_seeds(*[[e / 100 for e in errors[n]] for n in (a, b)])


def campaign_numbers(curves, a: str = "attention92", b: str = "resnet164") -> dict:
    """What the book's prose says of a set of curves: ``b`` against ``a`` at their common evaluation
    point, the range of iterations the runs reached, the schedule's milestones and the paper's errors."""
    iteration, errors, versus = compare_at_common_iteration(curves, a, b)
    paper = TrainConfig(schedule="cifar", quick=False).plan().schedule
    reached = curves.groupby("run").iteration.max()
    return {"least_iteration": int(reached.min()), "most_iteration": int(reached.max()),
            "runs": len(reached), "common_iteration": iteration,
            "seeds": min(len(e) for e in errors.values()),
            "mean_a": sum(errors[a]) / len(errors[a]), "mean_b": sum(errors[b]) / len(errors[b]),
            "difference": versus.difference, "interval": versus.interval, "verdict": versus.verdict,
            "first_drop": paper.milestones[0], "second_drop": paper.milestones[1], "total": paper.total,
            "paper_a": get_experiment(a).paper_error, "paper_b": get_experiment(b).paper_error}


def progress_numbers(progress) -> dict:
    """The current attempt in a few numbers: runs started of those planned, the least and most iterations
    reached (0 before the first segment), the GPU sessions so far, and the runs whose earlier attempt
    was lost."""
    started, lost = progress[progress.iteration > 0], progress["lost at"].dropna()
    return {"runs_started": len(started), "runs_planned": len(progress),
            "least_iteration": int(started.iteration.min()) if len(started) else 0,
            "most_iteration": int(started.iteration.max()) if len(started) else 0,
            "sessions": int(started.segments.max()) if len(started) else 0,
            "runs_lost": len(lost),
            "lost_least_iteration": int(lost.min()) if len(lost) else 0,
            "lost_most_iteration": int(lost.max()) if len(lost) else 0,
            "fewest_to_go": int(started["segments to go"].min()) if len(started) else 0,
            "most_to_go": int(started["segments to go"].max()) if len(started) else 0}


def attempts_compared(first, second):
    """The test errors (%) of two attempts of the same runs at the evaluation points both reached, one
    row per run and point, with their difference (second minus first)."""
    both = first.merge(second, on=["run", "network", "seed", "iteration"], suffixes=(" first", " second"))
    both["difference"] = both["test error (%) second"] - both["test error (%) first"]
    return both
