"""Tiny networks, quick data and a short training run: what the graders train, also for students' reports.

``tiny_network`` is the CIFAR design at a toy width: a 3x3 stem and stages at 16, 32, 64 channels with
``modules`` Attention Modules each, mask depths 2, 1, 1 for 16 x 16 images. ``quick_data`` is the
package's learnable synthetic dataset, scaled to [0, 1] with the training set's per-pixel mean
subtracted (Sec. 4.1's normalisation). ``train_steps`` is the paper's optimiser for a few steps and
``accuracy`` scores a model on held-out images; both run on one CPU thread (see ``one_thread``).
``assert_learns`` is the graders' training check: a short run that must beat ``PASS_ACCURACY``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache

import torch
from torch import Tensor, nn

from resattn_min import ResidualAttentionNetwork, Stage
from resattn_min.data import pixel_mean, synthetic_dataset
from resattn_min.train.step import train_step

__all__ = [
    "tiny_network", "quick_data", "grading_data", "train_steps", "accuracy", "one_thread", "assert_learns",
    "QUICK_STEPS", "PASS_ACCURACY", "IMAGE_SIZE", "BATCH_SIZE",
]

WIDTHS, STRIDES, MASK_DEPTHS = (16, 32, 64), (1, 2, 2), (2, 1, 1)
#: Side of the graders' images and size of a training batch.
IMAGE_SIZE, BATCH_SIZE = 16, 32
#: Steps of a grader's training run (2.5 passes over the 512 training images).
QUICK_STEPS = 40
#: Test accuracy a grader's run must reach: 3.5 times chance on 10 classes. Over three seeds, tiny networks
#: with every mask activation, the local mask, SE units or NAL reached 0.50 to 0.98 in QUICK_STEPS steps.
PASS_ACCURACY = 0.35


def tiny_network(
    combination: str = "arl",
    modules: int = 1,
    *,
    num_classes: int = 10,
    stages: int = 3,
    mask_depths: Sequence[int] = MASK_DEPTHS,
    **options,
) -> ResidualAttentionNetwork:
    """A Residual Attention Network small enough to train for a few steps on a CPU in seconds.

    ``options`` go on to every Attention Module (``unit``, ``mask``, ``activation``, ``p``, ``t``, ``r``).
    """
    specs = [Stage(w, s, modules, d) for w, s, d in zip(WIDTHS, STRIDES, mask_depths, strict=True)][:stages]
    stem = nn.Conv2d(3, WIDTHS[0], kernel_size=3, padding=1, bias=False)
    return ResidualAttentionNetwork(
        stem, WIDTHS[0], 1, specs, num_classes=num_classes, combination=combination, name="tiny_network",
        **options,
    )


def quick_data(
    num_train: int, num_test: int, *, num_classes: int = 10, image_size: int = IMAGE_SIZE, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``train_images, train_labels, test_images, test_labels`` of the synthetic dataset, normalised."""
    train, test = synthetic_dataset(
        num_train, num_test, num_classes=num_classes, image_size=image_size, seed=seed
    )
    mean = pixel_mean(train.images)
    return train.images.float() / 255 - mean, train.labels, test.images.float() / 255 - mean, test.labels


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread, then restore the old count.

    Tiny networks gain nothing from more threads, and on a loaded machine (a class graded in parallel)
    competing threads make every step several times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_steps(
    model: nn.Module, images: Tensor, labels: Tensor, steps: int, *, lr: float = 0.05,
    batch_size: int = BATCH_SIZE, seed: int = 0,
) -> list[float]:
    """``steps`` steps of the paper's optimiser (Nesterov SGD, momentum 0.9, weight decay 1e-4); the losses.

    Batches are drawn with replacement from a generator seeded by ``seed``, so a run is repeatable.
    """
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with one_thread():
        for _ in range(steps):
            batch = torch.randint(0, len(labels), (batch_size,), generator=generator)
            loss, _correct = train_step(model, optimizer, images[batch], labels[batch], lr)
            losses.append(loss.item())
    return losses


def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of ``model`` in eval mode (its training mode is restored afterwards)."""
    was_training = model.training
    model.eval()
    with torch.no_grad(), one_thread():
        correct = (model(images).argmax(dim=1) == labels).float().mean().item()
    model.train(was_training)
    return correct


@cache
def grading_data() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The graders' data: 512 training and 256 test images of ``IMAGE_SIZE`` pixels square, 10 classes."""
    return quick_data(512, 256)


def assert_learns(model: nn.Module, what: str) -> float:
    """Train ``model`` on ``grading_data`` for ``QUICK_STEPS`` steps; fail below ``PASS_ACCURACY``."""
    train_images, train_labels, test_images, test_labels = grading_data()
    losses = train_steps(model, train_images, train_labels, QUICK_STEPS)
    assert all(map(math.isfinite, losses)), f"{what}: the training loss became NaN or inf"
    score = accuracy(model, test_images, test_labels)
    assert score >= PASS_ACCURACY, (
        f"{what}: test accuracy {score:.2f} after {QUICK_STEPS} training steps, expected at least "
        f"{PASS_ACCURACY} (chance is 0.10)"
    )
    return score
