"""Two tiny registered models that keep the trainer's tests fast on a CPU.

``tiny_attention_test``: a real Residual Attention Network (two stages, one Attention Module each, 8-16-32
channels) that trains on 32x32 images in milliseconds per step. ``tiny_convnet_test``: a BatchNorm-free
conv net, so that a two-process DDP run (gloo on CPU cannot run SyncBatchNorm) computes the same function
of the global batch as one process.
"""

from __future__ import annotations

from torch import nn

from resattn_min.models.network import ResidualAttentionNetwork, Stage
from resattn_min.models.registry import list_models, register_model


def tiny_attention_test(*, num_classes: int = 10, **options) -> ResidualAttentionNetwork:
    stem = nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
    stages = [Stage(16, 2, 1, mask_depth=1), Stage(32, 2, 1, mask_depth=1)]
    return ResidualAttentionNetwork(stem, 8, 1, stages, num_classes=num_classes, name="tiny_attention_test",
                                    **options)


def tiny_convnet_test(*, num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes),
    )


for _builder in (tiny_attention_test, tiny_convnet_test):
    if _builder.__name__ not in list_models():
        register_model(_builder)
