"""ImageNet data as in Sec. 4.2 (also used for Imagenette): decoded by DataLoader workers, one JPEG at a time.

Training images get scale and aspect-ratio augmentation (a random resized crop), a horizontal flip and the
"standard color augmentation [20]" (AlexNet): its PCA lighting noise, and the colour jitter (brightness,
contrast, saturation by up to 40%) that fb.resnet.torch added beside it, which AlexNet did not use; then
they are scaled to [0, 1], mean-subtracted and divided by the standard deviation. Evaluation uses one
centre crop, at 224 or 320.
"""

from __future__ import annotations

import signal
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from torchvision import datasets, transforms

from .bad_images import BAD_IMAGE_POLICIES, recheck
from .stream import check_resumable

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "LoaderStream", "PCALighting", "ResumableSampler", "ScreenedImageFolder",
    "STOP_SIGNALS", "ShardSampler", "ignore_stop_signals", "imagenet_loaders", "imagenet_transforms",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# principal components of ImageNet's RGB pixels (eigenvalues, eigenvectors as columns), as used by AlexNet
_EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
_EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


class PCALighting:
    """AlexNet's lighting noise: add ``V (alpha * lambda)`` to all pixels, ``alpha ~ N(0, std)`` per image."""

    def __init__(self, std: float = 0.1) -> None:
        self.std = std

    def __call__(self, image: Tensor) -> Tensor:
        alpha = torch.randn(3) * self.std
        return image + (_EIGVEC @ (alpha * _EIGVAL)).view(3, 1, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(std={self.std})"


def imagenet_transforms(train: bool, image_size: int = 224,
                        resize_size: int | None = None) -> transforms.Compose:
    """Training: random resized crop, flip, colour jitter, PCA lighting. Evaluation: resize, centre crop.

    ``resize_size`` is the shorter side before the centre crop (default ``image_size / 0.875``, i.e. 256 for
    224 and 366 for 320); for images already small (Imagenette at 160 px) pass it to crop less.
    """
    normalise = [transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train:
        return transforms.Compose([
            transforms.RandomResizedCrop(image_size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
            transforms.RandomHorizontalFlip(),
            transforms.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
            transforms.ToTensor(),
            PCALighting(0.1),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ])
    resize = resize_size if resize_size is not None else round(image_size / 0.875)
    return transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(image_size), *normalise])


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (one shard per rank, reshuffled by ``set_epoch``) that can start mid-epoch.

    ``start`` skips the first indices of this epoch's shard: a resumed run continues where it stopped
    without decoding the images it already saw.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.start = 0

    def __iter__(self):
        return iter(list(super().__iter__())[self.start:])

    def __len__(self) -> int:
        return self.num_samples - self.start


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...`` in order: every rank evaluates its share, no sample twice."""

    def __init__(self, length: int, num_replicas: int, rank: int) -> None:
        self.indices = range(rank, length, num_replicas)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class ScreenedImageFolder(datasets.ImageFolder):
    """``ImageFolder`` whose unreadable files come back as a blank ``size`` x ``size`` image labelled
    ``-(index + 1)``; :meth:`screen` (in the main process) refuses or drops them by ``on_bad_image``.

    ``skipped`` collects the paths left out; loaders of one dataset may share one set.
    """

    def __init__(self, root: str | Path, transform, size: int, on_bad_image: str = "error",
                 skipped: set[str] | None = None) -> None:
        super().__init__(str(root), transform)
        if on_bad_image not in BAD_IMAGE_POLICIES:
            raise ValueError(f"on_bad_image must be one of {BAD_IMAGE_POLICIES}, got {on_bad_image!r}")
        self.blank = torch.zeros(3, size, size)
        self.on_bad_image = on_bad_image
        self.skipped = set() if skipped is None else skipped

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        path, label = self.samples[index]
        try:
            image = self.loader(path)  # decodes the whole file: a truncated one fails here
        except Exception:  # the main process re-reads it for the reason (see screen)
            return self.blank, -(index + 1)
        return self.transform(image), label

    def screen(self, images: Tensor, labels: Tensor, keep_size: bool) -> tuple[Tensor, Tensor]:
        """A batch with its unreadable images refused (``"error"``) or skipped (``"skip"``).

        ``keep_size`` (training: fixed shapes) fills their places with other images of the batch;
        otherwise (evaluation) they are dropped, so no blank image is ever scored.
        """
        bad = labels < 0
        if not bad.any():
            return images, labels
        paths = [self.samples[-int(label) - 1][0] for label in labels[bad]]
        if self.on_bad_image == "error":
            raise recheck(paths[0])
        for path in paths:
            if path not in self.skipped:
                self.skipped.add(path)
                print(f"note: skipping {path}: {recheck(path).reason}", flush=True)
        if not keep_size:
            return images[~bad], labels[~bad]
        good = (~bad).nonzero().flatten()
        if not len(good):
            raise ValueError(f"no image of a batch is readable (e.g. {paths[0]}); is the folder damaged?")
        fill = good[torch.arange(int(bad.sum())) % len(good)]
        images, labels = images.clone(), labels.clone()
        images[bad], labels[bad] = images[fill], labels[fill]
        return images, labels


def _rank_world(distributed: bool) -> tuple[int, int]:
    if not distributed:
        return 0, 1
    if not torch.distributed.is_initialized():
        raise RuntimeError("distributed=True needs torch.distributed.init_process_group() first (torchrun)")
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


#: The signals that stop a run cleanly (``train.stopping``); DataLoader workers ignore them.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def ignore_stop_signals(worker_id: int) -> None:
    """For DataLoader workers: Ctrl-C reaches the whole process group, and a worker killed by it would fail
    the batch the main process waits for before it could save its checkpoint; the main process ends them."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def imagenet_loaders(root: str | Path, batch_size: int, *, workers: int = 4, image_size: int = 224,
                     eval_size: int | None = None, eval_resize: int | None = None, distributed: bool = False,
                     seed: int = 0, on_bad_image: str = "error") -> tuple[DataLoader, DataLoader]:
    """Train and validation loaders over ``root/train`` and ``root/val`` (ImageFolder, RGB).

    ``batch_size`` is per process. With ``distributed`` each rank reads its own shard of both splits.
    The training loader's sampler is a ``ResumableSampler``, which ``LoaderStream`` drives. Unreadable
    files come as marked blanks (``ScreenedImageFolder``), which ``LoaderStream`` and
    ``bad_images.ScreenedBatches`` refuse or skip by ``on_bad_image``; both splits share one
    ``dataset.skipped`` set.
    """
    root = Path(root)
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise FileNotFoundError(f"{root / split} is missing: imagenet_loaders needs an ImageFolder root "
                                    "with train/<class>/* and val/<class>/* (e.g. unpacked Imagenette)")
    rank, world = _rank_world(distributed)
    train_set = ScreenedImageFolder(root / "train", imagenet_transforms(True, image_size), image_size,
                                    on_bad_image)
    crop = eval_size or image_size
    val_set = ScreenedImageFolder(root / "val", imagenet_transforms(False, crop, eval_resize), crop,
                                  on_bad_image, train_set.skipped)
    common = dict(num_workers=workers, pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0,
                  worker_init_fn=ignore_stop_signals)
    train = DataLoader(train_set, batch_size, sampler=ResumableSampler(train_set, world, rank, seed=seed),
                       drop_last=True, generator=torch.Generator().manual_seed(seed), **common)
    val = DataLoader(val_set, batch_size, sampler=ShardSampler(len(val_set), world, rank), **common)
    return train, val


class LoaderStream:
    """A training ``DataLoader`` as an endless stream of batches on ``device``, resumable like DeviceBatchStream.

    ``state_dict()`` holds the epoch and the batches consumed in it; loading it sets the sampler's epoch
    and skips those batches' indices. (The random crops themselves are drawn in the workers and are not
    replayed.) Unreadable images are refused or replaced by others of the batch (``on_bad_image``).
    """

    def __init__(self, loader: DataLoader, device: str | torch.device = "cpu") -> None:
        if (not isinstance(loader.sampler, ResumableSampler) or not loader.drop_last
                or not isinstance(loader.dataset, ScreenedImageFolder)):
            raise TypeError("LoaderStream needs a training loader from imagenet_loaders "
                            "(a ResumableSampler, drop_last=True and a ScreenedImageFolder)")
        self.loader, self.sampler = loader, loader.sampler
        self.device = torch.device(device)
        self.batch_size = loader.batch_size
        self.num_samples = len(loader.dataset)
        self.steps_per_epoch = self.sampler.num_samples // self.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{self.sampler.num_samples} training images (per process) make no batch of "
                             f"{self.batch_size}; give a smaller --batch-size")
        self.epoch, self.position = 0, 0
        self._batches = None

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __iter__(self) -> LoaderStream:
        return self

    def __next__(self) -> tuple[Tensor, Tensor]:
        if self.position >= self.steps_per_epoch:
            self.epoch, self.position, self._batches = self.epoch + 1, 0, None
        if self._batches is None:
            self.sampler.set_epoch(self.epoch)
            self.sampler.start = self.position * self.batch_size
            self._batches = iter(self.loader)
        images, labels = self.loader.dataset.screen(*next(self._batches), keep_size=True)
        self.position += 1
        return images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "batch_size": self.batch_size,
                "num_samples": self.num_samples}

    def load_state_dict(self, state: dict) -> None:
        check_resumable(state, self, ("batch_size", "num_samples"))
        self.epoch, self.position, self._batches = int(state["epoch"]), int(state["position"]), None

