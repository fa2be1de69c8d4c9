"""Grader of assignment 6: label noise of Eq. 7 and the noise robustness of a tiny network (Table 5)."""

from __future__ import annotations

import torch
from torch import nn

from resattn_min.data.noisy_labels import confusion_matrix

from ..grading import Assignment, expect_error, shared
from .quick import PASS_ACCURACY, QUICK_STEPS, grading_data, tiny_network

ASSIGNMENT = Assignment(
    number=6,
    title="Noise robustness under the label noise of Eq. 7 (Table 5)",
    filename="a6_noisy_labels.py",
    chapter="Sec. 4.1, Noisy label robustness (Eq. 7, Table 5); chapter 8, Noisy labels",
    effort="2-3 hours",
    forbidden=("resattn_min.data.noisy_labels", "resattn_min.data.cifar.corrupt_labels"),
)

#: Clean labels, and pure noise: at r = 1 / K every row of Q is uniform and a label says nothing.
RATIOS = (1.0, 0.1)
#: Test error (%) a network trained on labels that carry no information should not beat by much.
NOISE_FLOOR_ERROR = 75.0


def _balanced(n: int, num_classes: int = 10) -> torch.Tensor:
    return torch.arange(n) % num_classes


def _counts_match(sub, r: float, num_classes: int, n: int = 40_000) -> None:
    """The realised spread of each class is within 5 standard deviations of its row of Q."""
    labels = _balanced(n, num_classes)
    noisy = sub.corrupt(labels, r, num_classes, seed=11)
    assert noisy.shape == labels.shape and noisy.dtype == torch.int64, (
        f"corrupt should return int64 labels of shape {tuple(labels.shape)}, "
        f"got {noisy.dtype} of shape {tuple(noisy.shape)}"
    )
    assert noisy.min() >= 0 and noisy.max() < num_classes, "a noisy label fell outside 0 .. K - 1"
    counts = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    counts.index_put_((labels, noisy), torch.ones(n, dtype=torch.float64), accumulate=True)
    per_class = n // num_classes
    q = confusion_matrix(r, num_classes)
    # where Q is 0 or 1 the frequency must be exact: a tiny sigma turns any difference into a huge z
    sigma = (q * (1 - q) / per_class).sqrt().clamp_min(1e-12)
    z_all = (counts / per_class - q).abs() / sigma
    z = z_all.max().item()
    worst = divmod(int(z_all.argmax()), num_classes)
    assert z < 5, (
        f"r = {r}, K = {num_classes}: true class {worst[0]} became class {worst[1]} with frequency "
        f"{counts[worst] / per_class:.4f}, Q says {q[worst]:.4f} ({z:.1f} standard deviations away)"
    )


def _robustness(sub) -> dict:
    """The submission's two training runs, shared by the checks that read them."""

    def build() -> nn.Module:
        return tiny_network("arl", 1)

    def run() -> dict:
        return sub.noise_robustness(build, grading_data(), RATIOS, steps=QUICK_STEPS)

    return shared(sub, "robustness", run)


@ASSIGNMENT.check(points=2)
def confusion_is_eq7(sub) -> None:
    """label_confusion is Q of Eq. 7: r on the diagonal, (1 - r) / (K - 1) elsewhere, rows summing to 1"""
    for r, k in ((0.7, 10), (0.5, 4), (1.0, 10), (0.0, 3), (0.1, 10)):
        q = sub.label_confusion(r, k)
        assert q.shape == (k, k), f"label_confusion({r}, {k}) has shape {tuple(q.shape)}, expected {(k, k)}"
        assert q.dtype == torch.float64, f"use float64 (got {q.dtype}) so that rows sum to 1 exactly"
        assert torch.allclose(q, confusion_matrix(r, k), atol=1e-12), (
            f"label_confusion({r}, {k}) differs from Eq. 7: diagonal {q.diagonal()[:3].tolist()}..., "
            f"first row {q[0].tolist()}"
        )
        assert torch.allclose(q.sum(1), torch.ones(k, dtype=torch.float64)), "every row of Q must sum to 1"


@ASSIGNMENT.check(points=1)
def refuses_impossible_noise(sub) -> None:
    """label_confusion raises ValueError for r outside [0, 1] and for fewer than 2 classes"""
    for r in (-0.1, 1.5):
        message = expect_error(ValueError, sub.label_confusion, r, 10)
        assert str(r) in message, f"say which r is wrong: the message was {message!r}"
    expect_error(ValueError, sub.label_confusion, 0.5, 1)


@ASSIGNMENT.check(points=3)
def corruption_follows_q(sub) -> None:
    """corrupt draws each label from its row of Q: frequencies within 5 sigma of Q over 40 000 labels"""
    for r, k in ((0.7, 10), (0.3, 10), (0.5, 3), (1.0, 10), (0.0, 4)):
        _counts_match(sub, r, k)


@ASSIGNMENT.check(points=1)
def corruption_is_repeatable(sub) -> None:
    """corrupt gives the same labels for the same seed, others for another seed, and leaves its input alone"""
    labels = torch.randint(0, 10, (2000,), generator=torch.Generator().manual_seed(2))
    kept = labels.clone()
    first = sub.corrupt(labels, 0.5, 10, seed=3)
    torch.rand(100)  # the global RNG moves on: the result must depend on the seed only
    assert torch.equal(first, sub.corrupt(labels, 0.5, 10, seed=3)), "the same seed gave different labels"
    assert not torch.equal(first, sub.corrupt(labels, 0.5, 10, seed=4)), "two seeds gave the same labels"
    assert torch.equal(labels, kept), "corrupt changed the labels it was given"


@ASSIGNMENT.check(points=1)
def measures_the_realised_noise(sub) -> None:
    """realised_confusion: row y spreads the labels of class y as fractions; a missing class gives zeros"""
    g = torch.Generator().manual_seed(5)
    labels = torch.randint(0, 4, (500,), generator=g)  # class 4 of 5 never occurs
    noisy = torch.randint(0, 5, (500,), generator=g)
    got = sub.realised_confusion(labels, noisy, 5)
    for y in range(4):
        expected = torch.bincount(noisy[labels == y], minlength=5).double() / (labels == y).sum()
        assert torch.allclose(got[y].double(), expected), f"row {y}: {got[y].tolist()}, expected {expected}"
    assert torch.count_nonzero(got[4]) == 0, "the row of a class with no labels should be zeros (not NaN)"


@ASSIGNMENT.check(points=1)
def learns_from_clean_labels(sub) -> None:
    """noise_robustness at r = 1: the tiny network beats the accuracy threshold on the clean test labels"""
    errors = _robustness(sub)
    assert isinstance(errors, dict) and list(errors) == list(RATIOS), (
        f"expected a dict keyed by the ratios {RATIOS} in order, got {errors!r}"
    )
    assert all(0 <= e <= 100 for e in errors.values()), f"errors are percentages in [0, 100]: {errors}"
    assert errors[1.0] <= 100 * (1 - PASS_ACCURACY), (
        f"test error {errors[1.0]:.1f}% with clean labels after {QUICK_STEPS} steps, expected at most "
        f"{100 * (1 - PASS_ACCURACY):.0f}%"
    )


@ASSIGNMENT.check(points=1)
def uniform_noise_teaches_nothing(sub) -> None:
    """At r = 1 / K (every row of Q uniform) the labels carry no information: the error stays near chance"""
    errors = _robustness(sub)
    assert errors[0.1] >= NOISE_FLOOR_ERROR, (
        f"test error {errors[0.1]:.1f}% after training on labels drawn uniformly at random: below "
        f"{NOISE_FLOOR_ERROR:.0f}% means the clean labels leaked in (train on the corrupted ones; test on "
        "the clean ones)"
    )
