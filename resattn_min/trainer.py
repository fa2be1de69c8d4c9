"""Training as in the paper: SGD over an endless stream of batches, counted in iterations.

``train(TrainConfig(...))`` is the one entry point (notebooks and ``python -m resattn_min train``). The
loop below is the whole algorithm; the fast GPU step (one CUDA graph per step) lives in ``fast_step.py``,
several GPUs in ``distributed.py``, checkpoints in ``checkpoint.py``, run files in ``results.py``.

The test split is evaluated only to *report* progress and the final result: the error we quote is that of
the final iteration's weights. No checkpoint is ever chosen by its test error (that would tune on the test
set, which the paper's numbers do not do).
"""

from __future__ import annotations

import math
import os
import random
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checkpoint import (
    find_resume_checkpoint,
    load_checkpoint,
    load_optimizer_state,
    load_weights,
    optimizer_state,
    save_checkpoint,
    set_rng_state,
)
from .distributed import DistInfo, all_reduce_sum, cleanup, init_distributed, shard, wrap_model
from .fast_step import FastPathUnavailable, GraphStep, loss_and_correct
from .imagenet_data import LoaderStream, imagenet_loaders
from .report import architecture_of
from .results import MetricsLog, TrainResult, environment, peak_memory, write_json
from .schedule import ConfigError, TrainConfig

__all__ = [
    "TrainConfig", "TrainingDiverged", "train", "train_step", "evaluate", "build_model", "make_data",
    "model_source", "seed_everything",
]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the diverged state was not saved."""


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, numpy and torch; in deterministic mode, use deterministic kernels wherever they exist.

    On a CPU this makes two runs bitwise equal. On a GPU a few backward kernels our networks use
    (bilinear upsampling, adaptive average pooling) have no deterministic CUDA version: PyTorch warns
    about them instead of stopping the run.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it to be deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic  # fixed shapes: autotuning pays off


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: Tensor, labels: Tensor, lr: float,
               amp_dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
    """One SGD step on one batch; returns the loss and the number of correct predictions (on the device)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast(images.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        logits = model(images)
    loss, correct = loss_and_correct(logits, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.sum().backward()
    optimizer.step()
    return loss.detach(), correct


@torch.no_grad()
def evaluate(model: nn.Module, batches, device: torch.device, amp_dtype: torch.dtype | None = None,
             channels_last: bool = False, info: DistInfo = DistInfo(),
             sharded: bool = False) -> tuple[float, int]:
    """Top-1 error of ``model`` over one pass of ``batches`` and the number of images (all ranks together).

    Every rank takes every ``world_size``-th image of each batch, unless the batches are already this
    rank's share (``sharded``: the ImageNet loaders shard the files).
    """
    rank, world = (0, 1) if sharded else (info.rank, info.world_size)
    was_training = model.training
    model.eval()
    counts = torch.zeros(2, dtype=torch.int64, device=device)  # wrong, seen
    for images, labels in batches:
        images = images[rank::world].to(device, non_blocking=True)  # strided: short batches split too
        labels = labels[rank::world].to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(images)
        counts[0] += (logits.argmax(1) != labels).sum()
        counts[1] += len(labels)
    model.train(was_training)
    wrong, seen = all_reduce_sum(counts, info).tolist()
    return wrong / max(seen, 1), seen


def model_source(name: str) -> str:
    """``"registry"`` for our models, ``"torchvision"`` for its ImageNet baselines (ResNet-152 ...)."""
    from .registry import create_model, list_models

    if name in list_models():
        return "registry"
    import torchvision

    if name in torchvision.models.list_models(torchvision.models):
        return "torchvision"
    try:
        create_model(name)  # raises the registry's message, with close names
    except ValueError as err:
        raise ConfigError(str(err)) from None
    raise AssertionError("unreachable")


def build_model(config: TrainConfig, num_classes: int) -> nn.Module:
    """The registered model (with the config's unit/mask/activation/combination), or a torchvision one."""
    from .registry import create_model

    options = {k: getattr(config, k) for k in ("combination", "activation", "mask", "unit", "trunk")
               if getattr(config, k) is not None}
    if config.num_classes is not None and config.num_classes != num_classes:
        raise ConfigError(f"num_classes is {config.num_classes} but the data has {num_classes} classes")
    if config.trunk is not None and not re.fullmatch(r"attention\d+_cifar", config.model):
        raise ConfigError(f"trunk={config.trunk!r} applies to the CIFAR Attention networks, "
                          f"not {config.model}")
    if model_source(config.model) == "torchvision":
        import torchvision

        if options:
            raise ConfigError(f"torchvision's {config.model} takes none of the options {sorted(options)}")
        return torchvision.models.get_model(config.model, num_classes=num_classes)
    try:
        return create_model(config.model, num_classes=num_classes, **options)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def make_data(config: TrainConfig, batch_size: int, info: DistInfo = DistInfo()):
    """Train and test streams for the config's dataset (a ``CifarData``; ImageNet folders get loaders).

    On the CIFAR pipeline every rank builds the same stream of *global* batches and keeps its slice; the
    ImageNet loaders shard the files instead, each rank reading ``batch_size / world_size`` per step.
    """
    from .data import CifarData, make_cifar_streams

    if config.pipeline == "cifar":
        return make_cifar_streams(
            config.dataset, batch_size, device=info.device, seed=config.seed, noise_ratio=config.noise_ratio,
            quick=config.plan().quick, root=config.data_root and Path(config.data_root),
            download=config.download, synthetic_fallback=config.synthetic_fallback)
    if batch_size % info.world_size:
        raise ConfigError(f"batch size {batch_size} does not split over {info.world_size} processes")
    if config.loader == "gpu":
        return _imagenet_on_gpu(config, batch_size, info)
    train_loader, val_loader = imagenet_loaders(
        config.dataset, batch_size // info.world_size, workers=config.workers, image_size=config.image_size,
        eval_size=config.eval_size, eval_resize=config.eval_resize, distributed=info.enabled,
        seed=config.seed)
    classes = list(train_loader.dataset.classes)
    return CifarData(LoaderStream(train_loader, info.device), val_loader, len(classes), classes,
                     Path(config.dataset).name, None)


def _imagenet_on_gpu(config: TrainConfig, batch_size: int, info: DistInfo):
    """ImageNet-style data decoded once and augmented on the device (``loader="gpu"``): global batches."""
    from .data import CifarData, load_image_tensors
    from .gpu_augment import ImageNetGPUStream

    root = config.data_root and Path(config.data_root)
    train_set, test_set = (load_image_tensors(config.dataset, s, root) for s in ("train", "test"))
    if train_set.classes != test_set.classes:
        raise ConfigError(f"train and val classes differ: {train_set.classes} vs {test_set.classes}")
    train = ImageNetGPUStream(train_set.images, train_set.labels, batch_size, image_size=config.image_size,
                              device=info.device, seed=config.seed)
    test = ImageNetGPUStream(test_set.images, test_set.labels, batch_size, train=False,
                             image_size=config.eval_size or config.image_size,
                             resize_size=config.eval_resize, device=info.device)
    return CifarData(train, test, len(train_set.classes), train_set.classes, Path(config.dataset).name, None)


def train(config: TrainConfig, data=None) -> TrainResult:
    """Train ``config.model`` as ``config`` says; returns the model, its metrics and its final test error.

    ``data`` (a ``resattn_min.data.CifarData``) replaces the dataset the config names, for experiments
    with custom data. Raises ``TrainingDiverged`` on a NaN/inf loss and ``CheckpointError`` on a bad
    ``resume``.
    """
    info = init_distributed(config.device)
    try:
        return _train(config, info, data)
    finally:
        cleanup(info)


def _train(cfg: TrainConfig, info: DistInfo, data) -> TrainResult:
    start_time = time.perf_counter()
    device, main = info.device, info.is_main
    plan = cfg.plan()
    schedule, recipe = plan.schedule, plan.recipe
    model_source(cfg.model)  # an unknown name fails now, not after loading the data
    seed_everything(cfg.seed, cfg.deterministic)
    run_dir = Path(cfg.run_dir)
    data = data or make_data(cfg, recipe.batch_size, info)
    seed_everything(cfg.seed, cfg.deterministic)  # the model's init does not depend on how data was loaded
    model = build_model(cfg, data.num_classes).to(device)
    amp_dtype = torch.bfloat16 if cfg.amp == "bf16" and device.type == "cuda" else None
    channels_last = cfg.channels_last and device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=schedule.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)

    start, resumed, last_ckpt, segments = 0, None, None, []
    if cfg.resume:
        ckpt = (find_resume_checkpoint(run_dir, device, cfg.model) if cfg.resume == "auto"
                else load_checkpoint(cfg.resume, device, cfg.model))
        if ckpt is not None:  # "auto" in a run folder without checkpoints starts afresh
            load_weights(model, ckpt)
            load_optimizer_state(optimizer, ckpt["optimizer"])
            data.train.load_state_dict(ckpt["data"])
            set_rng_state(ckpt["rng"])
            start = resumed = ckpt["iteration"]
            last_ckpt = ckpt["path"]
            segments = list(ckpt.get("segments", []))  # checkpoints from before segments were kept: none

    # the CUDA-graph step on several GPUs averages gradients inside the graph, without DDP's hooks
    graph_ddp = cfg.cuda_graph and info.enabled and device.type == "cuda"
    net = wrap_model(model, info, cfg.sync_bn, ddp=not graph_ddp)
    forward = torch.compile(net) if cfg.compile else net
    step = _make_step(cfg, forward, optimizer, amp_dtype, channels_last, info)
    metrics = MetricsLog(run_dir, resume_iteration=resumed, write=main)
    if main:
        print(f"{cfg.model} on {data.source} ({data.num_classes} classes), {device}, world size "
              f"{info.world_size}; iterations {start}->{schedule.total}, lr {schedule.lr} /"
              f"{1 / schedule.gamma:g} at {list(schedule.milestones)} (schedule scale {plan.scale:g})",
              flush=True)

    where = environment(device)
    segment_start = time.perf_counter()

    def segment(iteration: int) -> dict:
        """This process's share of the run so far: one segment of a run that spans several machines."""
        wall = time.perf_counter() - segment_start
        # plain str: checkpoints are read with weights_only=True, which refuses torch's version class
        return {"start": start, "end": iteration, "wall_s": round(wall, 1),
                "images_per_s": round((iteration - start) * recipe.batch_size / wall, 1),
                **{k: str(where[k]) for k in ("device", "git_commit", "date", "torch")}}

    def save(iteration: int) -> Path:
        payload = {"model": model.state_dict(), "optimizer": optimizer_state(optimizer),
                   "data": data.train.state_dict(), "schedule": schedule.state_dict(), "config": asdict(cfg),
                   "segments": [*segments, segment(iteration)]}
        return save_checkpoint(run_dir, iteration, payload, keep=cfg.keep_checkpoints)

    sharded = isinstance(data.train, LoaderStream)  # DataLoaders read each rank's own files

    def test() -> tuple[float, int]:  # reporting only: no decision is ever taken on the test split
        return evaluate(model, data.test, device, amp_dtype, channels_last, info, sharded)

    every = plan.every
    window = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, correct predictions
    last_log, last_time, train_time = start, time.perf_counter(), 0.0
    test_error = test_images = None
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    bar = tqdm(total=schedule.total, initial=start, disable=not (show and main), dynamic_ncols=True)
    for it in range(start, schedule.total):
        images, labels = next(data.train)
        if not sharded:  # global batches: keep this rank's slice
            images, labels = shard(images, info), shard(labels, info)
        loss, correct = step(images, labels, schedule.lr_at(it))
        window[0] += loss
        window[1] += correct
        done = it + 1
        evaluate_now = done == schedule.total or (every["eval"] and done % every["eval"] == 0)
        checkpoint_now = done == schedule.total or (every["ckpt"] and done % every["ckpt"] == 0)
        if evaluate_now or checkpoint_now or done % every["log"] == 0:
            loss_sum, correct_sum = all_reduce_sum(window, info).tolist()  # .tolist() waits for the GPU
            steps = done - last_log
            seen = steps * recipe.batch_size  # images of the global batches since the last row
            elapsed = time.perf_counter() - last_time
            train_time += elapsed
            if not math.isfinite(loss_sum):
                bar.close()
                where = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "none was written"
                raise TrainingDiverged(
                    f"training diverged: the loss became {loss_sum} between iterations {last_log + 1} and "
                    f"{done}; this state was not saved and {where}. Lower the learning rate or add warm-up "
                    "(warmup_iters) before running again.")
            row = {"iteration": done, "lr": schedule.lr_at(it),
                   "train_loss": loss_sum / (steps * info.world_size),
                   "train_acc": correct_sum / seen, "images_per_s": seen / elapsed,
                   "elapsed_s": time.perf_counter() - start_time}
            if evaluate_now:
                test_error, test_images = test()
                row["test_error"] = test_error
            if checkpoint_now and main:
                last_ckpt = save(done)
            metrics.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", acc=f"{row['train_acc']:.3f}",
                            img_s=f"{row['images_per_s']:.0f}")
            window.zero_()
            last_log, last_time = done, time.perf_counter()
        bar.update(1)
    bar.close()
    if test_error is None:  # resumed from the final checkpoint: nothing left to train
        test_error, test_images = test()

    trained = (schedule.total - start) * recipe.batch_size
    results = {
        "model": cfg.model, "dataset": cfg.dataset, "data_source": data.source,
        "num_classes": data.num_classes,
        "evaluation": "final-iteration test error (the test split is reported, never used to pick a "
                      "checkpoint)",
        "test_error": test_error, "test_accuracy": 1.0 - test_error, "test_images": test_images,
        "iterations": schedule.total, "resumed_from": resumed, "quick": plan.quick,
        "schedule": schedule.state_dict(), "schedule_scale": plan.scale, "batch_size": recipe.batch_size,
        "momentum": recipe.momentum, "weight_decay": recipe.weight_decay, "nesterov": recipe.nesterov,
        "amp": "bf16" if amp_dtype else "off", "channels_last": channels_last, "compile": cfg.compile,
        "cuda_graph": isinstance(step, GraphStep), "world_size": info.world_size, "noise": data.noise,
        "architecture": architecture_of(model),
        "wall_time_s": time.perf_counter() - start_time,
        "train_images_per_s": trained / train_time if train_time else None,
        "peak_memory_bytes": peak_memory(device), "config": asdict(cfg), **environment(device),
        "segments": [*segments, *([segment(schedule.total)] if schedule.total > start else [])],
    }
    if main:
        write_json(run_dir / "results.json", results)
        print(f"final-iteration test error {100 * test_error:.2f}% on {test_images} test images "
              f"({data.source}); results in {run_dir / 'results.json'}", flush=True)
    return TrainResult(run_dir, test_error, metrics.rows, results, model)


def _make_step(cfg: TrainConfig, forward: nn.Module, optimizer: torch.optim.Optimizer,
               amp_dtype: torch.dtype | None, channels_last: bool, info: DistInfo):
    """The eager :func:`train_step`, or the CUDA-graph step when asked for and possible."""
    if cfg.cuda_graph:
        try:
            return GraphStep(forward, optimizer, amp_dtype, channels_last, distributed=info.enabled)
        except FastPathUnavailable as err:
            if info.is_main:
                print(f"note: {err}; using the eager step", flush=True)

    def step(images: Tensor, labels: Tensor, lr: float) -> tuple[Tensor, Tensor]:
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return train_step(forward, optimizer, images, labels, lr, amp_dtype)

    return step
