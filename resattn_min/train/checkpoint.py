"""Checkpoints that survive a crash: written atomically, read safely, refused clearly when wrong.

A checkpoint holds everything a run needs to continue bit for bit: weights (with BatchNorm statistics),
optimizer state, iteration, the data stream's position, every random number generator and the config.
It is written to a temporary file in the same folder, flushed to disk and renamed over its final name
(``atomic.write_atomic``), so a crash during the save leaves the earlier checkpoints untouched. It is
read with ``torch.load(weights_only=True)``, which unpickles nothing but tensors and plain containers,
so the random states are stored as tensors and lists.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import write_atomic

__all__ = [
    "FORMAT", "VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint", "list_checkpoints",
    "find_resume_checkpoint", "rng_state", "set_rng_state", "load_optimizer_state", "load_weights",
    "trained_config", "weight_gap", "share_weights",
]

FORMAT = "resattn-min-checkpoint"
VERSION = 1
_NAME = re.compile(r"^checkpoint-(\d+)\.pt$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, truncated, foreign, or for another model."""


def rng_state() -> dict[str, Any]:
    """The state of torch (CPU and CUDA), numpy and Python's generators, as tensors and lists."""
    np_state = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`; CUDA states are restored only where this machine has as many GPUs."""
    torch.set_rng_state(state["torch"].cpu())
    cuda = state["cuda"]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    n = state["numpy"]
    keys = n["keys"].cpu().numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """The optimizer's state with plain-number hyperparameters (the fast step keeps lr as a tensor)."""
    state = optimizer.state_dict()
    state["param_groups"] = [
        {k: float(v) if isinstance(v, torch.Tensor) else v for k, v in group.items()}
        for group in state["param_groups"]
    ]
    return state


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load the momentum buffers; keep this run's hyperparameters (the config is the recipe)."""
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, own in zip(optimizer.param_groups, groups, strict=True):
        group.update(own)


def load_weights(model: torch.nn.Module, state: dict) -> None:
    """Load a checkpoint's weights; a model built with other options gets a :class:`CheckpointError`."""
    from ..models.cifar import trunk_of

    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        detail = str(err).strip().splitlines()[1:2] or [""]
        where = state.get("path", "the checkpoint")
        theirs, ours = trunk_of(state["model"]), trunk_of(model.state_dict())
        if theirs != ours and theirs is not None and ours is not None:
            raise CheckpointError(
                f"{where} holds a CIFAR network with the {theirs} trunk, this model has the {ours} trunk; "
                f"build the model with trunk={theirs!r} (train/evaluate: --trunk {theirs}) to load it"
            ) from err
        raise CheckpointError(f"{where} does not fit this model (was it trained with other unit, mask, "
                              f"activation or combination options?) {detail[0].strip()}") from err


def trained_config(state: dict) -> dict:
    """The config a checkpoint's network was trained with, to rebuild that network.

    Runs from before the ``trunk`` option were CIFAR networks with the ``36m+17`` trunk: their weights
    say so (:func:`resattn_min.models.cifar.trunk_of`), and the returned config asks for that trunk.
    """
    from ..models.cifar import trunk_of

    config = dict(state["config"])
    if config.get("trunk") is None and trunk_of(state["model"]) == "36m+17":
        config["trunk"] = "36m+17"
    return config


def weight_gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The largest absolute difference between two state dicts of one network: 0.0 when they are equal
    bit for bit. Both must hold the same entries of the same shapes (else ``ValueError``)."""
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError("the two state dicts are not of one network: their entries or shapes differ")
    return max(((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel()), default=0.0)


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The checkpoints of a run folder, oldest first (by iteration)."""
    return sorted((p for p in Path(run_dir).glob("checkpoint-*.pt") if _NAME.match(p.name)), key=_iteration)


def save_checkpoint(run_dir: str | Path, iteration: int, payload: dict, keep: int = 2) -> Path:
    """Write ``checkpoint-<iteration>.pt`` atomically, then keep it and the ``keep - 1`` before it.

    ``payload`` holds model, optimizer, data and config entries; the format tag, iteration and random
    states are added here. Older checkpoints are deleted only after the new one is safely on disk.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"checkpoint-{iteration:08d}.pt"
    state = {"format": FORMAT, "version": VERSION, "iteration": int(iteration), "rng": rng_state(), **payload}
    write_atomic(path, lambda f: torch.save(state, f))
    # Prune only older checkpoints: a later one (from a run resumed at an earlier point) is not ours to drop.
    older = [p for p in list_checkpoints(run_dir) if _iteration(p) < iteration]
    for old in older[:len(older) - (keep - 1)] if keep > 0 else []:
        old.unlink()
    return path


def _iteration(path: Path) -> int:
    return int(_NAME.match(path.name).group(1))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    model_name: str | None = None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (or installed trained weights); a
    :class:`CheckpointError` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, garbage bytes, a pickle weights_only refuses
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt, truncated, or not written by resattn-min): "
            f"{_load_failure(err)}"
        ) from err
    if not isinstance(state, dict) or (state.get("format") != FORMAT and not _is_shared_weights(state)):
        raise CheckpointError(f"{path} is not a resattn-min checkpoint (no {FORMAT!r} format tag)")
    if state.get("format") == FORMAT and state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {state.get('version')}, "
                              f"this resattn-min reads version {VERSION}")
    missing = [key for key in ("model", "config", "iteration") if key not in state]
    if missing:
        raise CheckpointError(f"{path} has no {' or '.join(missing)} entry: an incomplete checkpoint")
    saved = state.get("config", {}).get("model")
    if model_name is not None and saved != model_name:
        raise CheckpointError(f"{path} holds a {saved!r} model, not {model_name!r}")
    state["path"] = str(path)  # where it was read from, for messages
    return state


def _is_shared_weights(state: dict) -> bool:
    """Weights written to share (``resattn_min/weights/``): a run's network in half precision, its config
    and iteration, no run state (they can be evaluated, not resumed)."""
    return state.get("dtype") == "float16" and {"model", "config", "iteration"} <= state.keys()


def share_weights(checkpoint: str | Path, out: str | Path) -> Path:
    """Write a checkpoint's network as weights to share (``resattn_min/weights/``): its floating-point
    tensors in half precision (integers, such as BatchNorm's batch count, as they are), its config and
    iteration, and no run state. They load as the float32 network up to half precision's rounding, a
    quarter of the checkpoint's size; a value half precision cannot hold is refused, not rounded to
    infinity."""
    state = load_checkpoint(checkpoint)
    half = {}
    for key, tensor in state["model"].items():
        if tensor.is_floating_point():
            tensor = tensor.to(torch.float16)
            if not torch.isfinite(tensor).all():
                raise CheckpointError(f"{key} of {checkpoint} has values beyond half precision's range "
                                      f"(65,504): these weights cannot be shared in float16")
        half[key] = tensor
    shared = {"model": half, "config": state["config"], "iteration": state["iteration"], "dtype": "float16"}
    return write_atomic(Path(out), lambda f: torch.save(shared, f))


def _load_failure(err: Exception) -> str:
    """What ``torch.load`` found wrong, without its terminal colour codes or its advice to load unsafely."""
    text = _ANSI.sub("", str(err))
    text = text.split("WeightsUnpickler error:", 1)[-1]  # the unpickler's finding, after torch's advice
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
    return first.split(". ")[0].rstrip(".")


def find_resume_checkpoint(run_dir: str | Path, map_location: str | torch.device = "cpu",
                           model_name: str | None = None) -> dict | None:
    """The newest usable checkpoint of ``run_dir`` (``--resume auto``), or None if it has none.

    An unreadable newest checkpoint is reported and skipped for the one before it, never deleted.
    """
    errors = []
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return load_checkpoint(path, map_location, model_name)
        except CheckpointError as err:
            errors.append(str(err))
            print(f"warning: skipping {path.name}: {err}", flush=True)
    if errors:
        raise CheckpointError("no usable checkpoint in " + str(run_dir) + ":\n  " + "\n  ".join(errors))
    return None
