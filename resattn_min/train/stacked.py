"""Several runs of one network trained as one network: the runs side by side in the channels.

A CIFAR step at batch 64 is thousands of small kernels; each leaves most of the GPU idle, so the GPU
trains two runs hardly slower than one -- if they share the kernels. ``stack_models`` builds, from ``n``
networks of the same architecture, one network whose every layer holds all ``n``:

* a convolution of ``c -> o`` channels becomes ``n c -> n o`` with ``n`` times the groups, so run ``k``
  reads and writes only its own block of channels (a grouped convolution);
* a BatchNorm over ``c`` channels becomes one over ``n c``: its statistics are per channel, so per run;
* the classifier becomes :class:`StackedLinear`, ``n`` separate matrices;
* ReLU, pooling, bilinear upsampling, sums and products, the sigmoid and the spatial mask activation
  act on each channel alone and are kept; the channel activation (a norm across channels) becomes
  :class:`StackedChannelAttention`. A layer that mixes channels in any other way is refused.

Images go in as ``(B, n * 3, H, W)``, run ``k`` in channels ``3k .. 3k + 2``; logits come out as
``(B, n, classes)``. Nothing couples the runs, so each is trained exactly as it would be alone, on its own
batches, up to the order of floating-point sums inside the kernels (``tests/test_stacked.py``). SGD with
momentum and weight decay acts on each element alone, so one optimizer over the stacked parameters is
``n`` optimizers.

Every stacked tensor is the runs' tensors concatenated along its first dimension, so
:func:`unstack_state` gives each run a state dict with the usual keys and shapes: its checkpoint is a
plain checkpoint, and a run can be resumed alone or in a stack.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..models.attention_module import AttentionModule
from ..models.mask_activation import ChannelAttention, MixedAttention, SpatialAttention
from ..models.network import ResidualAttentionNetwork
from ..models.residual_unit import ResidualUnit, ResNeXtUnit
from ..models.soft_mask import LocalConvMask, MaskHead, SoftMaskBranch
from .batch_counter import UncountedBatchNorm2d

__all__ = [
    "StackedLinear", "StackedChannelAttention", "stack_models", "unstack_state", "stack_states",
    "stack_images", "stack_size",
]

#: Modules whose own code (their ``forward``) treats every channel alone; their children are stacked.
_PER_CHANNEL = (
    nn.Sequential, nn.ModuleList, nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Identity, nn.Sigmoid,
    MixedAttention, SpatialAttention, ResidualUnit, ResNeXtUnit, AttentionModule, SoftMaskBranch,
    LocalConvMask, MaskHead, ResidualAttentionNetwork,
)


class StackedLinear(nn.Module):
    """``n`` linear layers ``c -> k`` side by side: ``(B, n c) -> (B, n, k)``; weight ``(n k, c)``."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.n = len(layers)
        self.weight = nn.Parameter(torch.cat([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.cat([layer.bias.detach() for layer in layers]))

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight.unflatten(0, (self.n, -1))  # (n, k, c)
        out = torch.einsum("bnc,nkc->bnk", x.unflatten(1, (self.n, -1)), weight)
        return out + self.bias.unflatten(0, (self.n, -1))


class StackedChannelAttention(nn.Module):
    """The channel activation f2 (Eq. 5) of ``n`` runs: each normalises over its own channels."""

    def __init__(self, n: int, eps: float) -> None:
        super().__init__()
        self.n, self.eps = n, eps

    def forward(self, x: Tensor) -> Tensor:
        runs = x.unflatten(1, (self.n, -1))
        return (runs / runs.norm(p=2, dim=2, keepdim=True).clamp_min(self.eps)).flatten(1, 2)


def _cat(tensors: list[Tensor]) -> Tensor:
    return torch.cat([t.detach() for t in tensors])


def _stack_conv(convs: list[nn.Conv2d]) -> nn.Conv2d:
    first, n = convs[0], len(convs)
    stacked = nn.Conv2d(first.in_channels * n, first.out_channels * n, first.kernel_size, first.stride,
                        first.padding, first.dilation, first.groups * n, first.bias is not None,
                        first.padding_mode, device=first.weight.device, dtype=first.weight.dtype)
    with torch.no_grad():
        stacked.weight.copy_(_cat([c.weight for c in convs]))
        if first.bias is not None:
            stacked.bias.copy_(_cat([c.bias for c in convs]))
    return stacked


def _stack_bn(norms: list[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    first, n = norms[0], len(norms)
    stacked = type(first)(first.num_features * n, first.eps, first.momentum, first.affine,
                          first.track_running_stats, device=first.weight.device, dtype=first.weight.dtype)
    stacked.load_state_dict(stack_states([bn.state_dict() for bn in norms]))
    return stacked


def _stack_leaf(peers: list[nn.Module]) -> nn.Module | None:
    """The stacked replacement of one layer of every run, or None to keep the layer as it is."""
    first = peers[0]
    if type(first) is nn.Conv2d:
        return _stack_conv(peers)
    if type(first) in (nn.BatchNorm2d, UncountedBatchNorm2d):  # the bench's, uncounted as the trainer's
        return _stack_bn(peers)
    if type(first) is nn.Linear:
        return StackedLinear(peers)
    if type(first) is ChannelAttention:
        return StackedChannelAttention(len(peers), first.eps)
    if isinstance(first, _PER_CHANNEL):
        return None
    raise ValueError(f"cannot stack {type(first).__name__}: it may mix channels (stackable networks are "
                     "built of residual and ResNeXt units, not Inception units)")


def stack_models(models: Sequence[nn.Module]) -> nn.Module:
    """One network holding ``models`` (same architecture, own weights) side by side; see the module doc."""
    if not models:
        raise ValueError("stack at least one model")
    keys = [list(m.state_dict()) for m in models]
    shapes = [[tuple(t.shape) for t in m.state_dict().values()] for m in models]
    if any(k != keys[0] for k in keys) or any(s != shapes[0] for s in shapes):
        raise ValueError("only networks of one architecture can be stacked (their state dicts differ)")
    stacked = copy.deepcopy(models[0])
    peers = [dict(m.named_modules()) for m in models]
    for name in dict(models[0].named_modules()):
        replacement = _stack_leaf([p[name] for p in peers])
        if replacement is not None:
            stacked.set_submodule(name, replacement)
    stacked.stack_size = len(models)
    return stacked


def stack_size(model: nn.Module) -> int:
    """How many runs ``model`` holds (1 for a network that was not stacked)."""
    return getattr(model, "stack_size", 1)


def stack_states(states: Sequence[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The runs' state dicts as one: tensors concatenated along dim 0; 0-d tensors (counters) must agree."""
    stacked = {}
    for key, first in states[0].items():
        if first.dim() == 0:
            if any(not torch.equal(s[key], first) for s in states):
                raise ValueError(f"{key} differs between the runs ({[s[key].item() for s in states]}): "
                                 "only runs at the same iteration can be stacked")
            stacked[key] = first.clone()
        else:
            stacked[key] = _cat([s[key] for s in states])
    return stacked


def unstack_state(state: dict[str, Tensor], n: int) -> list[dict[str, Tensor]]:
    """Split a stacked state dict (of a model or of momentum buffers) into the ``n`` runs' own."""
    return [{key: t.clone() if t.dim() == 0 else t.unflatten(0, (n, -1))[k].clone()
             for key, t in state.items()} for k in range(n)]


def stack_images(batches: Sequence[Tensor]) -> Tensor:
    """``n`` batches ``(B, C, H, W)`` as one ``(B, n C, H, W)`` input, run ``k`` in channel block ``k``."""
    return torch.cat(list(batches), dim=1)
