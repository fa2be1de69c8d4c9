"""Issue 12's record of the CIFAR step: what each fast path bought, and the wall it stops at.

A bench file (``python -m resattn_min bench --profile N``) times one network's training step eager,
with a CUDA graph and compiled, and counts the kernels each runs per step. Dividing the step's wall
time by that count gives the time one kernel costs, on average, launch and gaps included; a target
rate then asks either for fewer kernels or for cheaper ones (:func:`kernel_budget`). The campaign's
metrics say what several processes trained together on one GPU (:func:`steady_rates`).
"""

from __future__ import annotations

import statistics
from pathlib import Path

__all__ = ["step_table", "kernel_budget", "last_segments", "steady_rates"]


def step_table(rows: list[dict], model: str):
    """One network's bench rows as a table, one row per variant in the order timed: ms per step,
    images/s, speed-up over the first (eager float32) row and, where profiled, kernels per step and
    microseconds of step per kernel."""
    import pandas as pd

    mine = [r for r in rows if r["model"] == model]
    if not mine:
        raise KeyError(f"no bench row of {model}")
    base = mine[0]["ms_per_step"]
    table = pd.DataFrame({
        "ms/step": [r["ms_per_step"] for r in mine],
        "images/s": [r["images_per_s"] for r in mine],
        "x first row": [base / r["ms_per_step"] for r in mine],
        "kernels/step": [(r.get("kernels") or {}).get("kernels_per_step") for r in mine],
    }, index=[r["variant"] for r in mine])
    table["us/kernel"] = 1000 * table["ms/step"] / table["kernels/step"]
    return table


def kernel_budget(ms_per_step: float, kernels: int, target_images_per_s: float, batch: int = 64) -> dict:
    """What a target rate asks of a step of ``kernels`` kernels that takes ``ms_per_step``: the step
    time it allows, the microseconds per kernel that would meet it with today's kernels, and the
    kernels that would meet it at today's time per kernel."""
    target_ms = 1000 * batch / target_images_per_s
    per_kernel = 1000 * ms_per_step / kernels
    return {"target_ms": target_ms, "us_per_kernel": per_kernel,
            "us_per_kernel_needed": 1000 * target_ms / kernels,
            "kernels_allowed": int(1000 * target_ms / per_kernel)}


def last_segments(ledger: dict) -> dict[str, tuple[int, int]]:
    """Each started run's newest segment in the campaign's ledger, as (first, last iteration)."""
    return {run: (e["segments"][-1]["start"], e["segments"][-1]["end"])
            for run, e in ledger["runs"].items() if e.get("segments")}


def steady_rates(curves: Path, spans: dict[str, tuple[int, int]], skip: int = 2000) -> dict[str, float]:
    """Each run's steady images/s within its span of iterations (``spans``: run -> (first, last)): the
    median of its metrics rows from ``skip`` iterations into the span on (the first rows include
    compiling)."""
    import pandas as pd

    rates = {}
    for run, (first, last) in spans.items():
        rows = pd.read_csv(Path(curves) / run / "metrics.csv")
        steady = rows[(rows.iteration >= first + skip) & (rows.iteration <= last)].images_per_s.dropna()
        if len(steady):
            rates[run] = float(statistics.median(steady))
    return rates
