"""Grader of assignment 4: mask depths derived from the input size (Table 2's caption)."""

from __future__ import annotations

import copy
import re

import torch
from torch import nn

from resattn_min import attention_cifar
from resattn_min.models.soft_mask import SoftMaskBranch

from ..grading import Assignment, expect_error
from .quick import assert_learns, tiny_network

ASSIGNMENT = Assignment(
    number=4,
    title="Mask depth per stage from the input size",
    filename="a4_mask_depths.py",
    chapter="chapter 5, Assembling the networks (Table 2)",
    effort="1-2 hours",
)

#: (input size, target) pairs that have a solution, and pairs that have none.
POSSIBLE = ((64, 4), (64, 8), (48, 3), (40, 5), (30, 4), (8, 1))
IMPOSSIBLE = ((32, 5), (16, 4), (24, 4), (64, 9))


def _sides(model: nn.Module, size: int, layers: list[nn.Module]) -> list[int]:
    """Side of each of ``layers``' outputs in a forward pass of a ``size x size`` image.

    The pass runs on the meta device: shapes are computed, numbers are not, so a large network is instant.
    """
    sides: list[int] = []

    def record(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        sides.append(out.shape[-1])

    handles = [layer.register_forward_hook(record) for layer in layers]
    model.to("meta").eval()
    model(torch.empty(1, 3, size, size, device="meta"))
    for h in handles:
        h.remove()
    return sides


def _smallest_mask_maps(model: nn.Module, size: int) -> list[int]:
    """Side of the lowest level of every soft mask branch."""
    return _sides(model, size, [m.down[-1] for m in model.modules() if isinstance(m, SoftMaskBranch)])


@ASSIGNMENT.check(points=1)
def pooled_size_matches_maxpool(sub) -> None:
    """pooled_size agrees with nn.MaxPool2d(3, stride=2, padding=1) for sides 1..40 and 0..4 pools"""
    pool = nn.MaxPool2d(3, stride=2, padding=1)
    for size in range(1, 41):
        x = torch.zeros(1, 1, size, size)
        for pools in range(5):
            got = sub.pooled_size(size, pools)
            assert got == x.shape[-1], f"pooled_size({size}, {pools}) = {got}, MaxPool2d gives {x.shape[-1]}"
            x = pool(x)


@ASSIGNMENT.check(points=1)
def stage_sizes_match_the_network(sub) -> None:
    """stage_sizes agrees with the maps of attention_cifar's stages (even and odd inputs)"""
    for size in (32, 30, 17):
        model = attention_cifar(56)
        seen = _sides(model, size, list(model.stages))
        got = list(sub.stage_sizes(size))
        assert got == seen, f"stage_sizes({size}) = {got}, the network's stages are {seen}"


@ASSIGNMENT.check(points=2)
def reproduces_the_paper(sub) -> None:
    """The paper's depths: 3, 2, 1 for 56, 28, 14-pixel stages at 7 x 7 (Table 2), and on CIFAR at 4 x 4"""
    assert tuple(sub.mask_depths_for(56, 7)) == (3, 2, 1), "ImageNet stages (56, 28, 14) with target 7"
    assert tuple(sub.mask_depths_for(32, 4)) == (3, 2, 1), "CIFAR stages (32, 16, 8) with target 4"


@ASSIGNMENT.check(points=2)
def every_mask_reaches_the_target(sub) -> None:
    """In networks built for other sizes, every mask's smallest map is exactly the target"""
    for size, target in POSSIBLE:
        model = sub.attention_for_size(56, size, target, num_classes=7)
        sides = _smallest_mask_maps(model, size)
        assert len(sides) == 3 and set(sides) == {target}, (
            f"input {size}x{size}, target {target}: the masks' smallest maps are {sides}"
        )
    assert model.fc.out_features == 7, "options (num_classes=7) should reach attention_cifar"


def _first_bad_side(size: int, target: int) -> int:
    """The side of the first stage map that cannot be pooled to ``target`` (CIFAR strides)."""
    sides = [size, (size - 1) // 2 + 1]
    sides.append((sides[-1] - 1) // 2 + 1)
    for side in sides:
        s = side
        while s > target:
            s = (s - 1) // 2 + 1
        if side <= target or s != target:
            return side
    raise AssertionError(f"the grader expected input {size} with target {target} to be impossible")


@ASSIGNMENT.check(points=2)
def refuses_impossible_sizes(sub) -> None:
    """Impossible sizes raise ValueError naming the stage's map size (a skipped target, or one too large)"""
    expect_error(ValueError, sub.mask_depths_for, 32, 0)
    for size, target in IMPOSSIBLE:
        message = expect_error(ValueError, sub.mask_depths_for, size, target)
        side = _first_bad_side(size, target)
        assert re.search(rf"(?<!\d){side}(?!\d)", message), (
            f"input {size}, target {target}: name the {side}x{side} map in the message; it was {message!r}"
        )


@ASSIGNMENT.check(points=1)
def derived_depths_train(sub) -> None:
    """A tiny network on 16 x 16 images with the depths for a 2 x 2 target: masks at 2 x 2, and it learns"""
    depths = tuple(sub.mask_depths_for(16, 2))
    assert depths == (3, 2, 1), f"mask_depths_for(16, 2) = {depths}: stages of 16, 8, 4 pixels pool to 2 x 2"
    model = tiny_network("arl", 1, mask_depths=depths)
    sides = _smallest_mask_maps(copy.deepcopy(model), 16)
    assert set(sides) == {2}, f"the masks' smallest maps are {sides}, expected 2 x 2"
    assert_learns(model, f"with mask depths {depths}")
