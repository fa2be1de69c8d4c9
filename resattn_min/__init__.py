"""resattn-min: the Residual Attention Network (Wang et al., CVPR 2017), built to be read and reproduced."""

from .analysis.paper_tables import paper_table
from .models.attention_module import AttentionModule, combine
from .models.cifar import attention_cifar, modules_for_depth
from .models.counting import architecture_of, count_macs, count_parameters, trunk_depth
from .models.imagenet import attention_imagenet
from .models.mask_activation import ChannelAttention, MixedAttention, SpatialAttention, get_activation
from .models.mask_capture import capture_masks
from .models.network import ResidualAttentionNetwork, Stage
from .models.registry import create_model, list_models, register_model
from .models.residual_unit import InceptionUnit, ResidualUnit, ResNeXtUnit, get_unit
from .models.soft_mask import LocalConvMask, SoftMaskBranch

__version__ = "0.1.0"

__all__ = [
    "AttentionModule",
    "ChannelAttention",
    "InceptionUnit",
    "LocalConvMask",
    "MixedAttention",
    "ResNeXtUnit",
    "ResidualAttentionNetwork",
    "ResidualUnit",
    "SoftMaskBranch",
    "SpatialAttention",
    "Stage",
    "architecture_of",
    "attention_cifar",
    "attention_imagenet",
    "capture_masks",
    "combine",
    "count_macs",
    "count_parameters",
    "create_model",
    "get_activation",
    "get_unit",
    "list_models",
    "modules_for_depth",
    "paper_table",
    "register_model",
    "trunk_depth",
]
