"""Time the training step: the plain eager fp32 step against the fast path, in the same run.

``python -m resattn_min bench --model attention92_cifar --batch-size 64 --image-size 32 --steps 100``

Variants (``--variants``; on a GPU): ``eager`` fp32 (the textbook step), ``eager-bf16`` (autocast and
channels-last), ``graph`` (bf16 + channels-last, the whole step as one CUDA graph,
``cuda_graph.CudaGraphStep``) and ``compile`` (the graph of a ``torch.compile``'d model). ``--stack 1,3,6``
times the graph variants also on several runs stacked into one network (``stacked.py``). Each runs on
random data after
untimed warm-up steps; CUDA events time every step and the median is reported. A short agreement check
trains copies of the same model with the eager bf16 step and with the graph step on the same batches and
reports how far their losses drift apart.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path

import torch

from ..atomic import check_output_file, write_json
from .batch_counter import uncount_batches
from .build import build_model
from .compilation import cache_counts, counted_since, graphs_found
from .cuda_graph import CudaGraphStep
from .precision import resolve_device
from .results import environment
from .run_config import TrainConfig
from .stacked import stack_models, stack_size
from .step import seed_everything, train_step

__all__ = ["run_bench", "time_variant", "agreement", "kernel_summary", "profile_kernels"]


def _model(name: str, num_classes: int, device: torch.device, channels_last: bool, seed: int = 0
           ) -> torch.nn.Module:
    # the trainer's global settings: besides timing the same kernels, torch.compile's cache key holds
    # them (use_deterministic_algorithms' warn_only flag among them), so the bench compiles the graph
    # a training process compiles and can read it from the cache
    seed_everything(seed, deterministic=False)
    model = build_model(TrainConfig(model=name), num_classes).to(device)
    uncount_batches(model)  # as the trainer does
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _optimizer(model: torch.nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True)


def kernel_summary(events, steps: int, top: int = 5) -> dict:
    """What the GPU ran in one step, from ``torch.profiler``'s CUDA events over ``steps`` steps: the
    number of kernels, their summed time, the mean time of one, and the ``top`` costliest kernels."""
    kernels = sorted((e for e in events if e.device_time_total > 0), key=lambda e: -e.device_time_total)
    count, micros = sum(e.count for e in kernels), sum(e.device_time_total for e in kernels)
    return {"kernels_per_step": round(count / steps), "kernel_ms_per_step": round(micros / steps / 1000, 3),
            "us_per_kernel": round(micros / count, 2) if count else None,
            "top_kernels": [{"name": e.key[:90], "calls_per_step": round(e.count / steps, 1),
                             "ms_per_step": round(e.device_time_total / steps / 1000, 3)}
                            for e in kernels[:top]]}


def profile_kernels(step, images: torch.Tensor, labels: torch.Tensor, steps: int) -> dict:
    """:func:`kernel_summary` of ``steps`` calls of ``step`` (a GPU's kernels; a CUDA graph's replay
    shows the kernels inside it)."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step(images, labels, 0.01)
        torch.cuda.synchronize()
    return kernel_summary(prof.key_averages(), steps)


def time_variant(model: torch.nn.Module, step, batch: int, image_size: int, num_classes: int, steps: int,
                 warmup: int, channels_last: bool, profile_steps: int = 0) -> dict:
    """Median milliseconds per step, images per second and peak memory of ``step`` on random batches.

    A stacked model (``stacked.py``) of ``n`` runs gets ``n`` batches per step, counted as
    ``n * batch`` images. ``first_step_s`` is the wall time of the first step: capture and compilation.
    ``profile_steps`` (on a GPU) adds ``kernels``: the kernels of a step (:func:`profile_kernels`).
    """
    device = next(model.parameters()).device
    runs = stack_size(model)
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.randn(batch, 3 * runs, image_size, image_size, device=device, generator=gen)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    shape = (batch, runs) if runs > 1 else (batch,)
    labels = torch.randint(0, num_classes, shape, device=device, generator=gen)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    step(images, labels, 0.01)
    if cuda:
        torch.cuda.synchronize()
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        step(images, labels, 0.01)
    times = []
    for _ in range(steps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step(images, labels, 0.01)
            end.record()
            times.append((start, end))
        else:
            t0 = time.perf_counter()
            step(images, labels, 0.01)
            times.append(1000 * (time.perf_counter() - t0))
    if cuda:
        torch.cuda.synchronize()
        times = [s.elapsed_time(e) for s, e in times]
    ms = statistics.median(times)
    kernels = profile_kernels(step, images, labels, profile_steps) if cuda and profile_steps else None
    return {"runs": runs, "ms_per_step": round(ms, 3), "images_per_s": round(1000 * runs * batch / ms, 1),
            "first_step_s": round(first, 2),
            "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20) if cuda else None,
            **({"kernels": kernels} if kernels else {})}


def agreement(name: str, batch: int, image_size: int, num_classes: int, steps: int = 10) -> dict:
    """Losses of the eager bf16 step and the graph step, trained from the same weights on the same batches."""
    device = torch.device("cuda")
    eager_model = _model(name, num_classes, device, True)
    graph_model = copy.deepcopy(eager_model)
    eager_opt = _optimizer(eager_model)
    graph = CudaGraphStep(graph_model, _optimizer(graph_model), torch.bfloat16, channels_last=True)
    gen = torch.Generator(device=device).manual_seed(1)
    eager_losses, graph_losses = [], []
    for _ in range(steps):
        x = torch.randn(batch, 3, image_size, image_size, device=device, generator=gen)
        y = torch.randint(0, num_classes, (batch,), device=device, generator=gen)
        xc = x.contiguous(memory_format=torch.channels_last)
        eager_losses.append(train_step(eager_model, eager_opt, xc, y, 0.01, torch.bfloat16)[0].item())
        graph_losses.append(graph(x, y, 0.01)[0].item())
    drift = max(abs(a - b) for a, b in zip(eager_losses, graph_losses, strict=True))
    return {"model": name, "steps": steps, "eager_bf16_losses": eager_losses, "graph_losses": graph_losses,
            "max_abs_loss_difference": drift}


#: Variants by name: (bf16 + channels-last, CUDA graph, torch.compile).
VARIANTS = {"eager": (False, False, False), "eager-bf16": (True, False, False), "graph": (True, True, False),
            "compile": (True, True, True)}
_LABELS = {"eager": "eager fp32", "eager-bf16": "eager bf16+CL", "graph": "graph bf16+CL",
           "compile": "graph+compile"}


def run_bench(models: str, batch: int = 64, image_size: int = 32, steps: int = 50, warmup: int = 10,
              compile: bool = False, out: str | Path | None = "runs/bench.json",
              num_classes: int | None = None, variants: str = "eager,eager-bf16,graph", stacks: str = "1",
              check: bool = True, profile: int = 0) -> dict:
    """Time each variant for each of the comma-separated ``models``; print a table, write JSON.

    ``stacks`` (e.g. ``"1,3,6"``) also times the CUDA-graph variants on that many runs stacked into one
    network (``stacked.py``); the eager variants are timed on one run. ``profile`` (a number of steps)
    also counts each GPU variant's kernels per step with ``torch.profiler``.
    """
    if min(batch, image_size, steps) < 1 or warmup < 0:
        raise ValueError(f"--batch-size, --image-size and --steps must be at least 1 and --warmup at least "
                         f"0, got {batch}, {image_size}, {steps} and {warmup}")
    if out:
        check_output_file(out)  # before the benchmark, not after it
    device = resolve_device()
    classes = num_classes or (10 if image_size <= 64 else 1000)
    torch.backends.cudnn.benchmark = True
    chosen = [v.strip() for v in variants.split(",") if v.strip()] + (["compile"] if compile else [])
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown bench variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if device.type != "cuda":
        chosen = [v for v in chosen if v == "eager"]
    sizes = sorted({int(n) for n in stacks.split(",")})
    warmup = max(warmup, 1)  # the graph is captured during the first step: never time it
    rows, checks = [], []
    print(f"{device}: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}; median of "
          f"{steps} steps after {warmup} warm-up steps", flush=True)
    for name in [m.strip() for m in models.split(",") if m.strip()]:
        for variant in dict.fromkeys(chosen):
            fast, graph, comp = VARIANTS[variant]
            for n in sizes if graph else [1]:
                runs = [_model(name, classes, device, fast, seed) for seed in range(n)]
                model = stack_models(runs) if n > 1 else runs[0]
                opt = _optimizer(model)
                forward = torch.compile(model) if comp else model
                amp = torch.bfloat16 if fast else None
                if graph:
                    step = CudaGraphStep(forward, opt, amp, channels_last=True)
                else:
                    def step(x, y, lr, forward=forward, opt=opt, amp=amp):
                        return train_step(forward, opt, x, y, lr, amp)
                before = cache_counts()
                stats = time_variant(model, step, batch, image_size, classes, steps, warmup, fast, profile)
                if comp:  # first_step_s is then mostly compiling: from the cache, or not?
                    stats["compile_cache"] = counted_since(before)
                label = _LABELS[variant] + (f" x{n}" if n > 1 else "")
                rows.append({"model": name, "variant": label, "batch": batch, "image_size": image_size,
                             **stats})
                print(_row(rows[-1]), flush=True)
                del runs, model, opt, forward, step
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        if device.type == "cuda" and check:
            checks.append(agreement(name, batch, image_size, classes))
            print(f"  {name}: eager bf16 vs graph, max |loss difference| over "
                  f"{checks[-1]['steps']} steps: {checks[-1]['max_abs_loss_difference']:.3g}", flush=True)
    if device.type != "cuda":
        print("note: the fast path (bf16, channels-last, CUDA graph) needs a GPU; only the eager "
              "step was timed", flush=True)
    report = {"rows": rows, "agreement": checks, "steps": steps, "warmup": warmup, **environment(device)}
    if out:
        write_json(out, report)
        print(f"wrote {out}")
    return report


def _row(r: dict) -> str:
    mem = "-" if r["peak_memory_mib"] is None else f"{r['peak_memory_mib']} MiB"
    return (f"{r['model']:<22} {r['variant']:<18} batch {r['batch']:<4} {r['image_size']}px  "
            f"{r['ms_per_step']:>9.2f} ms/step  {r['images_per_s']:>9.1f} img/s  first step "
            f"{r['first_step_s']:.1f} s  peak {mem}" + _cache(r.get("compile_cache"))
            + _kernels(r.get("kernels")))


def _kernels(k: dict | None) -> str:
    if k is None:
        return ""
    return (f"\n    {k['kernels_per_step']} kernels a step, {k['kernel_ms_per_step']:.2f} ms of GPU time "
            f"({k['us_per_kernel']} us each)")


def _cache(counts: dict | None) -> str:
    return "" if counts is None else f"  ({graphs_found(counts)})"
