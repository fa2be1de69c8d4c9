"""Whether a checkpoint may continue this run, checked before anything is loaded from it.

``load_weights`` refuses weights that do not fit the network; these checks refuse what fits and is still
wrong: options that own no weights (ARL against NAL, the mask's activation), a checkpoint past the end
of this run's schedule, one without the optimizer, data or random state a run continues from, and a
classifier for another number of classes (which would otherwise be blamed on the network's options).
"""

from __future__ import annotations

import torch
from torch import nn

from .checkpoint import CheckpointError
from .run_config import TrainConfig

__all__ = ["MODEL_OPTIONS", "check_resume", "check_classes"]

#: Config keys that change the network besides its name; a run continues only with the same ones.
MODEL_OPTIONS = ("combination", "activation", "mask", "unit")
_RUN_STATE = ("optimizer", "data", "rng")


def check_resume(ckpt: dict, config: TrainConfig, total: int, model: nn.Module) -> None:
    """Refuse (:class:`CheckpointError`) a checkpoint that cannot continue ``config``'s run of ``model``."""
    where = ckpt.get("path", "the checkpoint")
    missing = [key for key in _RUN_STATE if key not in ckpt]
    if missing:
        raise CheckpointError(f"{where} holds no {' or '.join(missing)} state (weights alone?), so no run "
                              "can continue from it; evaluate it, or start a new run")
    saved = ckpt["config"]
    differ = [f"{k}={saved.get(k)!r} (this run: {getattr(config, k)!r})" for k in MODEL_OPTIONS
              if saved.get(k) != getattr(config, k)]
    if differ:
        raise CheckpointError(f"{where} was trained with {', '.join(differ)}; resume with its options, or "
                              "start a run with these options in another --run-dir")
    if ckpt["iteration"] > total:
        raise CheckpointError(f"{where} is at iteration {ckpt['iteration']}, past the end of this run's "
                              f"schedule ({total} iterations); give a longer schedule (--total-iters, "
                              "--schedule-scale) or another --run-dir")
    check_classes(ckpt, model)


def check_classes(ckpt: dict, model: nn.Module) -> None:
    """Refuse a checkpoint whose classifier has another number of outputs than ``model``'s."""
    theirs, ours = _classifier(ckpt["model"]), _classifier(model.state_dict())
    if theirs and ours and theirs[0] == ours[0] and theirs[1] != ours[1]:
        where = ckpt.get("path", "the checkpoint")
        raise CheckpointError(f"{where} classifies {theirs[1]} classes, the data has {ours[1]}; use it with "
                              "the dataset it was trained on")


def _classifier(state: dict[str, torch.Tensor]) -> tuple[str, int] | None:
    """The last 2-D weight of a state dict (the classifier in every network here) and its output count."""
    matrices = [(k, v.shape[0]) for k, v in state.items() if v.is_floating_point() and v.dim() == 2]
    return matrices[-1] if matrices else None
