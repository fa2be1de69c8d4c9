"""The CIFAR pipeline of Sec. 4.1 the textbook way: torchvision transforms and a ``DataLoader``.

The package trains with ``stream.DeviceBatchStream`` (the same augmentation on whole batches, on the
device); this loader is the same pipeline written for reading, and the tests check that both agree.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .. import env
from .augment import PAD, pixel_mean
from .decoded import _CIFAR, _resolve_folder, _split_dir, load_image_tensors

__all__ = ["SubtractPixelMean", "torchvision_loader"]


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
        ds = getattr(torchvision.datasets, _CIFAR[name][0])(str(env.DATA_ROOT), train=train, transform=tf)
    else:
        folder = _resolve_folder(name, Path(env.DATA_ROOT))
        ds = torchvision.datasets.ImageFolder(str(_split_dir(folder, "train" if train else "test")), tf)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=train, drop_last=train,
                                       num_workers=workers, pin_memory=torch.cuda.is_available(),
                                       persistent_workers=workers > 0)
