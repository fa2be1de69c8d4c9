"""How fast the ImageNet data can be supplied, to set beside how fast the GPU trains on it.

``python -m resattn_min bench-data --dataset DIR --image-size 160 --workers 1,2,4,8,16``

Two suppliers of the same augmented batches (``data/imagenet.py`` and ``data/imagenet_gpu.py``):
DataLoader workers decoding JPEGs and augmenting in PIL, timed for each number of workers after their
start-up; and the batch augmentation on the GPU over images decoded once (the one-time decode is timed
too). Training
itself is timed by ``python -m resattn_min bench`` at the same image size: where a supplier gives fewer
images per second than the step consumes, the GPU waits.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from ..atomic import check_output_file, write_json
from .precision import resolve_device
from .results import environment

__all__ = ["time_loader", "time_gpu_stream", "run_data_bench"]


def time_loader(root: str | Path, batch: int, image_size: int, workers: int, batches: int) -> dict:
    """Images per second of the DataLoader pipeline with ``workers`` processes, after one warm-up round."""
    from ..data.imagenet import LoaderStream, imagenet_loaders

    loader, _ = imagenet_loaders(root, batch, workers=workers, image_size=image_size)
    stream = LoaderStream(loader)  # endless: epochs follow each other as in training
    for _ in range(max(workers, 1)):  # every worker has started and delivered its first batch
        next(stream)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(stream)
    seconds = time.perf_counter() - t0
    del stream, loader
    return {"supplier": "DataLoader (PIL)", "workers": workers, "batches": batches,
            "images_per_s": round(batches * batch / seconds, 1)}


def time_gpu_stream(root: str | Path, batch: int, image_size: int, batches: int,
                    device: torch.device, data_root: Path | None = None) -> dict:
    """Images per second of ``ImageNetGPUStream``, and the seconds of the one-time decode (and cache)."""
    from ..data.decoded import load_image_tensors
    from ..data.imagenet_gpu import ImageNetGPUStream

    t0 = time.perf_counter()
    train = load_image_tensors(root, "train", data_root)
    decode_s = time.perf_counter() - t0
    stream = ImageNetGPUStream(train.images, train.labels, batch, image_size=image_size, device=device)
    for _ in range(5):
        next(stream)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(batches):
        next(stream)
    sync()
    seconds = time.perf_counter() - t0
    return {"supplier": f"GPU stream ({device.type})", "workers": 0, "batches": batches,
            "images_per_s": round(batches * batch / seconds, 1), "decode_once_s": round(decode_s, 1),
            "dataset_bytes": train.images.numel()}


def run_data_bench(dataset: str | Path, batch: int = 64, image_size: int = 160,
                   workers: tuple[int, ...] = (1, 2, 4, 8), batches: int = 40,
                   out: str | Path | None = "runs/bench_data.json", data_root: Path | None = None) -> dict:
    """Time both suppliers; print a line each, write JSON."""
    if min(batch, image_size, batches) < 1 or min(workers) < 0:
        raise ValueError(f"--batch-size, --image-size and --batches must be at least 1 and --workers at "
                         f"least 0, got {batch}, {image_size}, {batches} and {list(workers)}")
    if out:
        check_output_file(out)  # before the benchmark, not after it
    device = resolve_device()
    rows = []
    print(f"{os.cpu_count()} CPU cores; {device}; batch {batch}, {image_size}px crops", flush=True)
    for w in workers:
        rows.append(time_loader(dataset, batch, image_size, w, max(batches, 4 * w)))
        print(f"  DataLoader, {w:>2} workers: {rows[-1]['images_per_s']:>9.1f} img/s", flush=True)
    rows.append(time_gpu_stream(dataset, batch, image_size, batches, device, data_root))
    print(f"  GPU stream ({device.type}): {rows[-1]['images_per_s']:>9.1f} img/s "
          f"(decoding once took {rows[-1]['decode_once_s']} s)", flush=True)
    report = {"dataset": str(dataset), "batch": batch, "image_size": image_size, "cpu_count": os.cpu_count(),
              "rows": rows, **environment(device)}
    if out:
        write_json(out, report)
        print(f"wrote {out}")
    return report
