"""The network of the paper, one file per idea: read these to see the Residual Attention Network.

``residual_unit`` (the trunk's units) -> ``mask_activation`` (f1, f2, f3) -> ``soft_mask`` (the bottom-up
top-down mask branch) -> ``attention_module`` (ARL and NAL) -> ``network`` (one configurable network) ->
``cifar`` and ``imagenet`` (the paper's variants as one-line builders) -> ``registry``
(``create_model``, ``list_models``). Around them: ``mask_capture`` (the masks a forward pass computes),
``counting`` (parameters, multiply-adds, trunk depth) and ``pretrained`` (the installed weights).
"""

from .attention_module import AttentionModule, combine
from .cifar import attention_cifar, modules_for_depth
from .counting import architecture_of, count_macs, count_parameters, trunk_depth
from .imagenet import attention_imagenet
from .mask_activation import ChannelAttention, MixedAttention, SpatialAttention, get_activation
from .mask_capture import capture_masks
from .network import ResidualAttentionNetwork, Stage
from .registry import create_model, list_models, register_model
from .residual_unit import InceptionUnit, ResidualUnit, ResNeXtUnit, get_unit
from .soft_mask import LocalConvMask, SoftMaskBranch

__all__ = [
    "AttentionModule", "ChannelAttention", "InceptionUnit", "LocalConvMask", "MixedAttention", "ResNeXtUnit",
    "ResidualAttentionNetwork", "ResidualUnit", "SoftMaskBranch", "SpatialAttention", "Stage",
    "architecture_of", "attention_cifar", "attention_imagenet", "capture_masks", "combine", "count_macs",
    "count_parameters", "create_model", "get_activation", "get_unit", "list_models", "modules_for_depth",
    "register_model", "trunk_depth",
]
