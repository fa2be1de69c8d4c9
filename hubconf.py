"""torch.hub entry points: ``torch.hub.load("resattn-min/resattn-min", "attention92_cifar", trunk="36m+17",
pretrained=True)``.

Every model of ``resattn_min.list_models()`` is an entry point; keyword arguments go to
``resattn_min.create_model`` (``pretrained=True``: the trained weights installed with the package, in a
network that takes images in [0, 1]).
"""

from functools import partial as _partial

from resattn_min import create_model as _create_model
from resattn_min import list_models as _list_models

dependencies = ["torch", "torchvision", "numpy", "yaml", "tqdm", "PIL"]


def _entry_point(name: str):
    entry = _partial(_create_model, name)
    entry.__doc__ = f"create_model({name!r}, **kwargs): {_create_model.__doc__}"
    return entry


globals().update({name: _entry_point(name) for name in _list_models()})
