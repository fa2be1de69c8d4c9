"""Write ``tests/reference/networks.pt``: outputs of small networks whose weights are given by a formula.

``tests/test_reference.py`` rebuilds every network listed in :data:`NETWORKS`, fills its weights with
:func:`fill_weights` and compares its outputs (logits, pooled features, and a summary of every mask
``M(x)``) with the stored ones. A change to the maths of any layer -- an upsampling, a shortcut, a ReLU,
the mask's combination -- changes these numbers, so the test fails.

The weights come from an integer hash of each element's index and the tensor's name, not from torch's
random generator or its init functions: a new torch version rebuilds the very same network. Everything
runs in float64, in ``eval()`` mode (BatchNorm uses its stored statistics, filled like the weights), with
deterministic algorithms, so the comparison can be tight.

When to regenerate: only after a *deliberate* change of a network's mathematics (a fix that brings a
layer closer to the released definition, a new default), or after adding an entry to :data:`NETWORKS`.
Never to make a failing test pass without knowing which change moved the numbers. Regenerating is a
reviewed act: commit the new ``networks.pt`` with the code change that explains it, and say why in the
commit message. How, from the repository root (CPU, about half a minute)::

    PYTHONPATH=. python tests/reference/make_reference.py
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import torch
from torch import Tensor, nn

from resattn_min import capture_masks, create_model

REFERENCE_FILE = Path(__file__).with_name("networks.pt")

#: name -> (registered model, builder options, input shape). Small odd sizes make every upsampling
#: go to an odd size (where the corner-aligned grid matters most) and keep the file small.
NETWORKS: dict[str, tuple[str, dict, tuple[int, int, int, int]]] = {
    "attention56_cifar": ("attention56_cifar", {}, (2, 3, 32, 32)),
    "attention56_cifar_odd": ("attention56_cifar", {}, (1, 3, 27, 21)),
    "attention56_cifar_nal_spatial": (
        "attention56_cifar", {"combination": "nal", "activation": "spatial"}, (1, 3, 20, 20)),
    "attention56_cifar_channel": ("attention56_cifar", {"activation": "channel"}, (1, 3, 20, 20)),
    "attention56_cifar_local": ("attention56_cifar", {"mask": "local"}, (1, 3, 16, 16)),
    "attention56": ("attention56", {}, (1, 3, 72, 56)),
}

_BITS = 2**31 - 1  # values are kept to 31 bits, so products stay below 2**62: int64 never overflows


def hashed_uniform(n: int, name: str) -> Tensor:
    """``n`` float64 values in [-1, 1): an integer hash of (index, ``name``), exact on every machine."""
    x = torch.arange(n, dtype=torch.int64).add_(zlib.crc32(name.encode())).bitwise_and_(_BITS)
    for _ in range(3):  # a linear congruential step, then an xor-shift to mix the high bits down
        x.mul_(1103515245).add_(12345).bitwise_and_(_BITS)
        x.bitwise_xor_(x >> 13)
    return x.double().mul_(2 / (_BITS + 1)).sub_(1)


def fill_weights(model: nn.Module) -> nn.Module:
    """Make ``model`` float64 and give every parameter and BatchNorm statistic a value from the hash.

    Weights get the variance ``1 / fan_in`` so activations stay of order one through the network;
    BatchNorm gets scales near 1, shifts and means near 0 and variances in [1, 1.5].
    """
    model.double()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue  # num_batches_tracked
            u = hashed_uniform(tensor.numel(), name).view_as(tensor)
            if tensor.dim() > 1:  # conv or linear weight: uniform with variance 1 / fan_in
                tensor.copy_(u * math.sqrt(3 / (tensor[0].numel())))
            elif name.endswith("running_var"):
                tensor.copy_(1.25 + 0.25 * u)
            elif name.endswith("weight"):
                tensor.copy_(1 + 0.25 * u)
            else:  # biases, running means
                tensor.copy_(0.25 * u)
    return model.eval()


def compute(entry: str) -> dict[str, Tensor]:
    """The outputs of one :data:`NETWORKS` entry: logits, pooled features and its masks' summaries.

    Each mask ``M(x)`` (N, C, H, W) is kept as its mean over channels (N, H, W), which keeps where it
    attends, and its mean over positions (N, C), which keeps what it attends to.
    """
    model_name, options, shape = NETWORKS[entry]
    model = fill_weights(create_model(model_name, **options))
    x = hashed_uniform(math.prod(shape), "input").view(shape) * math.sqrt(3)
    with torch.no_grad(), capture_masks(model) as masks:
        features = model.forward_features(x)
        logits = model.forward_head(features)
    out = {"logits": logits, "features": features.mean(dim=(2, 3))}
    for k, record in enumerate(masks):
        out[f"mask{k}_where"] = record.mask.mean(dim=1)
        out[f"mask{k}_what"] = record.mask.mean(dim=(2, 3))
    return out


def main() -> None:
    torch.use_deterministic_algorithms(True)
    reference = {entry: compute(entry) for entry in NETWORKS}
    torch.save({"torch": str(torch.__version__), "networks": reference}, REFERENCE_FILE)
    size_kb = REFERENCE_FILE.stat().st_size / 1024
    print(f"wrote {REFERENCE_FILE} ({size_kb:.0f} KB, {len(reference)} networks)")


if __name__ == "__main__":
    main()
