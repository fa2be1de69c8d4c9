"""The first cells of every chapter: where it runs, and how large the runs it makes are.

``setup_chapter()`` says which device the chapter runs on (and, on a CPU, how to get a GPU on Colab) and
where the repository it reads results from is. ``choose_size(SIZE, device)`` turns the size cell's choice
into the package's quick switch for this kernel and says where run folders go: on Colab with Google
Drive mounted, a folder in Drive, so that ``resume="auto"`` finds a run's checkpoints after a disconnect.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from . import env
from .train.precision import resolve_device

__all__ = ["SIZES", "LESSON_MINUTES", "DRIVE", "Size", "setup_chapter", "choose_size", "runs_folder"]

#: Minutes of training a lesson-sized run gets (``TrainConfig.budget_minutes``).
LESSON_MINUTES = 20
SIZES = {
    "quick": "minutes on a CPU: every cell runs, on small slices and a few dozen iterations",
    "lesson": "a GPU: real networks on real data, each training run fitted to its minutes",
    "full": "the paper's settings: hours of training on a GPU",
}
#: Quick mode as the environment asked for it when the kernel started (``RESATTN_QUICK=1``: the book's
#: build, the tests), before any size cell set it.
_QUICK_AT_START = env.is_quick()
#: Where Colab mounts Google Drive (``from google.colab import drive; drive.mount("/content/drive")``).
DRIVE = Path("/content/drive/MyDrive")


@dataclass(frozen=True)
class Size:
    """A chapter's size: its name, the quick switch it sets, a lesson's minutes, where run folders go."""

    name: str
    quick: bool
    minutes: float | None
    runs: Path


def _on_colab() -> bool:
    return "google.colab" in sys.modules


def setup_chapter() -> torch.device:
    """The device this chapter runs on, after one line about it and about the repository."""
    device = resolve_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU"
    found = env.find_repository()
    where = f"repository {found}" if found else f"no clone of {env.REPOSITORY} found (results unavailable)"
    print(f"device: {device} ({name}) | torch {torch.__version__} | {where}")
    if device.type == "cpu":
        print("No GPU found: the chapters run on a CPU in quick size. For a GPU on Colab choose "
              "Runtime → Change runtime type → GPU.")
    return device


def runs_folder() -> Path:
    """Where run folders go: in Google Drive on Colab when it is mounted (a disconnect keeps them), else
    ``runs/`` in the working folder."""
    if _on_colab() and DRIVE.is_dir():
        return DRIVE / "resattn-min" / "runs"
    return Path("runs")


def choose_size(size: str = "auto", device: torch.device | None = None,
                lesson_minutes: float = LESSON_MINUTES) -> Size:
    """The chapter's size: ``"quick"``, ``"lesson"``, ``"full"``, or ``"auto"`` (quick where
    ``RESATTN_QUICK=1`` or on a CPU, else lesson). Sets the quick switch for this kernel."""
    if size not in ("auto", *SIZES):
        raise ValueError(f"SIZE must be 'auto', 'quick', 'lesson' or 'full', not {size!r}")
    on_cpu = (device or torch.device("cpu")).type == "cpu"
    if size == "auto":
        size = "quick" if _QUICK_AT_START or on_cpu else "lesson"
    env.set_quick(size == "quick")
    chosen = Size(size, size == "quick", lesson_minutes if size == "lesson" else None, runs_folder())
    print(f"size: {size} ({SIZES[size]}); run folders in {chosen.runs}")
    if size != "quick" and on_cpu:
        print(f"warning: {size} size on a CPU takes hours or days; choose 'quick' or a GPU runtime")
    if size != "quick" and _on_colab() and not DRIVE.is_dir():
        print("Run folders on this Colab machine are lost when it disconnects; mount Google Drive "
              "(from google.colab import drive; drive.mount('/content/drive')) and run this cell again to "
              "keep them, so that a run resumes where it stopped")
    return chosen
