"""The one switch between quick mode (CPU, minutes) and full mode (GPU, the paper's settings).

``RESATTN_QUICK=1`` in the environment turns quick mode on; every notebook and command reads it here.
``RESATTN_DATA`` overrides where datasets live (default: ``data/`` at the repository root, or ``./data``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["QUICK", "DATA_ROOT", "REPO_ROOT", "is_quick"]

REPO_ROOT = Path(__file__).resolve().parent.parent


def is_quick() -> bool:
    """True when ``RESATTN_QUICK`` is set to ``1``/``true``/``yes``."""
    return os.environ.get("RESATTN_QUICK", "").strip().lower() in ("1", "true", "yes")


def _data_root() -> Path:
    if "RESATTN_DATA" in os.environ:
        return Path(os.environ["RESATTN_DATA"]).expanduser()
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / "data"
    return Path.cwd() / "data"


QUICK: bool = is_quick()
DATA_ROOT: Path = _data_root()
