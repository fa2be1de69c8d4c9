# Student version, generated from assignments/solutions/ by `python -m assignments.make_student`.
# Replace every `raise NotImplementedError(...)` with your code; the docstrings say what to write.
# ruff: noqa: F401 -- the imports are the ones the solution uses: yours may need them
"""Assignment 5 -- attention residual learning against naive attention learning, at small scale
(Sec. 3.1, Table 3, Fig. 4; chapter 3).

Naive attention learning (NAL, Eq. 1) multiplies the trunk by a mask in [0, 1]: ``H = M * T``. Attention
residual learning (ARL, Eq. 3) adds the mask to one: ``H = (1 + M) * T``. The paper explains Table 3 with
Fig. 4: the mean absolute response of each stage's output, which under NAL "quickly vanishes" as
Attention Modules are stacked. Reproduce that measurement on a toy network.

1. ``stage_responses(model, images)`` -- the mean of ``|output|`` of each stage of ``model`` (its
   ``model.stages``, in order) for one forward pass of ``images``: one float per stage. Measure with
   *batch statistics* (BatchNorm in training mode), as the network computes while it learns: at
   initialisation the running statistics are still 0 and 1, and in eval mode nothing would normalise the
   growing sums of the residual units. Run without gradients, and leave ``model`` exactly as you found
   it: the same training mode, the same BatchNorm running statistics, no hooks left behind (hint: measure
   a ``copy.deepcopy`` of it).
2. ``depth_sweep(build, images, modules, seed)`` -- for each combination ``"arl"`` and ``"nal"`` and for
   every ``m`` in ``modules``: ``torch.manual_seed(seed)``, build ``build(combination, m)`` and keep the
   response of its *last* stage at initialisation. Return ``{"arl": [...], "nal": [...]}``.
3. ``fig4_experiment(build, data, modules, steps, seed)`` -- ``data`` is ``(train_images, train_labels,
   test_images, test_labels)``. For each combination (``"arl"`` then ``"nal"``): ``torch.manual_seed(seed)``,
   build the network with ``build(combination, modules)``, record ``stage_responses`` on the test images,
   train it with the given ``train_steps`` for ``steps`` steps (``seed=seed``), then record the responses
   again and the test accuracy (the given ``accuracy``). Return
   ``{"arl": {"init": [...], "trained": [...], "accuracy": ...}, "nal": {...}}``.

The grader calls your functions with ``build = tiny_network`` and the data of ``quick_data`` from
``assignments/graders/quick.py`` (16 x 16 synthetic images); use them for your report too.

Questions for your report (not graded): plot the responses of the three stages for both rules, at
initialisation and after training (Fig. 4). How does the ratio NAL / ARL of the last stage change with
the number of modules per stage, and why (what does a product of many numbers in [0, 1] do)? Why does
ARL's response grow? Train both rules with 1 and 3 modules per stage for a few hundred steps: do you see
Table 3's gap open up as modules are added?

Grade your work with ``python -m assignments.grade 5``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from assignments.graders.quick import accuracy, train_steps

COMBINATIONS = ("arl", "nal")
Data = tuple[Tensor, Tensor, Tensor, Tensor]


def stage_responses(model: nn.Module, images: Tensor) -> list[float]:
    """Mean absolute value of each stage's output for ``images``, with batch statistics, no gradients."""
    raise NotImplementedError(
        "deepcopy the model, train mode, a forward hook per stage storing out.abs().mean()"
    )


def depth_sweep(
    build: Callable[[str, int], nn.Module], images: Tensor, modules: Sequence[int], seed: int = 0
) -> dict[str, list[float]]:
    """The last stage's response at initialisation, for each number of modules per stage."""
    raise NotImplementedError(
        "for each combination and m: seed, build(combination, m), last stage_responses value"
    )


def fig4_experiment(
    build: Callable[[str, int], nn.Module], data: Data, *, modules: int, steps: int, seed: int = 0
) -> dict[str, dict]:
    """Stage responses of ARL and NAL networks at initialisation and after training; test accuracy."""
    raise NotImplementedError("per combination: seed, build, responses, train_steps, responses and accuracy")
