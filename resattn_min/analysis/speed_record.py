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

__all__ = ["step_table", "kernel_budget", "structure_kernels", "step_numbers", "kernel_overlap",
           "campaign_mix", "last_segments", "steady_rates"]


def step_table(rows: list[dict], model: str):
    """One network's bench rows as a table, one row per variant in the order timed: ms per step,
    images/s, speed-up over the first (eager float32) row and, where profiled, kernels per step, the
    milliseconds the GPU spent in them, the share of the step that is (``GPU busy``: the rest is the GPU
    waiting for launches) and microseconds of step per kernel."""
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
        "GPU ms/step": [(r.get("kernels") or {}).get("kernel_ms_per_step") for r in mine],
    }, index=[r["variant"] for r in mine], dtype=float)
    table["GPU busy"] = table["GPU ms/step"] / table["ms/step"]
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


def structure_kernels(model) -> dict[str, int]:
    """The kernels a training step of ``model`` cannot do without, from its layers alone: three per
    convolution (forward, the gradient of its input, the gradient of its weights) and four per
    BatchNorm in training mode (forward, a reduction over the batch for the statistics, then the
    normalisation; backward, a reduction, then the element-wise gradient). Activations, masks,
    pooling, upsampling, the loss and the optimizer come on top."""
    import torch

    convolutions = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    batchnorms = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    return {"convolutions": convolutions, "batchnorms": batchnorms,
            "kernels": 3 * convolutions + 4 * batchnorms}


def step_numbers(table, target_images_per_s: float, structure: dict, batch: int = 64) -> dict:
    """What the prose says of one network's step table (:func:`step_table`, eager float32 first and
    the fastest path last): the speed-up, where the fast step's time goes (kernels, and the gaps
    between them), and what ``target_images_per_s`` would ask (:func:`kernel_budget`) beside the
    kernels the structure needs (:func:`structure_kernels`)."""
    eager, fast = table.iloc[0], table.iloc[-1]
    fused = int(table["kernels/step"].iloc[-2] - fast["kernels/step"])  # by the last path
    need = kernel_budget(fast["ms/step"], int(fast["kernels/step"]), target_images_per_s, batch)
    return {"eager_ms": eager["ms/step"], "eager_rate": eager["images/s"], "eager_busy": eager["GPU busy"],
            "fast_ms": fast["ms/step"], "fast_rate": fast["images/s"], "speedup": fast["x first row"],
            "kernels": int(fast["kernels/step"]), "gpu_ms": fast["GPU ms/step"], "busy": fast["GPU busy"],
            "gaps_ms": fast["ms/step"] - fast["GPU ms/step"], "us_per_kernel": need["us_per_kernel"],
            "target": target_images_per_s, "target_ms": need["target_ms"],
            "target_speedup": eager["ms/step"] / need["target_ms"],
            "kernels_allowed": need["kernels_allowed"], "us_needed": need["us_per_kernel_needed"],
            "structure_kernels": structure["kernels"], "convolutions": structure["convolutions"],
            "batchnorms": structure["batchnorms"], "fused": fused,
            "kernels_left": need["kernels_allowed"] - structure["kernels"],
            "kernels_beyond": int(fast["kernels/step"]) - structure["kernels"]}


def kernel_overlap(rates: dict[str, float], kernel_ms: dict[str, float], batch: int = 64) -> float:
    """Seconds of kernel time, as each run's kernels take alone (``kernel_ms``: GPU milliseconds per
    step of its network, by run), that several runs sharing one GPU got through each second at
    ``rates`` (images/s by run). 1 means the runs took turns; more means their kernels overlapped."""
    return sum(rate / batch * kernel_ms[run] / 1000 for run, rate in rates.items())


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


def campaign_mix(steps: dict, ledger: dict, curves: Path, commit: str, batch: int = 64) -> dict:
    """The campaign's segment at ``commit`` (a prefix of the commit each run's segment records in
    ``ledger``; the runs' curves are in ``curves``): which networks shared the GPU, their steady images/s
    together, and how far their kernels overlapped (:func:`kernel_overlap`), each run's kernels timed
    alone by the last row of its network's step table (``steps``: network -> :func:`step_table`)."""
    spans = {run: (seg["start"], seg["end"]) for run, e in ledger["runs"].items()
             for seg in e.get("segments", []) if str(seg.get("git_commit", "")).startswith(commit)}
    if not spans:
        raise KeyError(f"no segment of the campaign at commit {commit}")
    rates = steady_rates(curves, spans)
    models = [ledger["runs"][run]["model"] for run in rates]
    gpu_ms = {run: steps[ledger["runs"][run]["model"]]["GPU ms/step"].iloc[-1] for run in rates}
    return {"mix_runs": len(rates), "mix_rate": sum(rates.values()),
            "mix_models": {m: models.count(m) for m in sorted(set(models))},
            "overlap": kernel_overlap(rates, gpu_ms, batch)}
