"""Image files that cannot be decoded (corrupt, truncated, a text file named .jpg): refused or skipped.

``on_bad_image="error"`` (the default) stops with the file's path and what is wrong with it;
``"skip"`` leaves it out and records its path, so the run's results say how many images it did not see.
Decoded-once datasets (``decoded.load_image_tensors``) leave such files out of the tensors. DataLoader
workers cannot raise a readable error or drop a sample, so ``imagenet.ScreenedImageFolder`` hands
back a blank image labelled ``-(index + 1)`` and the main process screens each batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["BAD_IMAGE_POLICIES", "BadImageError", "ScreenedBatches", "read_rgb", "recheck"]

BAD_IMAGE_POLICIES = ("error", "skip")


class BadImageError(ValueError):
    """An image file that cannot be decoded: its ``path``, the decoder's ``reason`` and what to do."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path} is not a readable image ({reason}); replace or remove it, or pass "
                         "--on-bad-image skip to leave it out")
        self.path, self.reason = str(path), reason


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file's pixels, ``[H, W, 3]`` uint8 (grayscale made RGB), or :class:`BadImageError`."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError ... for broken files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BadImageError(path, reason) from None


def recheck(path: str) -> BadImageError:
    """Why a loader worker could not read ``path`` (read again here, where the reason can be kept)."""
    try:
        read_rgb(path)
    except BadImageError as err:
        return err
    return BadImageError(path, "a loader worker could not decode it")


class ScreenedBatches:
    """An evaluation ``DataLoader`` of a ``ScreenedImageFolder`` whose batches leave out unreadable images
    (or refuse them, by ``on_bad_image``), so no blank stand-in is ever scored."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def __iter__(self):
        return (self.loader.dataset.screen(images, labels, keep_size=False) for images, labels in self.loader)

    def __len__(self) -> int:
        return len(self.loader)
