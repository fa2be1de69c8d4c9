# Student version, generated from assignments/solutions/ by `python -m assignments.make_student`.
# Replace every `raise NotImplementedError(...)` with your code; the docstrings say what to write.
# ruff: noqa: F401 -- the imports are the ones the solution uses: yours may need them
"""Assignment 4 -- mask depth per stage, derived from the input size (Table 2's caption; chapter 5).

The caption of Table 2 gives the rule behind the number of max-pools in each soft mask branch: "we make
the size of the smallest output map in each mask branch 7x7 to be consistent with the smallest trunk
output map size. Thus 3, 2, 1 max-pooling layers are used in mask branch with input size 56x56, 28x28,
14x14 respectively." The CIFAR networks of the book follow the same rule with 4x4 (3, 2, 1 max-pools at
32, 16, 8 pixels). ``attention_cifar`` takes the depths as ``mask_depths``; write the function that
derives them for any input size, so that the networks work on other image sizes.

Sizes follow PyTorch's arithmetic: a 3x3 max-pool with stride 2 and padding 1 (the mask's pooling), and
the stride-2 first unit of a stage (a 3x3 convolution with padding 1, or a 1x1 projection), both map a
map of side ``s`` to ``floor((s - 1) / 2) + 1``; a stride of 1 keeps ``s``.

1. ``pooled_size(size, pools)`` -- the side of a ``size x size`` map after ``pools`` such max-pools.
2. ``stage_sizes(input_size, strides)`` -- the side of the map in each stage of a network whose stem keeps
   the size (the CIFAR stem does) and whose stages start with the given strides.
3. ``mask_depths_for(input_size, target, strides)`` -- for each stage, the number of max-pools (at least
   one) after which its mask reaches exactly ``target x target``. Raise ``ValueError`` with a message that
   names the stage and its map size when that is impossible: a target below 1, a stage whose map is not
   larger than the target, or one whose pooled sizes jump over the target (say which sizes it reaches).
4. ``attention_for_size(depth, input_size, target, **options)`` -- ``attention_cifar(depth, ...)`` with the
   derived mask depths; ``options`` go on to ``attention_cifar`` (``num_classes``, ``activation``, ...).

Questions for your report (not graded): which input sizes from 24 to 64 pixels allow a target of 4, and
which do not? Why does the paper stop at 7 x 7 rather than pool each mask down to 1 x 1? How does the
number of max-pools change what one position of the mask can see (its receptive field)?

Grade your work with ``python -m assignments.grade 4``.
"""

from __future__ import annotations

from resattn_min import ResidualAttentionNetwork, attention_cifar

CIFAR_STRIDES = (1, 2, 2)


def pooled_size(size: int, pools: int) -> int:
    """Side of a ``size x size`` map after ``pools`` 3x3 max-pools with stride 2 and padding 1."""
    raise NotImplementedError("apply s -> floor((s - 1) / 2) + 1 once per max-pool")


def stage_sizes(input_size: int, strides: tuple[int, ...] = CIFAR_STRIDES) -> list[int]:
    """Side of the feature map in each stage, for a stem that keeps the input size."""
    raise NotImplementedError("walk the strides; a stride s maps the side n to floor((n - 1) / s) + 1")


def mask_depths_for(
    input_size: int, target: int = 4, strides: tuple[int, ...] = CIFAR_STRIDES
) -> tuple[int, ...]:
    """Max-pools per stage so that every mask's smallest map is ``target x target``."""
    raise NotImplementedError(
        "per stage, pool until the side is <= target; raise ValueError unless it equals it"
    )


def attention_for_size(depth: int, input_size: int, target: int = 4, **options) -> ResidualAttentionNetwork:
    """The CIFAR Attention-``depth`` with mask depths that bring every mask to ``target x target``."""
    raise NotImplementedError("attention_cifar(depth, mask_depths=mask_depths_for(...), **options)")
