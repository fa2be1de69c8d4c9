"""A learnable stand-in for CIFAR that the package generates: for machines without the dataset."""

from __future__ import annotations

import math

import torch

from .decoded import ImageTensors
from .stream import stable_seed

__all__ = ["synthetic_dataset"]


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

    return draw(num_train, stable_seed(seed, 0)), draw(num_test, stable_seed(seed, 1))
