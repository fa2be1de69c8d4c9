"""CIFAR data as in Sec. 4.1: decoded once to uint8 tensors, augmented on the device in whole batches.

The paper's CIFAR pipeline: pad 4 zero pixels on each side, take a random 32x32 crop of the image or of its
horizontal flip, subtract the per-pixel RGB mean. ``GPUBatchStream`` does exactly that to a batch at once,
with every random choice derived from ``(seed, epoch, position)`` so a resumed run sees the same batches.
``torchvision_loader`` is the same pipeline written with torchvision transforms, for reading. Decoding
the files once (and caching them) is ``decoded.load_image_tensors``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from . import config
from .decoded import (
    _CIFAR,
    CIFAR_JPEG,
    CifarSource,
    DatasetNotFoundError,
    ImageTensors,
    _resolve_folder,
    _split_dir,
    find_cifar10,
    load_image_tensors,
)
from .noisy_labels import corrupt_labels

__all__ = [
    "CIFAR_JPEG", "CifarData", "CifarSource", "DatasetNotFoundError", "GPUBatchStream", "ImageTensors",
    "SubtractPixelMean", "augment_batch", "find_cifar10", "load_image_tensors", "make_cifar_streams",
    "pixel_mean", "stratified_subset", "synthetic_dataset", "torchvision_loader",
]

_QUICK_SIZES, _SYNTHETIC_SIZES = (2000, 500), (10000, 2000)
PAD = 4


def _seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (Python's ``hash`` changes between processes)."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)


def synthetic_dataset(num_train: int, num_test: int, num_classes: int = 10, image_size: int = 32,
                      seed: int = 0) -> tuple[ImageTensors, ImageTensors]:
    """A learnable stand-in for CIFAR: each class is a colour and a stripe orientation, under noise."""
    # evenly spaced hues (a cosine colour wheel) so that classes differ clearly in colour
    hue = torch.arange(num_classes).view(-1, 1) * 2 * math.pi / num_classes
    colours = (0.5 + 0.45 * torch.cos(hue - torch.tensor([0.0, 2.1, 4.2]))).view(num_classes, 3, 1, 1)
    angles = torch.arange(num_classes) * math.pi / num_classes
    coords = torch.arange(image_size, dtype=torch.float32) / image_size
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")

    def draw(n: int, sample_seed: int) -> ImageTensors:
        g = torch.Generator().manual_seed(sample_seed)
        labels = torch.arange(n) % num_classes
        labels = labels[torch.randperm(n, generator=g)]
        phase = torch.rand(n, 1, 1, generator=g) * 2 * math.pi
        a = angles[labels].view(n, 1, 1)
        stripes = 0.5 + 0.5 * torch.sin(2 * math.pi * 3 * (xx * a.cos() + yy * a.sin()) + phase)
        images = colours[labels] * (0.6 + 0.4 * stripes.unsqueeze(1))
        images = images + 0.08 * torch.randn(images.shape, generator=g)
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
        return ImageTensors(images, labels, [f"class{c}" for c in range(num_classes)], "synthetic")

    return draw(num_train, _seed(seed, 0)), draw(num_test, _seed(seed, 1))


def pixel_mean(images_u8: Tensor) -> Tensor:
    """The per-pixel RGB mean of Sec. 4.1, ``[3, H, W]`` in [0, 1] (summed in chunks to spare memory)."""
    total = torch.zeros(images_u8.shape[1:], dtype=torch.float64, device=images_u8.device)
    for chunk in images_u8.split(4096):
        total += chunk.sum(0, dtype=torch.float64)
    return (total / (255.0 * len(images_u8))).float()


def augment_batch(images_u8: Tensor, dy: Tensor, dx: Tensor, flip: Tensor) -> Tensor:
    """Crop ``H x W`` windows at offsets ``(dy, dx)`` of the zero-padded images, then flip where ``flip``.

    One gather for the whole batch: output pixel ``(i, j)`` reads padded pixel ``(i + dy, j + dx)``
    (``j`` mirrored for flipped images). Offsets lie in ``[0, 2 * PAD]``; uint8 in, uint8 out.
    """
    b, _, h, w = images_u8.shape
    padded = torch.nn.functional.pad(images_u8, (PAD, PAD, PAD, PAD)).permute(0, 2, 3, 1)
    dev = images_u8.device
    rows = dy.to(dev).view(b, 1) + torch.arange(h, device=dev)
    cols = torch.arange(w, device=dev).expand(b, w)
    cols = torch.where(flip.to(dev).view(b, 1), cols.flip(1), cols) + dx.to(dev).view(b, 1)
    batch = torch.arange(b, device=dev).view(b, 1, 1)
    return padded[batch, rows.view(b, h, 1), cols.view(b, 1, w)].permute(0, 3, 1, 2)


class GPUBatchStream:
    """The whole uint8 dataset on ``device``, served as normalised float batches.

    ``train=True``: an endless iterator; each epoch is a permutation seeded by ``(seed, epoch)`` and each
    batch's crops and flips by ``(seed, epoch, position)``, so ``state_dict()`` (epoch, position) is all a
    resumed run needs to see the same batches. ``train=False``: one pass in order, no augmentation, the
    last batch may be short.
    """

    def __init__(self, images_u8: Tensor, labels: Tensor, batch_size: int, *, train: bool = True,
                 mean: Tensor | None = None, device: str | torch.device = "cpu", seed: int = 0,
                 drop_last: bool = True) -> None:
        if images_u8.dtype != torch.uint8 or images_u8.dim() != 4:
            raise ValueError("images_u8 must be a uint8 tensor [N, 3, H, W]")
        self.device = torch.device(device)
        self.images = images_u8.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        self.mean = (pixel_mean(images_u8) if mean is None else mean).to(self.device, torch.float32)
        if batch_size < 1:
            raise ValueError(f"the batch size must be at least 1, got {batch_size}")
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.drop_last = drop_last and train
        self.num_samples = len(self.labels)
        steps = self.num_samples / batch_size
        self.steps_per_epoch = math.floor(steps) if self.drop_last else math.ceil(steps)
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.num_samples} samples make no batch of {batch_size}")
        self.epoch, self.position = 0, 0
        self._perm: tuple[int, Tensor] | None = None

    def __len__(self) -> int:
        return self.steps_per_epoch

    def _normalise(self, images_u8: Tensor) -> Tensor:
        return images_u8.float().div_(255.0).sub_(self.mean)

    def _order(self) -> Tensor:
        if self._perm is None or self._perm[0] != self.epoch:
            g = torch.Generator().manual_seed(_seed(self.seed, self.epoch))
            self._perm = (self.epoch, torch.randperm(self.num_samples, generator=g).to(self.device))
        return self._perm[1]

    def __iter__(self):
        if self.train:
            return self
        return (self._eval_batch(i) for i in range(self.steps_per_epoch))

    def _eval_batch(self, i: int) -> tuple[Tensor, Tensor]:
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self._evaluation_view(self.images[sl]), self.labels[sl]

    def _evaluation_view(self, images_u8: Tensor) -> Tensor:
        """What the network sees of a test batch: the images themselves, mean-subtracted."""
        return self._normalise(images_u8)

    def __next__(self) -> tuple[Tensor, Tensor]:
        if not self.train:
            raise TypeError("an evaluation stream is a finite pass: iterate it with a for loop")
        if self.position >= self.steps_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        start = self.position * self.batch_size
        idx = self._order()[start:start + self.batch_size]
        g = torch.Generator().manual_seed(_seed(self.seed, self.epoch, self.position))
        self.position += 1
        return self._augment(self.images.index_select(0, idx), g), self.labels[idx]

    def _augment(self, images_u8: Tensor, generator: torch.Generator) -> Tensor:
        """The paper's CIFAR augmentation of one batch, every random choice drawn from ``generator``."""
        n = len(images_u8)
        dy, dx = torch.randint(0, 2 * PAD + 1, (2, n), generator=generator)
        flip = torch.rand(n, generator=generator) < 0.5
        return self._normalise(augment_batch(images_u8, dy, dx, flip))

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "batch_size": self.batch_size, "num_samples": self.num_samples}

    def load_state_dict(self, state: dict) -> None:
        for key in ("seed", "batch_size", "num_samples"):
            if state[key] != getattr(self, key):
                raise ValueError(f"cannot resume: the saved stream had {key}={state[key]}, "
                                 f"this one has {getattr(self, key)}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


class SubtractPixelMean:
    """The last transform of the CIFAR pipeline: ``x - mean`` with a ``[3, H, W]`` per-pixel mean."""

    def __init__(self, mean: Tensor) -> None:
        self.mean = mean

    def __call__(self, x: Tensor) -> Tensor:
        return x - self.mean


def torchvision_loader(dataset_root_or_name: str | Path, train: bool, batch_size: int, workers: int = 2,
                       mean: Tensor | None = None) -> torch.utils.data.DataLoader:
    """The same CIFAR pipeline, the textbook way: torchvision transforms and a ``DataLoader``."""
    import torchvision.datasets
    from torchvision import transforms

    if mean is None:  # the per-pixel mean of the training split (its decoded cache makes this quick)
        mean = pixel_mean(load_image_tensors(dataset_root_or_name, "train").images)
    steps = [transforms.RandomCrop(tuple(mean.shape[1:]), padding=PAD, fill=0),
             transforms.RandomHorizontalFlip()] if train else []
    tf = transforms.Compose([*steps, transforms.ToTensor(), SubtractPixelMean(mean)])
    name = str(dataset_root_or_name)
    if name in _CIFAR:
        ds = getattr(torchvision.datasets, _CIFAR[name][0])(str(config.DATA_ROOT), train=train, transform=tf)
    else:
        folder = _resolve_folder(name, Path(config.DATA_ROOT))
        ds = torchvision.datasets.ImageFolder(str(_split_dir(folder, "train" if train else "test")), tf)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=train, drop_last=train,
                                       num_workers=workers, pin_memory=torch.cuda.is_available(),
                                       persistent_workers=workers > 0)


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


@dataclass
class CifarData:
    """What a CIFAR run trains and tests on, and where it came from.

    ``skipped``: the unreadable image files left out (``on_bad_image="skip"``); a DataLoader pipeline adds
    them as its workers meet them.
    """

    train: GPUBatchStream
    test: GPUBatchStream
    num_classes: int
    classes: list[str]
    source: str
    noise: dict | None
    skipped: set[str] = field(default_factory=set)


def make_cifar_streams(dataset: str, batch_size: int, *, device: str | torch.device = "cpu", seed: int = 0,
                       noise_ratio: float | None = None, quick: bool | None = None, root: Path | None = None,
                       download: bool = False, synthetic_fallback: bool = False,
                       on_bad_image: str = "error") -> CifarData:
    """Train and test streams for ``dataset`` (``"cifar10"``, ``"cifar100"``, ``"synthetic"`` or a folder).

    Quick mode keeps a stratified slice. ``noise_ratio`` is Table 5's noise level ``1 - r``: the training
    labels are corrupted once, seeded, and the realised noise is returned in ``noise``. ``on_bad_image``
    (an image folder): refuse (``"error"``) or leave out (``"skip"``) unreadable files.
    """
    quick = config.is_quick() if quick is None else quick
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
    return CifarData(
        GPUBatchStream(train.images, labels, batch_size, train=True, mean=mean, device=device, seed=seed),
        GPUBatchStream(test.images, test.labels, batch_size, train=False, mean=mean, device=device),
        num_classes=len(train.classes), classes=train.classes, source=train.name, noise=noise,
        skipped={*train.skipped, *test.skipped},
    )
