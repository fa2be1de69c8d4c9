"""The package as Colab installs it: built from the clone into a folder of its own (not editable), with
the clone beside it. The trained weights travel inside it; ``results/`` and ``scripts/`` stay in the
clone, and chapters 7-11, which read them, must run with this package. They stopped on Colab once
(``FileNotFoundError: no results group``) because nothing ran them this way."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pip-installs the package and runs chapters

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
RESULT_CHAPTERS = [path for path in CHAPTERS if 7 <= int(path.name[:2]) <= 11]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``pip install <clone>`` into an empty folder, offline: the package, its configs and weights."""
    tmp = tmp_path_factory.mktemp("colab")
    source = tmp / "clone"  # the files a build reads, so that building leaves nothing in the repository
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "resattn_min", source / "resattn_min",
                    ignore=shutil.ignore_patterns("__pycache__"))
    offline = ["--no-index", "--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *offline, "--target",
                    str(tmp / "site"), str(source)], check=True, capture_output=True, timeout=600)
    return tmp / "site"


def _python(site: Path, code: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(site), "RESATTN_QUICK": "1"}
    env.pop("RESATTN_HOME", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_installed_package_carries_its_weights_and_says_where_results_are(site, tmp_path):
    out = _python(site, """
import resattn_min, torch
from resattn_min import create_model
from resattn_min.env import find_repository
from resattn_min.analysis.runs_on_record import load_runs
print(resattn_min.__file__)
print(find_repository())
model = create_model("attention92_cifar", trunk="36m+17", pretrained=True)
print(model(torch.rand(1, 3, 32, 32)).shape)
try:
    load_runs("cifar10_jpeg")
except FileNotFoundError as err:
    print(err)
""", cwd=tmp_path)
    file, repository, shape, error = out.strip().splitlines()
    assert Path(file).is_relative_to(site) and repository == "None"
    assert shape == "torch.Size([1, 10])"
    assert "the runs on record are in the repository, not in the installed package" in error


def test_chapters_7_to_11_read_the_clones_results_with_the_installed_package(site):
    """The result chapters through nbval (quick mode), their kernels importing the installed copy."""
    out = _python(site, "import resattn_min; from resattn_min.env import REPO_ROOT; "
                        "print(resattn_min.__file__); print(REPO_ROOT)", cwd=ROOT / "chapters")
    file, repository = out.strip().splitlines()
    assert Path(file).is_relative_to(site) and Path(repository) == ROOT
    env = {**os.environ, "PYTHONPATH": str(site), "RESATTN_QUICK": "1"}
    env.pop("RESATTN_HOME", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           *map(str, RESULT_CHAPTERS)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout[-5000:]
    assert len(RESULT_CHAPTERS) == 5
