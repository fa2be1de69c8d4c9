"""What a run trains and tests on, whichever pipeline made it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["RunData"]


@dataclass
class RunData:
    """A run's train and test batches (streams or loaders), its classes, and where they came from.

    ``skipped``: the unreadable image files left out (``on_bad_image="skip"``); a DataLoader pipeline adds
    them as its workers meet them.
    """

    train: Iterator[tuple[Tensor, Tensor]]
    test: Iterable[tuple[Tensor, Tensor]]
    num_classes: int
    classes: list[str]
    source: str
    noise: dict | None
    skipped: set[str] = field(default_factory=set)
