"""Training as in the paper: SGD over an endless stream of batches, counted in iterations.

``train(TrainConfig(...))`` is the one entry point (notebooks and ``python -m resattn_min train``). The
loop below is the whole algorithm; one step and one evaluation live in ``step.py`` (the fast GPU step,
one CUDA graph per step, in ``cuda_graph.py``), mixed precision in ``precision.py``, a run fitted to a
time budget in ``budget.py``, the model and data a config builds in ``build.py``, several GPUs in
``distributed.py``, checkpoints in ``checkpoint.py``, run files in ``results.py``.

The test split is evaluated only to *report* progress and the final result: the error we quote is that of
the final iteration's weights. No checkpoint is ever chosen by its test error (that would tune on the test
set, which the paper's numbers do not do).
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..atomic import write_atomic, write_json
from ..data.bad_images import BadImageError
from ..data.imagenet import LoaderStream
from ..data.run_data import RunData
from ..models.counting import architecture_of
from .batch_counter import set_batch_counts, uncount_batches
from .budget import fit_budget, fitted_plan
from .build import build_model, make_data, model_source
from .checkpoint import (
    find_resume_checkpoint,
    load_checkpoint,
    load_optimizer_state,
    load_weights,
    optimizer_state,
    save_checkpoint,
    set_rng_state,
)
from .compilation import cost_of, describe, describe_artifacts, keep_artifacts, read_artifacts
from .cuda_graph import CudaGraphStep, TrainingSnapshot
from .distributed import DistInfo, all_reduce_sum, cleanup, init_distributed, shard, wrap_model
from .precision import amp_name, loss_scaler, resolve_amp
from .results import MetricsLog, TrainResult, environment, peak_memory
from .resume import check_resume
from .run_config import RunPlan, TrainConfig, resolve_compile
from .run_folder import claim_run_folder, is_fresh
from .step import evaluate, make_step, seed_everything
from .stopping import StopOnSignal, non_finite_state

__all__ = ["TrainingDiverged", "train"]


class TrainingDiverged(RuntimeError):
    """The training loss, weights or momentum became NaN or infinite; the diverged state was not saved."""


def train(config: TrainConfig, data=None, *, overwrite: bool = False) -> TrainResult:
    """Train ``config.model`` as ``config`` says; returns the model, its metrics and its final test error.

    ``data`` (a ``resattn_min.data.RunData``) replaces the dataset the config names, for experiments
    with custom data. Raises ``TrainingDiverged`` on a NaN/inf loss or state, ``CheckpointError`` on a bad
    ``resume``, ``RunFolderError`` when ``run_dir`` is in use or holds an earlier run (``overwrite=True``
    deletes that run), and ``TrainingInterrupted`` after a checkpoint on Ctrl-C.
    """
    info = init_distributed(config.device)
    try:
        model_source(config.model)  # an unknown name fails now, before the run folder or the data
        fresh = is_fresh(config.run_dir, config.resume)
        claim = claim_run_folder(config.run_dir, fresh, overwrite) if info.is_main else nullcontext()
        # on several processes a signal reaches them at different steps: only one process stops cleanly
        with claim, StopOnSignal(enabled=not info.enabled) as stop:
            return _train(config, info, data, stop)
    finally:
        cleanup(info)


def _resume(cfg: TrainConfig, plan: RunPlan, model: nn.Module, optimizer: torch.optim.Optimizer,
            scaler: torch.amp.GradScaler | None, data: RunData,
            device: torch.device) -> tuple[RunPlan, dict | None]:
    """Load the state of the checkpoint ``cfg.resume`` names into the run; returns the plan (a budgeted
    run keeps its own scale, not a new measurement) and the checkpoint, or None for a fresh start (also
    ``"auto"`` in a run folder without checkpoints)."""
    if not cfg.resume:
        return plan, None
    ckpt = (find_resume_checkpoint(cfg.run_dir, device, cfg.model) if cfg.resume == "auto"
            else load_checkpoint(cfg.resume, device, cfg.model))
    if ckpt is None:
        return plan, None
    if cfg.budget_minutes and ckpt.get("budget"):
        plan = fitted_plan(cfg, ckpt["budget"]["scale"])
    check_resume(ckpt, cfg, plan.schedule.total, model)
    load_weights(model, ckpt)
    load_optimizer_state(optimizer, ckpt["optimizer"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    data.train.load_state_dict(ckpt["data"])
    set_rng_state(ckpt["rng"])
    return plan, ckpt


def _train(cfg: TrainConfig, info: DistInfo, data, stop: StopOnSignal) -> TrainResult:
    start_time = time.perf_counter()
    device, main = info.device, info.is_main
    plan = cfg.plan()
    recipe = plan.recipe  # the batch size and the optimizer's settings; a budget changes only lengths
    seed_everything(cfg.seed, cfg.deterministic)
    run_dir = Path(cfg.run_dir)
    data = data or make_data(cfg, recipe.batch_size, info)
    seed_everything(cfg.seed, cfg.deterministic)  # the model's init does not depend on how data was loaded
    model = build_model(cfg, data.num_classes).to(device)
    uncount_batches(model)  # BatchNorm's counter: set at each save, not a kernel per layer and step
    amp_dtype = resolve_amp(cfg.amp, device)
    scaler = loss_scaler(amp_dtype, device)
    channels_last = cfg.channels_last and device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=plan.schedule.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)

    plan, ckpt = _resume(cfg, plan, model, optimizer, scaler, data, device)
    resumed = ckpt["iteration"] if ckpt else None
    start, last_ckpt = resumed or 0, ckpt["path"] if ckpt else None
    segments = list(ckpt.get("segments", [])) if ckpt else []  # checkpoints from before segments: none
    budget = ckpt.get("budget") if ckpt and cfg.budget_minutes else None

    # the CUDA-graph step on several GPUs averages gradients inside the graph, without DDP's hooks
    graph_ddp = cfg.cuda_graph and info.enabled and device.type == "cuda"
    net = wrap_model(model, info, cfg.sync_bn, ddp=not graph_ddp)
    compiled = resolve_compile(cfg.compile, device, plan.schedule.total, bool(cfg.budget_minutes))
    forward = torch.compile(net) if compiled else net
    artifacts = read_artifacts(cfg.compile_artifacts) if compiled and cfg.compile_artifacts else None
    if artifacts and main:
        print(describe_artifacts(artifacts), flush=True)
    step = make_step(cfg, forward, optimizer, amp_dtype, channels_last, info, scaler)
    sharded = isinstance(data.train, LoaderStream)  # DataLoaders read each rank's own files

    def test(batches=data.test) -> tuple[float, int]:  # reporting only: no decision is taken on it
        return evaluate(model, batches, device, amp_dtype, channels_last, info, sharded)

    if cfg.budget_minutes and budget is None:
        snapshot = TrainingSnapshot(model, optimizer, scaler)
        probe = run_dir / ".budget-probe.pt"  # a checkpoint's bytes, to time the disk

        def save_probe() -> None:
            state = {"model": model.state_dict(), "optimizer": optimizer_state(optimizer)}
            write_atomic(probe, lambda f: torch.save(state, f))

        probe_rows = run_dir / ".budget-probe-metrics"  # rows of metrics, written as the run writes them
        probe_rows.mkdir(exist_ok=True)
        probe_log = MetricsLog(probe_rows, write=main)

        def log_probe() -> None:
            all_reduce_sum(torch.zeros(2, dtype=torch.float64, device=device), info).tolist()
            probe_log.append({"iteration": 0, "train_loss": 0.0})

        try:
            budget = fit_budget(cfg, step, data, info, sharded, test, save_probe, start_time, log_probe)
        finally:
            probe.unlink(missing_ok=True)
            shutil.rmtree(probe_rows, ignore_errors=True)
        snapshot.restore()
        plan = fitted_plan(cfg, budget["scale"])
    schedule = plan.schedule
    metrics = MetricsLog(run_dir, resume_iteration=resumed, write=main)
    if main:
        print(f"{cfg.model} on {data.source} ({data.num_classes} classes), {device}, world size "
              f"{info.world_size}, amp {amp_name(amp_dtype)}; iterations {start}->{schedule.total}, lr "
              f"{schedule.lr} /{1 / schedule.gamma:g} at {list(schedule.milestones)} (schedule scale "
              f"{plan.scale:g})", flush=True)

    where = environment(device)
    compile_cost = None  # what the first step spent compiling, if compiled
    segment_start = time.perf_counter()

    def segment(iteration: int) -> dict:
        """This process's share of the run so far: one segment of a run that spans several machines."""
        wall = time.perf_counter() - segment_start
        # plain str: checkpoints are read with weights_only=True, which refuses torch's version class
        return {"start": start, "end": iteration, "wall_s": round(wall, 1),
                "images_per_s": round((iteration - start) * recipe.batch_size / wall, 1),
                "compile_s": compile_cost["seconds"] if compile_cost else None,
                **{k: str(where[k]) for k in ("device", "git_commit", "date", "torch")}}

    def save(iteration: int) -> Path:
        set_batch_counts(model, iteration)
        payload = {"model": model.state_dict(), "optimizer": optimizer_state(optimizer),
                   "data": data.train.state_dict(), "schedule": schedule.state_dict(), "config": asdict(cfg),
                   "segments": [*segments, segment(iteration)], "budget": budget,
                   "scaler": scaler.state_dict() if scaler is not None else None}
        return save_checkpoint(run_dir, iteration, payload, keep=cfg.keep_checkpoints)

    every = plan.every
    window = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, correct predictions
    last_log, last_time, train_time, saved_at = start, time.perf_counter(), 0.0, start
    test_error = test_images = None
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    bar = tqdm(total=schedule.total, initial=start, disable=not (show and main), dynamic_ncols=True)
    stop.arm()
    for it in range(start, schedule.total):
        try:
            images, labels = next(data.train)
        except BadImageError:  # keep what was trained: the run continues here once the file is mended
            if main and it > saved_at and non_finite_state(model, optimizer) is None:
                save(it)
            raise
        if not sharded:  # global batches: keep this rank's slice
            images, labels = shard(images, info), shard(labels, info)
        if compiled and it == start:  # compiling happens in the first call: time it, once
            (loss, correct), compile_cost = cost_of(step, images, labels, schedule.lr_at(it))
            if main:
                print(describe(compile_cost), flush=True)
            if artifacts is not None:
                compile_cost["artifacts_read"] = artifacts["files"]
                kept = keep_artifacts(cfg.compile_artifacts, cfg.model, compile_cost) if main else None
                compile_cost["artifacts_kept"] = str(kept) if kept else None
                if kept:
                    print(f"kept the compiled graphs in {kept} ({kept.stat().st_size / 2**20:.1f} MiB)",
                          flush=True)
        else:
            loss, correct = step(images, labels, schedule.lr_at(it))
        window[0] += loss
        window[1] += correct
        done = it + 1
        stopping = stop.signum is not None and done < schedule.total  # Ctrl-C: log and save here, then stop
        evaluate_now = done == schedule.total or (every["eval"] and done % every["eval"] == 0)
        checkpoint_now = stopping or done == schedule.total or (every["ckpt"] and done % every["ckpt"] == 0)
        if evaluate_now or checkpoint_now or done % every["log"] == 0:
            loss_sum, correct_sum = all_reduce_sum(window, info).tolist()  # .tolist() waits for the GPU
            steps = done - last_log
            seen = steps * recipe.batch_size  # images of the global batches since the last row
            elapsed = time.perf_counter() - last_time
            train_time += elapsed
            diverged = None if math.isfinite(loss_sum) else f"the loss became {loss_sum}"
            if checkpoint_now and not diverged:  # a finite loss can come before a non-finite update
                diverged = non_finite_state(model, optimizer)
            if diverged:
                bar.close()
                where = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "none was written"
                raise TrainingDiverged(
                    f"training diverged: {diverged} between iterations {last_log + 1} and "
                    f"{done}; this state was not saved and {where}. Lower the learning rate or add warm-up "
                    "(warmup_iters) before running again.")
            row = {"iteration": done, "lr": schedule.lr_at(it),
                   "train_loss": loss_sum / (steps * info.world_size),
                   "train_acc": correct_sum / seen, "images_per_s": seen / elapsed,
                   "elapsed_s": time.perf_counter() - start_time}
            if evaluate_now:
                test_error, test_images = test()
                row["test_error"] = test_error
            metrics.append(row, durable=checkpoint_now)  # on disk before the checkpoint it belongs to
            if checkpoint_now and main:
                last_ckpt, saved_at = save(done), done
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", acc=f"{row['train_acc']:.3f}",
                            img_s=f"{row['images_per_s']:.0f}")
            window.zero_()
            last_log, last_time = done, time.perf_counter()
        bar.update(1)
        if stopping:
            bar.close()
            raise stop.interrupted(done, schedule.total, last_ckpt)
    bar.close()
    if test_error is None:  # resumed from the final checkpoint: nothing left to train
        test_error, test_images = test()

    trained = (schedule.total - start) * recipe.batch_size
    results = {
        "model": cfg.model, "dataset": cfg.dataset, "data_source": data.source,
        "num_classes": data.num_classes, "skipped_images": sorted(data.skipped),
        "evaluation": "final-iteration test error (the test split is reported, never used to pick a "
                      "checkpoint)",
        "test_error": test_error, "test_accuracy": 1.0 - test_error, "test_images": test_images,
        "iterations": schedule.total, "resumed_from": resumed, "quick": plan.quick,
        "schedule": schedule.state_dict(), "schedule_scale": plan.scale, "batch_size": recipe.batch_size,
        "momentum": recipe.momentum, "weight_decay": recipe.weight_decay, "nesterov": recipe.nesterov,
        "amp": amp_name(amp_dtype), "budget": budget, "channels_last": channels_last, "compile": compiled,
        "compile_cost": compile_cost,
        "cuda_graph": isinstance(step, CudaGraphStep), "world_size": info.world_size, "noise": data.noise,
        "architecture": architecture_of(model),
        "wall_time_s": time.perf_counter() - start_time,
        "train_images_per_s": trained / train_time if train_time else None,
        "peak_memory_bytes": peak_memory(device), "config": asdict(cfg), **environment(device),
        "segments": [*segments, *([segment(schedule.total)] if schedule.total > start else [])],
    }
    if main:
        if data.skipped:
            print(f"note: {len(data.skipped)} unreadable images were left out (listed in results.json)")
        write_json(run_dir / "results.json", results)
        print(f"final-iteration test error {100 * test_error:.2f}% on {test_images} test images "
              f"({data.source}); results in {run_dir / 'results.json'}", flush=True)
    return TrainResult(run_dir, test_error, metrics.rows, results, model)
