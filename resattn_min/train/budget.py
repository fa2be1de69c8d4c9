"""Lesson size: the paper's schedule shrunk to fit a wall-clock budget on whatever device there is.

``TrainConfig(budget_minutes=20)`` (``train --budget-minutes 20``) first times the training step on the
device, after the warm-up that cuDNN's autotuning, a CUDA graph's capture or ``torch.compile`` need, and a
few batches of evaluation, writes one checkpoint and a few rows of metrics. Then it picks the schedule
scale whose run fits what is left of the budget:

    iterations * step + evaluations * evaluation + checkpoints * checkpoint + rows * row
        <= budget * margin - spent

Every iteration count of the schedule, milestones included, shrinks by that scale
(``MultiStepSchedule.scaled``), so the run keeps the paper's shape; its checkpoints and ``results.json``
record the measurements and the fraction of the paper's schedule it ran. A resumed run takes the scale
from its checkpoint, never from a new measurement.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

import torch
from torch import Tensor

from .checkpoint import rng_state, set_rng_state
from .distributed import DistInfo, all_reduce_sum, shard
from .run_config import RunPlan, TrainConfig
from .schedule import MultiStepSchedule

__all__ = ["Timing", "evaluations_of", "fit_scale", "time_steps", "time_evaluation", "time_call", "time_row",
           "fit_budget", "fitted_plan"]

#: The share of the budget the steps and evaluations may plan for; the rest absorbs checkpoints, logging
#: and the variation of step times.
MARGIN = 0.92


@dataclass(frozen=True)
class Timing:
    """What a budgeted run measured before it began: seconds per step, per evaluation pass, per
    checkpoint and per row of metrics (the wait for the device and the lines written), and the seconds of
    the budget already spent (data, model, warm-up, the measurement)."""

    step_s: float
    eval_s: float
    spent_s: float
    ckpt_s: float = 0.0
    log_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def evaluations_of(total: int, eval_every: int) -> int:
    """Test-split passes (or checkpoints) of a run of ``total`` iterations, one every ``eval_every``
    iterations and one at the end."""
    return (total // eval_every if eval_every else 0) + (1 if not eval_every or total % eval_every else 0)


def fit_scale(budget_s: float, timing: Timing, paper: MultiStepSchedule, eval_every: int,
              ckpt_every: int = 0, margin: float = MARGIN, *, log_every: int = 0) -> float:
    """The schedule scale (at most 1) whose run fits in ``budget_s`` seconds.

    ``eval_every``, ``ckpt_every`` and ``log_every`` are in the paper's iterations and shrink with the
    schedule, so the numbers of evaluations, checkpoints and rows of metrics do not depend on the scale
    (a lesson that logs every 200 of the paper's iterations writes a row every few steps). Raises
    ``ValueError`` when the budget leaves no room for a schedule that keeps its milestones apart.
    """
    evaluations = evaluations_of(paper.total, eval_every)
    checkpoints = evaluations_of(paper.total, ckpt_every)
    rows = evaluations_of(paper.total, log_every) if log_every else 0
    usable = (budget_s * margin - timing.spent_s - evaluations * timing.eval_s
              - checkpoints * timing.ckpt_s - rows * timing.log_s)
    iterations = math.floor(usable / timing.step_s) if usable > 0 else 0
    scale = min(1.0, iterations / paper.total)
    advice = (f"a budget of {budget_s / 60:g} minutes leaves time for {iterations} iterations "
              f"({1000 * timing.step_s:.1f} ms each, {evaluations} evaluations of {timing.eval_s:.1f} s, "
              f"{checkpoints} checkpoints of {timing.ckpt_s:.1f} s, {rows} rows of metrics of "
              f"{1000 * timing.log_s:.1f} ms, {timing.spent_s:.0f} s spent before training)")
    try:
        if iterations < 1:
            raise ValueError
        paper.scaled(scale)
    except ValueError:
        raise ValueError(f"{advice}: too few for the schedule's milestones; give more minutes, or "
                         "evaluate less often (eval_every)") from None
    return scale


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable[[Tensor, Tensor, float], tuple[Tensor, Tensor]],
               batches: Iterator[tuple[Tensor, Tensor]], lr: float, device: torch.device,
               warmup: int = 5, steps: int = 30) -> float:
    """Seconds per training step, timed over ``steps`` steps after ``warmup`` untimed ones."""
    for images, labels in itertools.islice(batches, warmup):
        step(images, labels, lr)
    _sync(device)
    start = time.perf_counter()
    for images, labels in itertools.islice(batches, steps):
        step(images, labels, lr)
    _sync(device)
    return (time.perf_counter() - start) / steps


def time_evaluation(evaluate: Callable[[object], object], batches, device: torch.device,
                    sample: int = 10) -> float:
    """Seconds one pass of ``evaluate`` over all of ``batches`` takes, from its first ``sample`` batches."""
    n = len(batches)
    if n == 0:
        return 0.0
    evaluate(itertools.islice(iter(batches), 1))  # untimed: the first batch of a shape is autotuned
    sample = max(1, min(sample, n - 1))  # a single batch is timed again, warm
    start = time.perf_counter()
    evaluate(itertools.islice(iter(batches), sample))
    _sync(device)
    return (time.perf_counter() - start) * n / sample


def time_call(call: Callable[[], object]) -> float:
    """Seconds one call takes (a checkpoint written to disk)."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def time_row(call: Callable[[], object], rows: int = 10) -> float:
    """Seconds one row of metrics takes, the mean of ``rows`` (each is milliseconds or less)."""
    return sum(time_call(call) for _ in range(rows)) / rows


def fitted_plan(cfg: TrainConfig, scale: float) -> RunPlan:
    """The plan of ``cfg`` with the schedule scale its budget allows."""
    return replace(cfg, budget_minutes=None, schedule_scale=scale).plan()


def fit_budget(cfg: TrainConfig, step, data, info: DistInfo, sharded: bool, test, save_probe,
               start_time: float, log_probe=None) -> dict:
    """Time the step, an evaluation, a checkpoint (``save_probe``) and a row of metrics (``log_probe``,
    the mean of a few), then pick the scale that fits ``cfg.budget_minutes`` (``budget.py``).

    The timed steps move the data stream and the random generators on: both are put back here; the
    caller puts the weights back.
    """
    position, generators = data.train.state_dict(), rng_state()
    batches = ((x, y) if sharded else (shard(x, info), shard(y, info)) for x, y in data.train)
    paper = fitted_plan(cfg, 1.0).schedule
    measured = torch.tensor([time_steps(step, batches, paper.lr, info.device) / info.world_size,
                             time_evaluation(test, data.test, info.device) / info.world_size,
                             time_call(save_probe) if info.is_main else 0.0,
                             time_row(log_probe) if log_probe else 0.0], dtype=torch.float64)
    step_s, eval_s, ckpt_s, log_s = all_reduce_sum(measured.to(info.device), info).tolist()
    log_s /= info.world_size  # only rank 0 saves a checkpoint; every rank waits for a row
    data.train.load_state_dict(position)
    set_rng_state(generators)
    timing = Timing(step_s, eval_s, time.perf_counter() - start_time, ckpt_s, log_s)
    scale = fit_scale(cfg.budget_minutes * 60, timing, paper, cfg.eval_every, cfg.ckpt_every,
                      log_every=cfg.log_every)
    if info.is_main:
        print(f"budget {cfg.budget_minutes:g} min: {1000 * step_s:.1f} ms a step, {eval_s:.1f} s an "
              f"evaluation, {ckpt_s:.2f} s a checkpoint, {1000 * log_s:.1f} ms a row of metrics, "
              f"{timing.spent_s:.0f} s spent before training -> "
              f"{round(paper.total * scale):,} of the paper's {paper.total:,} iterations "
              f"({100 * scale:.3g}% of its schedule)", flush=True)
    return {"minutes": cfg.budget_minutes, "scale": scale, **timing.as_dict()}
