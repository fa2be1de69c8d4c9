"""Runs on record compared in pairs, each beside the paper's pair, with the book's one rule for a verdict.

Every results chapter that sets one network against another (chapters 7, 8, 9 and 10) builds its table
with :func:`compare_runs`: both errors, the difference with its 95% interval and whether the test set
resolves it (:func:`.stats.compare_errors`), the paper's difference, and which definition of
the network each run trained (:func:`resattn_min.analysis.runs_on_record.recorded_architecture`).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from ..experiments.catalog import EXPERIMENTS
from .runs_on_record import recorded_architecture, shared_recipe
from .stats import Z95, compare_errors

__all__ = ["compare_runs", "labelled", "paper_error", "comparison_numbers", "recipe_numbers",
           "resolution_numbers"]


def paper_error(name: str) -> float | None:
    """The paper's CIFAR-10 test error (%) of the experiment ``name``, if the paper gives one."""
    exp = EXPERIMENTS.get(name)
    return exp.paper_error if exp else None


def _architecture(a: dict, b: dict) -> str:
    first, second = recorded_architecture(a), recorded_architecture(b)
    return first if first == second else f"{first} / {second}"


def compare_runs(runs: Mapping[str, dict], pairs: Mapping[str, tuple[str, str]], *,
                 paper: bool = True, architecture: bool = True):
    """A pandas DataFrame, one row per ``label: (a, b)``: the test errors (%) of runs ``a`` and ``b``,
    ``b - a`` in points with its 95% interval and verdict, the paper's ``b - a`` (``paper=True``: the
    experiments' CIFAR-10 numbers), and the architecture the two runs trained (``architecture=True``:
    the CIFAR networks, whose definition changed between runs)."""
    import pandas as pd

    missing = sorted({name for pair in pairs.values() for name in pair} - set(runs))
    if missing:
        raise KeyError(f"no run on record named {', '.join(missing)}; runs: {', '.join(runs)}")
    rows = {}
    for label, (a, b) in pairs.items():
        ra, rb = runs[a], runs[b]
        diff = compare_errors(ra["test_error"], rb["test_error"], ra["test_images"], rb["test_images"])
        row = {"a": a, "b": b, "a (%)": 100 * ra["test_error"], "b (%)": 100 * rb["test_error"],
               "b - a": diff.difference, "s.e.": diff.se, "95% interval": diff.interval,
               "verdict": diff.verdict}
        if paper:
            pa, pb = paper_error(a), paper_error(b)
            row |= {"paper a (%)": pa, "paper b (%)": pb,
                    "paper b - a": None if pa is None or pb is None else round(pb - pa, 2)}
        rows[label] = row | ({"architecture": _architecture(ra, rb)} if architecture else {})
    return pd.DataFrame.from_dict(rows, orient="index")


def labelled(table, a: str, b: str, keep: tuple[str, ...] = ()):
    """A :func:`compare_runs` table for display: ``a`` and ``b`` in the column names (``ARL (%)``,
    ``NAL - ARL``), the run names and the standard error left out (unless in ``keep``), rounded."""
    names = {"a (%)": f"{a} (%)", "b (%)": f"{b} (%)", "b - a": f"{b} - {a}",
             "paper a (%)": f"paper {a} (%)", "paper b (%)": f"paper {b} (%)",
             "paper b - a": f"paper {b} - {a}"}
    shown = [c for c in table.columns if c not in ("a", "b", "s.e.") or c in keep]
    return table[shown].rename(columns=names).round(2)


def recipe_numbers(runs: Mapping[str, dict], train_images: int) -> dict[str, object]:
    """The shared recipe (data, length, device) and how far the errors are from the paper's."""
    setting = shared_recipe(runs, train_images)
    iterations = setting.filter(like="iterations (batch").iloc[0]
    ratios = [100 * r["test_error"] / paper for name, r in runs.items() if (paper := paper_error(name))]
    return {"data": setting["data"], "iterations": iterations, "paper_iterations":
            setting["paper's iterations"], "scale": setting["schedule scale"], "epochs": setting["epochs"],
            "device": setting["device"], "sessions": len(setting["commits"].split(", ")),
            "times_paper": statistics.mean(ratios)}


def resolution_numbers(runs: Mapping[str, dict]) -> dict[str, float]:
    """The standard error of a difference of two errors of the group's typical size, and the smallest
    difference the test set resolves (1.96 of them)."""
    first = next(iter(runs.values()))
    p = statistics.mean(r["test_error"] for r in runs.values())
    se = compare_errors(p, p, first["test_images"]).se
    return {"n_test": first["test_images"], "typical_error": 100 * p, "se_diff": se, "resolution": Z95 * se}


def comparison_numbers(table, keys: Mapping[str, str]) -> dict[str, object]:
    """For each row ``label`` of a :func:`compare_runs` table named ``keys[label]``: the difference
    (``gap_<key>``), its size (``abs_gap_<key>``), interval, verdict and the paper's difference."""
    numbers: dict[str, object] = {}
    for label, key in keys.items():
        row = table.loc[label]
        numbers |= {f"gap_{key}": row["b - a"], f"abs_gap_{key}": abs(row["b - a"]),
                    f"interval_{key}": row["95% interval"], f"verdict_{key}": row["verdict"]}
        paper = row.get("paper b - a")
        if paper is not None and paper == paper:  # None or NaN: the paper has no number
            numbers |= {f"paper_gap_{key}": paper, f"abs_paper_gap_{key}": abs(paper)}
    return numbers
