"""CIFAR data as in Sec. 4.1: decoded once to uint8 tensors, augmented on the device in whole batches.

The paper's CIFAR pipeline: pad 4 zero pixels on each side, take a random 32x32 crop of the image or of its
horizontal flip, subtract the per-pixel RGB mean. ``stream.DeviceBatchStream`` does exactly that to a
batch at once, with every random choice derived from ``(seed, epoch, position)`` so a resumed run sees the
same batches; ``textbook.torchvision_loader`` is the same pipeline written with torchvision transforms,
for reading. Decoding the files once (and caching them) is ``decoded.load_image_tensors``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .. import env
from .augment import pixel_mean
from .decoded import DatasetNotFoundError, ImageTensors, load_image_tensors
from .noisy_labels import corrupt_labels
from .run_data import RunData
from .stream import DeviceBatchStream
from .synthetic import synthetic_dataset

__all__ = ["make_cifar_streams", "stratified_subset", "TEST_BATCH"]

#: Test images per forward pass (at least the training batch). The network is in eval mode, where
#: BatchNorm uses its running statistics and each image is classified alone, so the error does not depend
#: on it; the time does: at 64 an evaluation of CIFAR-10's 10,000 test images took 2.6-3.5 s on an H200
#: (157 latency-bound forward passes), a fifth of a two-minute lesson's 20 evaluations.
TEST_BATCH = 500

_QUICK_SIZES, _SYNTHETIC_SIZES = (2000, 500), (10000, 2000)


def stratified_subset(data: ImageTensors, n: int, seed: int = 0) -> ImageTensors:
    """``n`` samples drawn at random with each class kept in its proportion (quick mode's slice)."""
    if n >= len(data):
        return data
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    order = torch.argsort(data.labels[perm], stable=True)
    sorted_labels = data.labels[perm][order]
    counts = torch.bincount(sorted_labels)
    rank = torch.arange(len(data)) - (counts.cumsum(0) - counts)[sorted_labels]
    # taking the smallest rank-within-class / class-size interleaves the classes proportionally
    keep = perm[order[torch.argsort(rank / counts[sorted_labels], stable=True)[:n]]].sort().values
    return ImageTensors(data.images[keep], data.labels[keep], data.classes, data.name, data.skipped)


def make_cifar_streams(dataset: str, batch_size: int, *, device: str | torch.device = "cpu", seed: int = 0,
                       noise_ratio: float | None = None, quick: bool | None = None, root: Path | None = None,
                       download: bool = False, synthetic_fallback: bool = False,
                       on_bad_image: str = "error", test_batch_size: int | None = None) -> RunData:
    """Train and test streams for ``dataset`` (``"cifar10"``, ``"cifar100"``, ``"synthetic"`` or a folder).
    The test stream serves ``test_batch_size`` images at a time (default: :data:`TEST_BATCH`, at least
    ``batch_size``).

    Quick mode keeps a stratified slice. ``noise_ratio`` is Table 5's noise level ``1 - r``: the training
    labels are corrupted once, seeded, and the realised noise is returned in ``noise``. ``on_bad_image``
    (an image folder): refuse (``"error"``) or leave out (``"skip"``) unreadable files.
    """
    quick = env.is_quick() if quick is None else quick
    sizes = _QUICK_SIZES if quick else _SYNTHETIC_SIZES
    num_classes = 100 if dataset == "cifar100" else 10
    if dataset == "synthetic":
        train, test = synthetic_dataset(*sizes, num_classes=num_classes, seed=seed)
    else:
        try:
            train, test = (load_image_tensors(dataset, s, root, download, on_bad_image)
                           for s in ("train", "test"))
        except DatasetNotFoundError as err:
            if not synthetic_fallback:
                raise
            print(f"{str(err).splitlines()[0]} Using synthetic data instead (synthetic_fallback=True).")
            train, test = synthetic_dataset(*sizes, num_classes=num_classes, seed=seed)
    if train.classes != test.classes:
        raise ValueError(f"train and test classes differ: {train.classes} vs {test.classes}")
    if quick:
        train, test = stratified_subset(train, sizes[0], seed), stratified_subset(test, sizes[1], seed)
    labels, noise = train.labels, None
    if noise_ratio is not None:
        if not 0.0 <= noise_ratio <= 1.0:
            raise ValueError(f"noise_ratio (Table 5's noise level, 1 - r) must be in [0, 1]: {noise_ratio}")
        labels, noise = corrupt_labels(train.labels, 1.0 - noise_ratio, len(train.classes), seed)
        noise["noise_ratio"] = float(noise_ratio)
    mean = pixel_mean(train.images)
    return RunData(
        DeviceBatchStream(train.images, labels, batch_size, train=True, mean=mean, device=device, seed=seed),
        DeviceBatchStream(test.images, test.labels, test_batch_size or max(batch_size, TEST_BATCH),
                          train=False, mean=mean, device=device),
        num_classes=len(train.classes), classes=train.classes, source=train.name, noise=noise,
        skipped={*train.skipped, *test.skipped},
    )
