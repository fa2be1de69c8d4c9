"""Datasets decoded once into uint8 tensors and cached: CIFAR's files or an ImageFolder of images.

``load_image_tensors`` decodes a split once and keeps it under ``<data root>/cache/``. A folder's cache
records a fingerprint of its files (names, sizes, modification times); when the folder changes (a new
class, new, removed or edited files) or the cache file is damaged, the split is decoded again. Unreadable
image files are refused or skipped as ``on_bad_image`` says (``bad_images``).
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from .. import env
from ..atomic import write_atomic
from .bad_images import BAD_IMAGE_POLICIES, BadImageError, read_rgb

__all__ = ["CIFAR_JPEG", "CifarSource", "DatasetNotFoundError", "ImageTensors", "find_cifar10",
           "load_image_tensors"]

#: The CIFAR-10 JPEG copy under the data root: ``<root>/cifar10-jpeg/<split>/<class>/NNNN.jpg``.
CIFAR_JPEG = "cifar10-jpeg"

_CIFAR = {"cifar10": ("CIFAR10", "cifar-10-batches-py", "CIFAR-10"),
          "cifar100": ("CIFAR100", "cifar-100-python", "CIFAR-100")}
_VALID = "'cifar10', 'cifar100', 'synthetic', or the path of an ImageFolder root with train/ and test/"
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".gif", ".tif", ".tiff", ".webp")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset that is not on disk, with where it was looked for and how to get it."""


@dataclass
class ImageTensors:
    """A whole split in memory: ``images`` uint8 ``[N, 3, H, W]``, ``labels`` int64 ``[N]``.

    ``skipped``: the unreadable image files left out (``on_bad_image="skip"``).
    """

    images: Tensor
    labels: Tensor
    classes: list[str]
    name: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


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



def _list_images(split_dir: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """The class folders (sorted) and every ``<class>/<image>`` file with its class index."""
    classes = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    files = [(p, c) for c, cls in enumerate(classes) for p in sorted((split_dir / cls).iterdir())
             if p.suffix.lower() in _IMAGE_EXTENSIONS]
    return classes, files


def _fingerprint(split_dir: Path) -> str:
    """A hash of the split's class folders and files with their sizes and modification times."""
    digest = hashlib.sha256()
    for path, label in _list_images(split_dir)[1]:
        stat = path.stat()
        digest.update(f"{label}/{path.name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _try_read(path: Path) -> np.ndarray | BadImageError:
    try:
        return read_rgb(path)
    except BadImageError as err:
        return err


def _decode_folder(split_dir: Path, name: str, on_bad_image: str = "error") -> ImageTensors:
    """Decode ``<class>/<image>`` files (classes in sorted order, grayscale made RGB) into uint8 tensors."""
    classes, files = _list_images(split_dir)
    if not files:
        raise _not_found(f"No <class>/<image> files ({', '.join(_IMAGE_EXTENSIONS)})", split_dir)
    images, labels, skipped = None, [], []
    # PIL releases the GIL while decoding, so threads share the work
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        decoded = pool.map(_try_read, [p for p, _ in files], chunksize=256)
        for (path, label), pixels in zip(files, decoded, strict=True):
            if isinstance(pixels, BadImageError):
                if on_bad_image == "error":
                    raise pixels
                print(f"note: skipping {path}: {pixels.reason}", flush=True)
                skipped.append(str(path))
                continue
            if images is None:
                images = np.empty((len(files), *pixels.shape), dtype=np.uint8)
            if pixels.shape != images.shape[1:]:
                raise ValueError(f"{path} is {pixels.shape[1]}x{pixels.shape[0]}, the first image "
                                 f"{images.shape[2]}x{images.shape[1]}; this loader needs one image size "
                                 "(use resattn_min.data.imagenet for images of varying size)")
            images[len(labels)] = pixels
            labels.append(label)
    if images is None:
        raise ValueError(f"none of the {len(files)} image files under {split_dir} is readable")
    return ImageTensors(torch.from_numpy(images[:len(labels)]).permute(0, 3, 1, 2).contiguous(),
                        torch.tensor(labels, dtype=torch.int64), classes, name, skipped)


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



def load_image_tensors(dataset: str | Path, split: str, root: Path | None = None,
                       download: bool = False, on_bad_image: str = "error") -> ImageTensors:
    """One split of CIFAR-10/100 or of an ImageFolder root, decoded once and cached under ``<root>/cache/``.

    ``split`` is ``"train"`` or ``"test"`` (a folder's ``val/`` serves as its test split). A folder is
    decoded again when its files changed since the cache was written. ``on_bad_image``: ``"error"``
    refuses an unreadable image file (named), ``"skip"`` leaves it out (listed in ``skipped``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if on_bad_image not in BAD_IMAGE_POLICIES:
        raise ValueError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {on_bad_image!r}")
    root = Path(root) if root is not None else Path(env.DATA_ROOT)
    if str(dataset) in _CIFAR:
        cache, split_dir = root / "cache" / f"{dataset}-{split}.pt", None
    else:
        folder = _resolve_folder(dataset, root).resolve()
        key = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
        cache, split_dir = root / "cache" / f"{folder.name}-{key}-{split}.pt", _split_dir(folder, split)
    fingerprint = _fingerprint(split_dir) if split_dir else None  # torchvision checks CIFAR's md5
    data = _read_cache(cache, fingerprint)
    if data is None:
        if split_dir is None:
            data = _decode_cifar(str(dataset), split, root, download)
        else:
            data = _decode_folder(split_dir, _folder_label(folder), on_bad_image)
        write_atomic(cache, lambda f: torch.save({**vars(data), "fingerprint": fingerprint}, f))
    if data.skipped and on_bad_image == "error":  # the cache was made by a run that skipped it
        raise BadImageError(data.skipped[0], "left out by an earlier --on-bad-image skip")
    return data


def _read_cache(cache: Path, fingerprint: str | None) -> ImageTensors | None:
    """The cached split, or None (with a note) when it is missing, damaged or older than the files."""
    if not cache.exists():
        return None
    try:
        saved = torch.load(cache, weights_only=True)
    except Exception as err:  # a truncated or overwritten file: decode again and replace it
        print(f"note: the decoded-image cache {cache} is unreadable ({type(err).__name__}); decoding the "
              "images again", flush=True)
        return None
    if saved.pop("fingerprint", None) != fingerprint:
        print(f"note: the images changed since {cache} was written; decoding them again", flush=True)
        return None
    return ImageTensors(**saved)



class CifarSource(NamedTuple):
    """Which CIFAR-10 a machine has: the dataset name to give the package, whether torchvision may
    download it, and (for the synthetic stand-in) a note that says why."""

    name: str
    download: bool
    note: str = ""


def find_cifar10(root: Path | None = None) -> CifarSource:
    """The JPEG copy unpacked under the data root, else torchvision's CIFAR-10 (downloaded on Colab only),
    else the package's synthetic data, with a note saying where the files were looked for."""
    root = Path(root) if root is not None else Path(env.DATA_ROOT)
    if (root / CIFAR_JPEG / "train").is_dir():
        return CifarSource(CIFAR_JPEG, False)
    download = "google.colab" in sys.modules
    try:
        load_image_tensors("cifar10", "train", root, download=download)  # decoded once, then cached
        return CifarSource("cifar10", download)
    except DatasetNotFoundError as err:
        return CifarSource("synthetic", False, f"No CIFAR-10 on this machine. {err}")


