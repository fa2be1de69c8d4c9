"""CIFAR data as in Sec. 4.1: decoded once to uint8 tensors, augmented on the device in whole batches.

The paper's CIFAR pipeline: pad 4 zero pixels on each side, take a random 32x32 crop of the image or of its
horizontal flip, subtract the per-pixel RGB mean. ``GPUBatchStream`` does exactly that to a batch at once,
with every random choice derived from ``(seed, epoch, position)`` so a resumed run sees the same batches.
``torchvision_loader`` is the same pipeline written with torchvision transforms, for reading.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from . import config
from .noisy_labels import corrupt_labels

__all__ = [
    "CIFAR_JPEG", "CifarData", "CifarSource", "DatasetNotFoundError", "GPUBatchStream", "ImageTensors",
    "SubtractPixelMean", "augment_batch", "find_cifar10", "load_image_tensors", "make_cifar_streams",
    "pixel_mean", "stratified_subset", "synthetic_dataset", "torchvision_loader",
]

#: The CIFAR-10 JPEG copy under the data root: ``<root>/cifar10-jpeg/<split>/<class>/NNNN.jpg``.
CIFAR_JPEG = "cifar10-jpeg"

_CIFAR = {"cifar10": ("CIFAR10", "cifar-10-batches-py", "CIFAR-10"),
          "cifar100": ("CIFAR100", "cifar-100-python", "CIFAR-100")}
_VALID = "'cifar10', 'cifar100', 'synthetic', or the path of an ImageFolder root with train/ and test/"
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".gif", ".tif", ".tiff", ".webp")
_QUICK_SIZES, _SYNTHETIC_SIZES = (2000, 500), (10000, 2000)
PAD = 4


class DatasetNotFoundError(FileNotFoundError):
    """A dataset that is not on disk, with where it was looked for and how to get it."""


@dataclass
class ImageTensors:
    """A whole split in memory: ``images`` uint8 ``[N, 3, H, W]``, ``labels`` int64 ``[N]``."""

    images: Tensor
    labels: Tensor
    classes: list[str]
    name: str

    def __len__(self) -> int:
        return len(self.labels)


def _seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (Python's ``hash`` changes between processes)."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)


def _not_found(what: str, where: Path, root: Path | None = None) -> DatasetNotFoundError:
    """The error for a missing dataset; ``root`` given: also how to get CIFAR there."""
    if root is None:
        return DatasetNotFoundError(f"{what} was not found at {where}. An ImageFolder root holds "
                                    "train/<class>/<image> and test/<class>/<image> (or val/ for test/).")
    return DatasetNotFoundError(
        f"{what} was not found at {where}.\n"
        "  - With internet access (e.g. Colab): pass download=True and torchvision fetches CIFAR.\n"
        f"  - Offline: put torchvision's 'cifar-10-batches-py' (or 'cifar-100-python') folder under {root} "
        "(or set RESATTN_DATA to the folder that holds it),\n"
        "    or pass the path of an ImageFolder copy with train/ and test/ subfolders as the dataset."
    )


def _folder_label(folder: Path) -> str:
    name = folder.name.lower().replace("-", "").replace("_", "")
    base = next((_CIFAR[k][2] for k in ("cifar100", "cifar10") if name.startswith(k)), folder.name)
    return f"{base} (JPEG copy)" if "jpeg" in name or "jpg" in name else base


def _resolve_folder(dataset: str | Path, root: Path) -> Path:
    path = Path(dataset).expanduser()
    if path.is_dir():
        return path
    if not path.is_absolute() and (root / path).is_dir():
        return root / path
    if isinstance(dataset, Path) or os.sep in str(dataset) or "/" in str(dataset):
        raise _not_found(f"The image folder '{dataset}'", path.resolve(), root)
    raise ValueError(f"unknown dataset {str(dataset)!r}; valid: {_VALID}")


def _split_dir(folder: Path, split: str) -> Path:
    names = ("train",) if split == "train" else ("test", "val")
    for name in names:
        if (folder / name).is_dir():
            return folder / name
    raise _not_found(f"The {split} split ({' or '.join(n + '/' for n in names)})", folder)


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _decode_folder(split_dir: Path, name: str) -> ImageTensors:
    """Decode ``<class>/<image>`` files (classes in sorted order, grayscale made RGB) into uint8 tensors."""
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    files = [(p, c) for c, cls in enumerate(classes) for p in sorted((split_dir / cls).iterdir())
             if p.suffix.lower() in _IMAGE_EXTENSIONS]
    if not files:
        raise _not_found(f"No <class>/<image> files ({', '.join(_IMAGE_EXTENSIONS)})", split_dir)
    images = None
    # PIL releases the GIL while decoding, so threads share the work
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for i, pixels in enumerate(pool.map(_read_rgb, [p for p, _ in files], chunksize=256)):
            if images is None:
                images = np.empty((len(files), *pixels.shape), dtype=np.uint8)
            if pixels.shape != images.shape[1:]:
                raise ValueError(f"{files[i][0]} is {pixels.shape[1]}x{pixels.shape[0]}, the first image "
                                 f"{images.shape[2]}x{images.shape[1]}; this loader needs one image size "
                                 "(use resattn_min.imagenet_data for images of varying size)")
            images[i] = pixels
    return ImageTensors(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
                        torch.tensor([c for _, c in files], dtype=torch.int64), classes, name)


def _decode_cifar(dataset: str, split: str, root: Path, download: bool) -> ImageTensors:
    import torchvision.datasets

    cls_name, folder, label = _CIFAR[dataset]
    try:
        ds = getattr(torchvision.datasets, cls_name)(str(root), train=split == "train", download=download)
    except RuntimeError as err:
        what = f"{label} (or a file of it that passes torchvision's md5 check)"
        raise _not_found(what, root / folder, root) from err
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
    return ImageTensors(images, torch.tensor(ds.targets, dtype=torch.int64), list(ds.classes), label)


def _save_atomic(obj: dict, path: Path) -> None:
    """Write to a temporary file beside ``path`` and rename it, so no reader ever sees half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_image_tensors(dataset: str | Path, split: str, root: Path | None = None,
                       download: bool = False) -> ImageTensors:
    """One split of CIFAR-10/100 or of an ImageFolder root, decoded once and cached under ``<root>/cache/``.

    ``split`` is ``"train"`` or ``"test"`` (a folder's ``val/`` serves as its test split). Delete the cache
    file to decode again after the images change.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root is not None else Path(config.DATA_ROOT)
    if str(dataset) in _CIFAR:
        cache = root / "cache" / f"{dataset}-{split}.pt"
    else:
        folder = _resolve_folder(dataset, root).resolve()
        key = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
        cache = root / "cache" / f"{folder.name}-{key}-{split}.pt"
    if cache.exists():
        return ImageTensors(**torch.load(cache, weights_only=True))
    if str(dataset) in _CIFAR:
        data = _decode_cifar(str(dataset), split, root, download)
    else:
        data = _decode_folder(_split_dir(folder, split), _folder_label(folder))
    _save_atomic(vars(data), cache)
    return data


class CifarSource(NamedTuple):
    """Which CIFAR-10 a machine has: the dataset name to give the package, whether torchvision may
    download it, and (for the synthetic stand-in) a note that says why."""

    name: str
    download: bool
    note: str = ""


def find_cifar10(root: Path | None = None) -> CifarSource:
    """The JPEG copy unpacked under the data root, else torchvision's CIFAR-10 (downloaded on Colab only),
    else the package's synthetic data, with a note saying where the files were looked for."""
    root = Path(root) if root is not None else Path(config.DATA_ROOT)
    if (root / CIFAR_JPEG / "train").is_dir():
        return CifarSource(CIFAR_JPEG, False)
    download = "google.colab" in sys.modules
    try:
        load_image_tensors("cifar10", "train", root, download=download)  # decoded once, then cached
        return CifarSource("cifar10", download)
    except DatasetNotFoundError as err:
        return CifarSource("synthetic", False, f"No CIFAR-10 on this machine. {err}")


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
    return ImageTensors(data.images[keep], data.labels[keep], data.classes, data.name)


@dataclass
class CifarData:
    """What a CIFAR run trains and tests on, and where it came from."""

    train: GPUBatchStream
    test: GPUBatchStream
    num_classes: int
    classes: list[str]
    source: str
    noise: dict | None


def make_cifar_streams(dataset: str, batch_size: int, *, device: str | torch.device = "cpu", seed: int = 0,
                       noise_ratio: float | None = None, quick: bool | None = None, root: Path | None = None,
                       download: bool = False, synthetic_fallback: bool = False) -> CifarData:
    """Train and test streams for ``dataset`` (``"cifar10"``, ``"cifar100"``, ``"synthetic"`` or a folder).

    Quick mode keeps a stratified slice. ``noise_ratio`` is Table 5's noise level ``1 - r``: the training
    labels are corrupted once, seeded, and the realised noise is returned in ``noise``.
    """
    quick = config.is_quick() if quick is None else quick
    sizes = _QUICK_SIZES if quick else _SYNTHETIC_SIZES
    num_classes = 100 if dataset == "cifar100" else 10
    if dataset == "synthetic":
        train, test = synthetic_dataset(*sizes, num_classes=num_classes, seed=seed)
    else:
        try:
            train, test = (load_image_tensors(dataset, s, root, download) for s in ("train", "test"))
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
    )
