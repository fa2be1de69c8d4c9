"""The paper's CIFAR augmentation (Sec. 4.1) on whole batches: pad 4 zero pixels on each side, take a
random crop of the image or of its horizontal flip, subtract the per-pixel RGB mean."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PAD", "augment_batch", "pixel_mean"]

PAD = 4


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
