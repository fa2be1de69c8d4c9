"""A whole dataset in device memory, served as augmented batches that a resumed run sees again.

``DeviceBatchStream`` keeps the uint8 images on its device (the GPU when there is one, else the CPU) and
augments a batch at a time (``augment.py``), every random choice derived from ``(seed, epoch, position)``
(:func:`stable_seed`).
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import Tensor

from .augment import PAD, augment_batch, pixel_mean

__all__ = ["DeviceBatchStream", "check_resumable", "stable_seed"]


def stable_seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (Python's ``hash`` changes between processes)."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)


def check_resumable(state: dict, stream: object, keys: tuple[str, ...]) -> None:
    """Refuse a saved position that belongs to another stream: a run resumes on the batches it left only
    if the stream has the same ``keys`` (seed, batch size, number of samples) as the one it saved."""
    for key in keys:
        if state[key] != getattr(stream, key):
            raise ValueError(f"cannot resume: the saved stream had {key}={state[key]}, "
                             f"this one has {getattr(stream, key)}")


class DeviceBatchStream:
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
            g = torch.Generator().manual_seed(stable_seed(self.seed, self.epoch))
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
        g = torch.Generator().manual_seed(stable_seed(self.seed, self.epoch, self.position))
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
        check_resumable(state, self, ("seed", "batch_size", "num_samples"))
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
