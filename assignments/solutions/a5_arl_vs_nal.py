"""Assignment 5 -- attention residual learning against naive attention learning, at small scale
(Sec. 3.1, Table 3, Fig. 4; chapters 3 and 7).

Naive attention learning (NAL, Eq. 1) multiplies the trunk by a mask in [0, 1]: ``H = M * T``. Attention
residual learning (ARL, Eq. 3) adds the mask to one: ``H = (1 + M) * T``. The paper explains Table 3 with
Fig. 4: the mean absolute response of each stage's output, which under NAL "quickly vanishes" as
modules are stacked. Reproduce that figure on a toy network.

1. ``stage_responses(model, images)`` -- the mean of ``|output|`` of each stage of ``model`` (its
   ``model.stages``, in order) for a forward pass of ``images``: one float per stage. Use forward hooks,
   run in eval mode without gradients, and leave the model as you found it (its training mode, and no
   hooks left behind).
2. ``fig4_experiment(build, images, labels, modules, steps, seed)`` -- for each combination ``"arl"`` and
   ``"nal"`` (in that order): call ``torch.manual_seed(seed)`` and build the network with
   ``build(combination, modules)``; record ``stage_responses`` at initialisation, train it with the
   given ``train_steps`` for ``steps`` steps, and record them again. Return
   ``{"arl": {"init": [...], "trained": [...]}, "nal": {...}}``.
3. ``depth_sweep(build, images, modules, seed)`` -- for each combination, the response of the *last*
   stage at initialisation of ``build(combination, m)`` for every ``m`` in ``modules`` (seed with
   ``torch.manual_seed(seed)`` before each build). Return ``{"arl": [...], "nal": [...]}``.

The grader calls your functions with ``build = tiny_network`` and ``quick_data`` from
``assignments/graders/quick.py`` (16 x 16 synthetic images); use them for your report too.

Questions for your report (not graded): plot the responses of the three stages for both rules (Fig. 4),
at initialisation and after training. How does the ratio NAL / ARL change with the number of modules
per stage, and why (what does a product of many numbers in [0, 1] do)? Why does ARL's response grow?

Grade your work with ``python -m assignments.grade 5``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

COMBINATIONS = ("arl", "nal")


def train_steps(
    model: nn.Module, images: Tensor, labels: Tensor, steps: int, *, lr: float = 0.05, batch_size: int = 32,
    seed: int = 0,
) -> list[float]:
    """A few steps of the paper's optimiser (Nesterov SGD, momentum 0.9, weight decay 1e-4); the losses."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        batch = torch.randint(0, len(labels), (batch_size,), generator=generator)
        loss = F.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def stage_responses(model: nn.Module, images: Tensor) -> list[float]:
    """Mean absolute value of each stage's output for ``images`` (eval mode, no gradients)."""
    # BEGIN SOLUTION: hooks storing out.abs().mean(); train mode, no_grad; restore state, hooks and mode
    responses: list[float] = []
    handles = [
        stage.register_forward_hook(lambda _m, _i, out: responses.append(out.abs().mean().item()))
        for stage in model.stages
    ]
    state = copy.deepcopy(model.state_dict())
    was_training = model.training
    model.train()
    try:
        with torch.no_grad():
            model(images)
    finally:
        for handle in handles:
            handle.remove()
        model.load_state_dict(state)
        model.train(was_training)
    return responses
    # END SOLUTION


def fig4_experiment(
    build: Callable[[str, int], nn.Module], images: Tensor, labels: Tensor, *, modules: int, steps: int,
    seed: int = 0,
) -> dict[str, dict[str, list[float]]]:
    """Stage responses of ARL and NAL networks at initialisation and after ``steps`` training steps."""
    # BEGIN SOLUTION: per combination: seed, build, responses, train_steps, responses again
    results = {}
    for combination in COMBINATIONS:
        torch.manual_seed(seed)
        model = build(combination, modules)
        init = stage_responses(model, images)
        train_steps(model, images, labels, steps, seed=seed)
        results[combination] = {"init": init, "trained": stage_responses(model, images)}
    return results
    # END SOLUTION


def depth_sweep(
    build: Callable[[str, int], nn.Module], images: Tensor, modules: Sequence[int], seed: int = 0
) -> dict[str, list[float]]:
    """The last stage's response at initialisation, for each number of modules per stage."""
    # BEGIN SOLUTION: for each combination and m: seed, build(combination, m), last stage_responses value
    sweep = {}
    for combination in COMBINATIONS:
        sweep[combination] = []
        for m in modules:
            torch.manual_seed(seed)
            sweep[combination].append(stage_responses(build(combination, m), images)[-1])
    return sweep
    # END SOLUTION
