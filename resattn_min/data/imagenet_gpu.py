"""The ImageNet augmentation of ``imagenet.py`` done on the GPU, a whole batch at once.

The DataLoader pipeline decodes and augments every image in PIL on a CPU core, a few milliseconds each; a
GPU trains Attention-56 at 160 px faster than a dozen cores can feed it. A dataset small enough to keep
decoded (Imagenette: 9,469 images of 160 x 160, 0.7 GB as uint8) need not be decoded again: ``--loader
gpu`` decodes it once (``load_image_tensors``, cached on disk), keeps it on the GPU and augments there.

The augmentations are those of ``imagenet_transforms``: a random resized crop (area 8-100%, aspect 3/4-4/3)
and a horizontal flip, done together as one affine resampling per image; fb.resnet.torch's colour jitter
(brightness, contrast, saturation, each by up to 40%, applied in that order rather than a random one);
AlexNet's PCA lighting noise; normalisation. Every random number comes from ``(seed, epoch, position)``, as in
``DeviceBatchStream``, so a resumed run sees the very same batches. Bilinear resampling without antialiasing
matches PIL's for crops no larger than the output (always so when training at the images' own size).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .stream import DeviceBatchStream
from .imagenet import _EIGVAL, _EIGVEC, IMAGENET_MEAN, IMAGENET_STD

__all__ = ["ImageNetGPUStream", "colour_jitter", "crop_boxes", "resized_crops"]

_GREY = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, as torchvision computes grayscale


def crop_boxes(n: int, height: int, width: int, generator: torch.Generator, scale=(0.08, 1.0),
               ratio=(3 / 4, 4 / 3), attempts: int = 10) -> Tensor:
    """``n`` random-resized-crop boxes ``[top, left, h, w]`` (int64), drawn as torchvision draws them.

    Up to ``attempts`` tries per image of an area fraction uniform in ``scale`` and an aspect ratio
    log-uniform in ``ratio``; the first box that fits is kept, and an image where none fits gets the
    largest centred box of an allowed aspect ratio.
    """
    area = height * width
    target = area * torch.empty(n, attempts).uniform_(*scale, generator=generator)
    aspect = torch.exp(torch.empty(n, attempts).uniform_(math.log(ratio[0]), math.log(ratio[1]),
                                                          generator=generator))
    w = torch.sqrt(target * aspect).round().long()
    h = torch.sqrt(target / aspect).round().long()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.long().argmax(1)  # index of the first fitting attempt (0 if none fits)
    h, w = h.gather(1, first[:, None])[:, 0], w.gather(1, first[:, None])[:, 0]
    top = (torch.rand(n, generator=generator) * (height - h + 1)).floor().long()
    left = (torch.rand(n, generator=generator) * (width - w + 1)).floor().long()
    none = ~fits.any(1)
    if none.any():  # the fallback: a centre crop with the aspect ratio clamped into ``ratio``
        in_ratio = width / height
        fw, fh = ((width, round(width / ratio[0])) if in_ratio < ratio[0] else
                  (round(height * ratio[1]), height) if in_ratio > ratio[1] else (width, height))
        h[none], w[none] = fh, fw
        top[none], left[none] = (height - fh) // 2, (width - fw) // 2
    return torch.stack([top, left, h, w], 1)


def resized_crops(images: Tensor, boxes: Tensor, flip: Tensor, size: int) -> Tensor:
    """Crop each image to its box, mirror it where ``flip``, and resize it to ``size x size``: one warp.

    ``grid_sample`` with ``align_corners=False`` reads output pixel centres at the box's pixel centres,
    the same geometry as cropping and then resizing. ``images`` float ``[N, C, H, W]``.
    """
    n, c, height, width = images.shape
    top, left, h, w = boxes.to(images.device, images.dtype).unbind(1)
    sx, sy = w / width, h / height
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = torch.where(flip.to(images.device), -sx, sx)
    theta[:, 0, 2] = (2 * left + w) / width - 1  # the box centre in [-1, 1]
    theta[:, 1, 1] = sy
    theta[:, 1, 2] = (2 * top + h) / height - 1
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _grey(images: Tensor) -> Tensor:
    weights = torch.tensor(_GREY, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


def colour_jitter(images: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor) -> Tensor:
    """torchvision's ColorJitter with per-image factors ``[N]``, in [0, 1]: scale, blend with the mean
    grey level, blend with the image's own grey; clamped after each, as torchvision does."""
    f = [v.to(images.device, images.dtype).view(-1, 1, 1, 1) for v in (brightness, contrast, saturation)]
    images = (images * f[0]).clamp_(0, 1)
    mean = _grey(images).mean((2, 3), keepdim=True)
    images = (f[1] * images + (1 - f[1]) * mean).clamp_(0, 1)
    return (f[2] * images + (1 - f[2]) * _grey(images)).clamp_(0, 1)


class ImageNetGPUStream(DeviceBatchStream):
    """Decoded uint8 images on the device, served as augmented (train) or centre-cropped (eval) batches.

    ``image_size`` is the training crop or the evaluation crop; ``resize_size`` the shorter side before
    the evaluation crop (default ``image_size / 0.875``, as ``imagenet_transforms``). Resumable like
    ``DeviceBatchStream``; a training stream yields global batches (each rank keeps its slice).
    """

    def __init__(self, images_u8: Tensor, labels: Tensor, batch_size: int, *, image_size: int,
                 train: bool = True, resize_size: int | None = None, device: str | torch.device = "cpu",
                 seed: int = 0, jitter: float = 0.4, lighting: float = 0.1) -> None:
        super().__init__(images_u8, labels, batch_size, train=train, mean=torch.zeros(1), device=device,
                         seed=seed)
        self.image_size, self.jitter, self.lighting = image_size, jitter, lighting
        self.resize_size = resize_size if resize_size is not None else round(image_size / 0.875)
        if self.resize_size < image_size:
            raise ValueError(f"resize_size {self.resize_size} is smaller than the crop {image_size}")
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def _standardise(self, images: Tensor) -> Tensor:  # float in [0, 1] -> the network's input
        return images.sub_(self.mean).div_(self.std)

    def _augment(self, images_u8: Tensor, generator: torch.Generator) -> Tensor:
        n, _, height, width = images_u8.shape
        boxes = crop_boxes(n, height, width, generator)
        flip = torch.rand(n, generator=generator) < 0.5
        factors = torch.empty(3, n).uniform_(1 - self.jitter, 1 + self.jitter, generator=generator)
        alpha = torch.randn(n, 3, generator=generator) * self.lighting
        images = resized_crops(images_u8.float().div_(255), boxes, flip, self.image_size)
        images = colour_jitter(images, *factors)
        shift = (alpha * _EIGVAL) @ _EIGVEC.T  # V (alpha * lambda) for every image, [N, 3]
        return self._standardise(images.add_(shift.to(self.device).view(n, 3, 1, 1)))

    def _evaluation_view(self, images_u8: Tensor) -> Tensor:
        images = images_u8.float().div_(255)
        height, width = images.shape[2:]
        short = min(height, width)
        if short != self.resize_size:  # the shorter side to resize_size, as transforms.Resize(int)
            size = (int(height * self.resize_size / short), int(width * self.resize_size / short))
            images = F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)
        top = round((images.shape[2] - self.image_size) / 2)
        left = round((images.shape[3] - self.image_size) / 2)
        images = images[:, :, top:top + self.image_size, left:left + self.image_size].clamp_(0, 1)
        return self._standardise(images.contiguous())
