"""Time the training step: the plain eager fp32 step against the fast path, in the same run.

``python -m resattn_min bench --model attention92_cifar --batch 64 --image-size 32 --steps 100``

Variants (on a GPU): ``eager fp32`` (the textbook step), ``eager bf16+CL`` (autocast and channels-last),
``graph bf16+CL`` (the whole step as one CUDA graph, ``fast_step.GraphStep``) and, with ``--compile``,
``graph+compile``. Each runs on random data after untimed warm-up steps; CUDA events time every step and
the median is reported. A short agreement check trains copies of the same model with the eager bf16 step
and with the graph step on the same batches and reports how far their losses drift apart.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path

import torch

from .atomic import check_output_file, write_json
from .fast_step import GraphStep
from .results import environment
from .schedule import TrainConfig
from .trainer import build_model, train_step

__all__ = ["run_bench", "time_variant", "agreement"]


def _model(name: str, num_classes: int, device: torch.device, channels_last: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(TrainConfig(model=name), num_classes).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _optimizer(model: torch.nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True)


def time_variant(model: torch.nn.Module, step, batch: int, image_size: int, num_classes: int, steps: int,
                 warmup: int, channels_last: bool) -> dict:
    """Median milliseconds per step, images per second and peak memory of ``step`` on random batches."""
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.randn(batch, 3, image_size, image_size, device=device, generator=gen)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, num_classes, (batch,), device=device, generator=gen)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
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
    return {"ms_per_step": round(ms, 3), "images_per_s": round(1000 * batch / ms, 1),
            "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20) if cuda else None}


def agreement(name: str, batch: int, image_size: int, num_classes: int, steps: int = 10) -> dict:
    """Losses of the eager bf16 step and the graph step, trained from the same weights on the same batches."""
    device = torch.device("cuda")
    eager_model = _model(name, num_classes, device, True)
    graph_model = copy.deepcopy(eager_model)
    eager_opt = _optimizer(eager_model)
    graph = GraphStep(graph_model, _optimizer(graph_model), torch.bfloat16, channels_last=True)
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


def run_bench(models: str, batch: int = 64, image_size: int = 32, steps: int = 50, warmup: int = 10,
              compile: bool = False, out: str | Path | None = "runs/bench.json",
              num_classes: int | None = None) -> dict:
    """Time every variant for each of the comma-separated ``models``; print a table, write JSON."""
    if min(batch, image_size, steps) < 1 or warmup < 0:
        raise ValueError(f"--batch, --image-size and --steps must be at least 1 and --warmup at least 0, got "
                         f"{batch}, {image_size}, {steps} and {warmup}")
    if out:
        check_output_file(out)  # before the benchmark, not after it
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    classes = num_classes or (10 if image_size <= 64 else 1000)
    torch.backends.cudnn.benchmark = True
    variants = [("eager fp32", False, False, None)]
    if device.type == "cuda":
        variants += [("eager bf16+CL", True, False, None), ("graph bf16+CL", True, True, None)]
        if compile:
            variants.append(("graph+compile", True, True, "compile"))
    warmup = max(warmup, 1)  # the graph is captured during the first step: never time it
    rows, checks = [], []
    print(f"{device}: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}; median of "
          f"{steps} steps after {warmup} warm-up steps", flush=True)
    for name in [m.strip() for m in models.split(",") if m.strip()]:
        for label, fast, graph, comp in variants:
            model = _model(name, classes, device, channels_last=fast)
            opt = _optimizer(model)
            forward = torch.compile(model) if comp else model
            amp = torch.bfloat16 if fast else None
            if graph:
                step = GraphStep(forward, opt, amp, channels_last=True)
            else:
                def step(x, y, lr, forward=forward, opt=opt, amp=amp):
                    return train_step(forward, opt, x, y, lr, amp)
            stats = time_variant(model, step, batch, image_size, classes, steps, warmup, fast)
            rows.append({"model": name, "variant": label, "batch": batch, "image_size": image_size, **stats})
            print(_row(rows[-1]), flush=True)
            del model, opt, forward, step
            if device.type == "cuda":
                torch.cuda.empty_cache()
        if device.type == "cuda":
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
    return (f"{r['model']:<22} {r['variant']:<15} batch {r['batch']:<4} {r['image_size']}px  "
            f"{r['ms_per_step']:>9.2f} ms/step  {r['images_per_s']:>9.1f} img/s  peak {mem}")
