"""Models registered by name: ``create_model("attention92_cifar", num_classes=100)``, ``list_models()``."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import TypeVar

from torch import nn

__all__ = ["register_model", "create_model", "list_models"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}
F = TypeVar("F", bound=Callable[..., nn.Module])


def register_model(fn: F) -> F:
    """Register a builder under its function name."""
    _MODELS[fn.__name__] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def create_model(name: str, *, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build the model registered as ``name``; keyword arguments go to its builder.

    ``pretrained=True`` loads the trained weights installed with the package (``pretrained.py``)
    into a network that takes images in [0, 1]: the mean subtraction of its training is part of it.
    """
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available: {', '.join(list_models())}")
    if pretrained:
        from .pretrained import pretrained_model

        return pretrained_model(name, **kwargs)
    return _MODELS[name](**kwargs)
