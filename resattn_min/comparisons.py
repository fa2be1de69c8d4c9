"""Runs on record compared in pairs, each beside the paper's pair, with the book's one rule for a verdict.

Every results chapter that sets one network against another (chapters 7, 8, 9 and 10) builds its table
with :func:`compare_runs`: both errors, the difference with its 95% interval and whether the test set
resolves it (:func:`resattn_min.stats.compare_errors`), the paper's difference, and which definition of
the network each run trained (:func:`resattn_min.runs_on_record.architecture_of`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .experiments import EXPERIMENTS
from .runs_on_record import architecture_of
from .stats import compare_errors

__all__ = ["compare_runs", "labelled", "paper_error"]


def paper_error(name: str) -> float | None:
    """The paper's CIFAR-10 test error (%) of the experiment ``name``, if the paper gives one."""
    exp = EXPERIMENTS.get(name)
    return exp.paper_error if exp else None


def _architecture(a: dict, b: dict) -> str:
    first, second = architecture_of(a), architecture_of(b)
    return first if first == second else f"{first} / {second}"


def compare_runs(runs: Mapping[str, dict], pairs: Mapping[str, tuple[str, str]], *,
                 paper: bool = True):
    """A pandas DataFrame, one row per ``label: (a, b)``: the test errors (%) of runs ``a`` and ``b``,
    ``b - a`` in points with its 95% interval and verdict, the paper's ``b - a`` (``paper=True``: the
    experiments' CIFAR-10 numbers), and the architecture the two runs trained."""
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
        rows[label] = row | {"architecture": _architecture(ra, rb)}
    return pd.DataFrame.from_dict(rows, orient="index")


def labelled(table, a: str, b: str, keep: tuple[str, ...] = ()):
    """A :func:`compare_runs` table for display: ``a`` and ``b`` in the column names (``ARL (%)``,
    ``NAL - ARL``), the run names and the standard error left out (unless in ``keep``), rounded."""
    names = {"a (%)": f"{a} (%)", "b (%)": f"{b} (%)", "b - a": f"{b} - {a}",
             "paper a (%)": f"paper {a} (%)", "paper b (%)": f"paper {b} (%)",
             "paper b - a": f"paper {b} - {a}"}
    shown = [c for c in table.columns if c not in ("a", "b", "s.e.") or c in keep]
    return table[shown].rename(columns=names).round(2)
