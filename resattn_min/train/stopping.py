"""Stopping a run cleanly: Ctrl-C (or SIGTERM) ends the step under way, then a checkpoint is written there.

An interrupt that lands inside ``optimizer.step()`` would leave half the weights updated, so the signal
only asks the loop to stop; the loop finishes its step, writes a checkpoint of that whole state and
raises :class:`TrainingInterrupted`. A second signal stops at once (the last checkpoint stays good).
Before the loop (loading data, building the model) a signal stops at once too: there is nothing to save.
"""

from __future__ import annotations

import signal
import threading

import torch
from torch import nn

from ..data.imagenet import STOP_SIGNALS

__all__ = ["StopOnSignal", "TrainingInterrupted", "non_finite_state"]


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by a signal after writing a checkpoint; ``exit_code`` is the shell's 128 + signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class StopOnSignal:
    """While entered and armed, SIGINT/SIGTERM set :attr:`signum`; unarmed (or twice), they stop at once.

    Signal handlers can only be set from the main thread: elsewhere (and with ``enabled=False``) this
    does nothing and signals keep their usual effect.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.armed = False
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if self.enabled:
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def arm(self) -> None:
        """From now on a signal asks for a stop at the end of the current step."""
        self.armed = True

    def interrupted(self, iteration: int, total: int, checkpoint: object) -> TrainingInterrupted:
        """The exception that ends a run stopped by :attr:`signum` once ``checkpoint`` holds its state."""
        name = signal.Signals(self.signum).name
        return TrainingInterrupted(f"stopped by {name} after iteration {iteration} of {total}; saved in "
                                   f"{checkpoint}: continue with --resume auto", self.signum)

    def _handle(self, signum: int, frame) -> None:
        if not self.armed or self.signum is not None:  # nothing to save yet, or asked twice
            raise KeyboardInterrupt
        self.signum = signum


def non_finite_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> str | None:
    """The first weight, buffer or momentum tensor holding NaN or infinity, named; None if all are finite."""
    tensors = [(f"weight {k}", v) for k, v in model.state_dict().items()]
    names = {p: n for n, p in model.named_parameters()}
    tensors += [(f"momentum of {names.get(p, 'a parameter')}", s["momentum_buffer"])
                for p, s in optimizer.state.items() if s.get("momentum_buffer") is not None]
    floats = [(name, t) for name, t in tensors if t.is_floating_point()]
    finite = torch.stack([t.isfinite().all() for _, t in floats]).cpu()  # one wait for the device
    bad = next((i for i, ok in enumerate(finite.tolist()) if not ok), None)
    if bad is None:
        return None
    name, tensor = floats[bad]
    return f"the {name} became {tensor[~tensor.isfinite()].flatten()[0].item()}"
