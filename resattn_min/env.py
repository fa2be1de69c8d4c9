"""The one switch between run sizes, and where the repository is.

``RESATTN_QUICK=1`` in the environment turns quick mode on (CPU, minutes); every notebook and command reads
it here. A chapter's size cell (``resattn_min.notebook.choose_size``) sets it for its kernel.
``RESATTN_DATA`` overrides where datasets live (default: ``data/`` in the repository, or ``./data``).

The repository (its ``results/``, ``scripts/`` and ``assignments/``) is this package's own folder in a
clone; a package installed from a clone (``pip install .``, as the chapters' first cell does on Colab)
finds the clone from the working folder, from ``/content/resattn-min`` (where that cell puts it), or from
``RESATTN_HOME``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["QUICK", "DATA_ROOT", "REPO_ROOT", "REPOSITORY", "BRANCH", "COLAB_CLONE", "is_quick",
           "set_quick", "find_repository", "RESULTS"]

#: The one place that names the repository: badges, launch button, install cell and README are
#: checked against it (tests/test_colab.py).
REPOSITORY = "https://github.com/resattn-min/resattn-min"
BRANCH = "main"
#: Where the chapters' first cell clones the repository on Colab.
COLAB_CLONE = Path("/content/resattn-min")
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def is_quick() -> bool:
    """True when ``RESATTN_QUICK`` is set to ``1``/``true``/``yes``."""
    return os.environ.get("RESATTN_QUICK", "").strip().lower() in ("1", "true", "yes")


def set_quick(quick: bool) -> None:
    """Turn quick mode on or off for this process and the processes it starts."""
    global QUICK
    os.environ["RESATTN_QUICK"] = "1" if quick else "0"
    QUICK = quick


def _is_repository(folder: Path) -> bool:
    project = folder / "pyproject.toml"
    return project.is_file() and 'name = "resattn-min"' in project.read_text(errors="replace")


def find_repository() -> Path | None:
    """The resattn-min clone to read ``results/`` from, or None when there is none to be found."""
    home = os.environ.get("RESATTN_HOME")
    here = Path.cwd().resolve()
    candidates = [Path(home).expanduser()] if home else []
    candidates += [_PACKAGE_PARENT, here, *here.parents, COLAB_CLONE]
    return next((folder for folder in candidates if _is_repository(folder)), None)


def _data_root() -> Path:
    if "RESATTN_DATA" in os.environ:
        return Path(os.environ["RESATTN_DATA"]).expanduser()
    if _is_repository(REPO_ROOT):
        return REPO_ROOT / "data"
    return Path.cwd() / "data"


QUICK: bool = is_quick()
#: The repository; outside any clone, the folder above the installed package (which holds no results).
REPO_ROOT: Path = find_repository() or _PACKAGE_PARENT
DATA_ROOT: Path = _data_root()
#: The runs on record (``results/`` of the repository).
RESULTS: Path = REPO_ROOT / "results"
