"""Label noise of Sec. 4.1 (Eq. 7): every training label is redrawn from its row of a confusion matrix ``Q``.

``Q`` keeps a label with probability ``r`` (the clean label ratio) and moves it to each of the other
``K - 1`` classes with probability ``(1 - r) / (K - 1)``. Table 5's "noise level" is ``1 - r``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["confusion_matrix", "corrupt_labels"]


def confusion_matrix(r: float, num_classes: int = 10) -> Tensor:
    """Eq. 7: ``r`` on the diagonal, ``(1 - r) / (K - 1)`` elsewhere; row ``y`` is ``p(noisy | true = y)``."""
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"the clean label ratio r must lie in [0, 1], got {r}")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got num_classes={num_classes}")
    q = torch.full((num_classes, num_classes), (1.0 - r) / (num_classes - 1), dtype=torch.float64)
    q.fill_diagonal_(r)
    return q


def corrupt_labels(labels: Tensor, r: float, num_classes: int, seed: int) -> tuple[Tensor, dict]:
    """Replace every label ``y`` by a draw from row ``y`` of ``Q``; the same seed gives the same labels.

    Returns the noisy labels and a record: ``r``, ``seed``, the realised clean fraction and the realised
    confusion matrix (row ``y``: how the labels of true class ``y`` were spread, as fractions).
    """
    confusion_matrix(r, num_classes)  # validates r and num_classes with a clear message
    labels = labels.to(torch.int64).cpu()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}]")
    g = torch.Generator().manual_seed(seed)
    # A draw from row y of Q: stay with probability r, otherwise move to one of the K - 1 other
    # classes uniformly, i.e. add an offset in 1..K-1 modulo K.
    move = torch.rand(labels.shape, generator=g, dtype=torch.float64) >= r
    offset = torch.randint(1, num_classes, labels.shape, generator=g)
    noisy = torch.where(move, (labels + offset) % num_classes, labels)

    counts = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    counts.index_put_((labels, noisy), torch.ones_like(labels, dtype=torch.float64), accumulate=True)
    realised = counts / counts.sum(1, keepdim=True).clamp_min(1)
    info = {
        "r": float(r),
        "seed": int(seed),
        "clean_fraction": float((noisy == labels).double().mean()) if labels.numel() else 1.0,
        "confusion": realised.tolist(),
    }
    return noisy, info
