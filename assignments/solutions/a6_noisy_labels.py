"""Assignment 6 -- how robust is a model to label noise? (Sec. 4.1 "Noisy Label Robustness", Eq. 7,
Table 5; chapter 8, Noisy labels).

The paper trains on CIFAR-10 labels that were corrupted at random: a label ``y`` is kept with probability
``r`` (the clean label ratio) and otherwise moved to one of the other ``K - 1`` classes, each with
probability ``(1 - r) / (K - 1)``. Row ``y`` of the confusion matrix ``Q`` of Eq. 7 is that distribution.
Table 5 reports the test error on the *clean* test labels at noise levels ``1 - r`` of 10% to 70%.
Build the measurement and run it at small scale.

1. ``label_confusion(r, num_classes)`` -- ``Q`` of Eq. 7 as a ``float64`` tensor of shape ``K x K``: ``r``
   on the diagonal, ``(1 - r) / (K - 1)`` elsewhere. Raise ``ValueError`` with a clear message when ``r``
   is outside [0, 1] or ``num_classes`` is below 2.
2. ``corrupt(labels, r, num_classes, seed)`` -- new labels, each drawn from the row of ``Q`` of its true
   label, with a ``torch.Generator`` seeded by ``seed`` (the same seed gives the same labels; leave
   ``labels`` unchanged). The result is an ``int64`` tensor of the same shape.
3. ``realised_confusion(labels, noisy, num_classes)`` -- what the corruption really did: row ``y`` holds the
   fraction of the labels of true class ``y`` that ended up as each class (a row of zeros for a class
   that does not occur). Compare it with ``Q``: it is how you check a noisy dataset before training on it.
4. ``noise_robustness(build, data, ratios, steps, seed, num_classes)`` -- ``data`` is ``(train_images,
   train_labels, test_images, test_labels)``. For each ``r`` in ``ratios``: corrupt the training labels
   (``seed``), call ``torch.manual_seed(seed)`` and build a fresh network with ``build()``, train it on the
   noisy labels with the given ``train_steps`` (``seed=seed``), and measure its error in percent on the
   clean test labels with the given ``accuracy``. Return ``{r: error}`` in the order of ``ratios``.

The grader uses ``tiny_network`` and ``quick_data`` from ``assignments/graders/quick.py``.

Questions for your report (not graded): what is special about ``r = 1 / K``, and what error do you
expect there? Up to which noise level does the most frequent label of each class stay the true one?
Measure the test error of ``tiny_network("arl", 1)`` and of a tiny ResNet (``tiny_network(modules=0)``,
no Attention Modules) at ``r`` = 1.0, 0.9, 0.7, 0.5, 0.3 with a few hundred steps and several seeds
(Table 5 at small scale): does the attention network degrade more slowly, and is the difference larger
than the spread over seeds?

Do not use the package's ``resattn_min.data.noisy_labels`` (the book's answer): a submission that does scores
zero. Grade your work with ``python -m assignments.grade 6``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from assignments.graders.quick import accuracy, train_steps

Data = tuple[Tensor, Tensor, Tensor, Tensor]


def label_confusion(r: float, num_classes: int = 10) -> Tensor:
    """Eq. 7: keep a label with probability ``r``, else move it uniformly to one of the other classes."""
    # BEGIN SOLUTION: check r and num_classes; a K x K float64 tensor, (1 - r) / (K - 1) off the diagonal
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"the clean label ratio r must lie in [0, 1], got {r}")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {num_classes}")
    q = torch.full((num_classes, num_classes), (1.0 - r) / (num_classes - 1), dtype=torch.float64)
    return q.fill_diagonal_(r)
    # END SOLUTION


def corrupt(labels: Tensor, r: float, num_classes: int, seed: int) -> Tensor:
    """Each label replaced by a draw from its row of ``Q``; the same ``seed`` gives the same labels."""
    # BEGIN SOLUTION: a seeded torch.Generator; torch.multinomial over the rows Q[labels]
    generator = torch.Generator().manual_seed(seed)
    rows = label_confusion(r, num_classes)[labels.long()]
    return torch.multinomial(rows, 1, generator=generator).view(labels.shape)
    # END SOLUTION


def realised_confusion(labels: Tensor, noisy: Tensor, num_classes: int) -> Tensor:
    """Row ``y``: how the labels of true class ``y`` were spread over the classes, as fractions."""
    # BEGIN SOLUTION: count (true, noisy) pairs into a K x K matrix, divide each row by its total
    counts = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    pairs = (labels.reshape(-1).long(), noisy.reshape(-1).long())
    counts.index_put_(pairs, torch.ones(labels.numel(), dtype=torch.float64), accumulate=True)
    return counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    # END SOLUTION


def noise_robustness(
    build: Callable[[], nn.Module], data: Data, ratios: Sequence[float], *, steps: int, seed: int = 0,
    num_classes: int = 10,
) -> dict[float, float]:
    """Test error (%) on the clean test labels of a network trained on labels corrupted at each ``r``."""
    # BEGIN SOLUTION: per r: corrupt, seed, build, train_steps on the noisy labels, error on the clean ones
    train_images, train_labels, test_images, test_labels = data
    errors = {}
    for r in ratios:
        noisy = corrupt(train_labels, r, num_classes, seed)
        torch.manual_seed(seed)
        model = build()
        train_steps(model, train_images, noisy, steps, seed=seed)
        errors[r] = 100 * (1 - accuracy(model, test_images, test_labels))
    return errors
    # END SOLUTION
