"""Grader of assignment 1: channel attention f2 and spatial attention f3 (Sec. 3.3, Eqs. 5 and 6)."""

from __future__ import annotations

import torch

from resattn_min import AttentionModule
from resattn_min.models.mask_activation import ACTIVATIONS, ChannelAttention, SpatialAttention

from ..grading import Assignment
from .quick import assert_learns, tiny_network

ASSIGNMENT = Assignment(
    number=1,
    title="Channel attention f2 and spatial attention f3",
    filename="a1_mask_activations.py",
    chapter="chapter 4, Mask activations (Sec. 3.3, Table 1)",
    effort="1-2 hours",
    forbidden=(
        "resattn_min.models.mask_activation", "resattn_min.ChannelAttention", "resattn_min.SpatialAttention",
        "resattn_min.MixedAttention", "resattn_min.get_activation",
    ),
)


def _features(seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 6, 5, 7, generator=g) * 3 + 1


@ASSIGNMENT.check(points=2)
def f2_gives_unit_vectors(sub) -> None:
    """f2 keeps the shape and gives every position a unit vector over the channels (Eq. 5)."""
    x = _features()
    out = sub.channel_attention(x)
    assert out.shape == x.shape, f"f2 changed the shape {tuple(x.shape)} into {tuple(out.shape)}"
    norms = out.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), (
        f"the channel vector at each position should have norm 1 after f2; norms range "
        f"{norms.min():.3f} .. {norms.max():.3f} (normalise over dim 1, the channels)"
    )


@ASSIGNMENT.check(points=1)
def f2_forgets_position_strength(sub) -> None:
    """f2 removes spatial information: scaling a position's channel vector does not change it."""
    x = _features()
    scale = torch.rand(3, 1, 5, 7) * 10 + 0.1
    assert torch.allclose(sub.channel_attention(x * scale), sub.channel_attention(x), atol=1e-5), (
        "f2(s_i * x_i) should equal f2(x_i) for a positive scale s_i at each position"
    )


@ASSIGNMENT.check(points=1)
def f2_handles_zero(sub) -> None:
    """f2 of an all-zero position is zero, not NaN (the norm is clamped at eps)."""
    x = _features()
    x[:, :, 0, 0] = 0
    out = sub.channel_attention(x)
    assert torch.isfinite(out).all(), "f2 gave NaN or inf: clamp the norm below at eps before dividing"
    assert torch.count_nonzero(out[:, :, 0, 0]) == 0, "an all-zero position should stay zero"


@ASSIGNMENT.check(points=2)
def f3_standardises_each_channel(sub) -> None:
    """f3 lies in (0, 1), and before its sigmoid each channel's map has mean 0 and std 1 (Eq. 6)."""
    x = _features()
    out = sub.spatial_attention(x)
    assert out.shape == x.shape, f"f3 changed the shape {tuple(x.shape)} into {tuple(out.shape)}"
    assert out.min() > 0 and out.max() < 1, "f3 should end with a sigmoid: values strictly in (0, 1)"
    logits = torch.logit(out.double())
    mean, std = logits.mean(dim=(2, 3)), logits.std(dim=(2, 3), unbiased=False)
    assert mean.abs().max() < 1e-3, (
        f"each channel's map should have mean 0 before the sigmoid, got up to {mean.abs().max():.3g}"
    )
    assert (std - 1).abs().max() < 1e-3, (
        f"each channel's map should have std 1 before the sigmoid (population std over H x W), "
        f"got {std.min():.4f} .. {std.max():.4f}"
    )


@ASSIGNMENT.check(points=1)
def f3_ignores_channel_scale(sub) -> None:
    """f3 keeps only where a channel is high: a per-channel a_c * x + b_c (a_c > 0) does not change it."""
    x = _features()
    a = torch.rand(3, 6, 1, 1) * 5 + 0.2
    b = torch.randn(3, 6, 1, 1) * 4
    assert torch.allclose(sub.spatial_attention(a * x + b), sub.spatial_attention(x), atol=1e-4), (
        "f3 should not change when each channel's map is scaled and shifted; compute mean and std per "
        "image and per channel (over dims 2 and 3 only)"
    )


@ASSIGNMENT.check(points=1)
def f3_handles_flat_maps(sub) -> None:
    """f3 of a 1 x 1 map and of a constant map is 0.5, not NaN."""
    for x in (torch.randn(2, 4, 1, 1), torch.full((2, 4, 3, 3), 2.5)):
        out = sub.spatial_attention(x)
        assert torch.allclose(out, torch.full_like(out, 0.5)), (
            f"f3 of a flat {x.shape[-2]}x{x.shape[-1]} map should be 0.5 everywhere (std = sqrt(var + eps))"
        )


@ASSIGNMENT.check(points=2)
def matches_the_book(sub) -> None:
    """f2 and f3 compute the same function as the book's ChannelAttention and SpatialAttention."""
    x = _features(seed=7)
    assert torch.allclose(sub.channel_attention(x), ChannelAttention()(x), atol=1e-5), "f2 differs from Eq. 5"
    assert torch.allclose(sub.spatial_attention(x), SpatialAttention()(x), atol=1e-5), "f3 differs from Eq. 6"


@ASSIGNMENT.check(points=1)
def f3_works_inside_a_module(sub) -> None:
    """In an Attention Module's mask head, f3 gives a mask in (0, 1) and passes gradients back"""
    module = AttentionModule(16, mask_depth=1, activation="mixed")
    module.mask.head.activation = sub.SpatialAttentionModule()
    masks = []
    module.mask.register_forward_hook(lambda _m, _i, out: masks.append(out))
    x = torch.randn(2, 16, 8, 8)
    module(x).square().mean().backward()
    assert masks[0].min() > 0 and masks[0].max() < 1, "the mask should lie in (0, 1)"
    grad = module.mask.head.conv2.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, (
        "no finite gradient reached the mask head: build f3 from differentiable torch operations"
    )


@ASSIGNMENT.check(points=1)
def spatial_attention_network_learns(sub) -> None:
    """A tiny network whose every mask ends with your f3 beats the accuracy threshold on the quick data"""
    ACTIVATIONS["student_spatial"] = sub.SpatialAttentionModule
    assert_learns(tiny_network("arl", 1, activation="student_spatial"), "with f3 as the mask activation")
