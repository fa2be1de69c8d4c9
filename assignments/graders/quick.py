"""Tiny networks and quick data for the graders that train (assignments 5 and 6), also for students' reports.

``tiny_network`` is the CIFAR design at a toy width: a 3x3 stem and stages at 16, 32, 64 channels with
``modules`` Attention Modules each, mask depths 2, 1, 1 for 16 x 16 images. ``quick_data`` is the
package's learnable synthetic dataset, scaled to [0, 1] with the training set's per-pixel mean
subtracted (Sec. 4.1's normalisation).
"""

from __future__ import annotations

from torch import Tensor, nn

from resattn_min import ResidualAttentionNetwork, Stage
from resattn_min.data import pixel_mean, synthetic_dataset

__all__ = ["tiny_network", "quick_data"]

WIDTHS, STRIDES, MASK_DEPTHS = (16, 32, 64), (1, 2, 2), (2, 1, 1)


def tiny_network(
    combination: str = "arl", modules: int = 1, *, num_classes: int = 10, stages: int = 3
) -> ResidualAttentionNetwork:
    """A Residual Attention Network small enough to train for a few steps on a CPU in seconds."""
    specs = [Stage(w, s, modules, d) for w, s, d in zip(WIDTHS, STRIDES, MASK_DEPTHS, strict=True)][:stages]
    stem = nn.Conv2d(3, WIDTHS[0], kernel_size=3, padding=1, bias=False)
    return ResidualAttentionNetwork(
        stem, WIDTHS[0], 1, specs, num_classes=num_classes, combination=combination, name="tiny_network"
    )


def quick_data(
    num_train: int, num_test: int, *, num_classes: int = 10, image_size: int = 16, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``train_images, train_labels, test_images, test_labels`` of the synthetic dataset, normalised."""
    train, test = synthetic_dataset(num_train, num_test, num_classes=num_classes, image_size=image_size, seed=seed)
    mean = pixel_mean(train.images)
    return train.images.float() / 255 - mean, train.labels, test.images.float() / 255 - mean, test.labels
