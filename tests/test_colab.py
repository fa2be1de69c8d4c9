"""The student's path: one place names the repository; on Colab the first cell fetches it and says what
failed when it cannot; every chapter that trains or measures chooses its size before anything runs;
run folders go to Google Drive when it is mounted; a package installed from a clone finds the clone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from resattn_min import env, notebook
from resattn_min.analysis.runs_on_record import load_runs
from resattn_min.env import BRANCH, COLAB_CLONE, REPOSITORY, find_repository
from resattn_min.notebook import choose_size, setup_chapter
from resattn_min.train.run_config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
OWNER_NAME = REPOSITORY.removeprefix("https://github.com/")


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def first_cell(path: Path) -> str:
    return "".join(json.loads(path.read_text())["cells"][0]["source"])


def test_badges_launch_button_install_cells_readme_and_metadata_name_the_one_repository():
    book = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    assert (book["url"], book["branch"]) == (REPOSITORY, BRANCH)  # the launch and repository buttons
    assert f'\nRepository = "{REPOSITORY}"\n' in (ROOT / "pyproject.toml").read_text()  # [project.urls]
    readme = (ROOT / "README.md").read_text()
    assert f'pip install "git+{REPOSITORY}"' in readme
    assert OWNER_NAME in (ROOT / "hubconf.py").read_text()
    for path in CHAPTERS:
        badge = f"https://colab.research.google.com/github/{OWNER_NAME}/blob/{BRANCH}/chapters/{path.name}"
        assert f"]({badge})" in first_cell(path), path.name
        setup = code_cells(path)[0]
        assert f'REPOSITORY = "{REPOSITORY}"' in setup, path.name
        assert f'BRANCH, CLONE = "{BRANCH}", Path("{COLAB_CLONE}")' in setup, path.name
    urls = set(re.findall(r"https://github\.com/[\w-]+/[\w-]+", readme + "".join(map(first_cell, CHAPTERS))))
    assert urls <= {REPOSITORY}, f"another address is typed in somewhere: {urls - {REPOSITORY}}"


def _bootstrap(path: Path) -> str:
    """The lines of a chapter's first cell that run before the package can be imported."""
    end = "    sys.path.insert(0, str(Path.cwd().parent))\n"
    return code_cells(path)[0].split(end)[0] + end


def test_the_first_cell_on_colab_without_network_says_what_failed(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "git").write_text("#!/bin/sh\necho \"fatal: unable to access '$7': Could not resolve host: "
                                  "github.com\" >&2\nexit 128\n")
    (fake_bin / "git").chmod(0o755)
    colab = 'import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")\n'
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "PYTHONPATH": ""}
    # -S: no site-packages, so the package is not importable, as on a fresh Colab machine
    done = subprocess.run([sys.executable, "-S", "-c", colab + _bootstrap(CHAPTERS[0])], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()
    assert f"RuntimeError: setup failed: git clone --quiet --depth 1 --branch {BRANCH} {REPOSITORY} " \
           f"{COLAB_CLONE}" in done.stderr
    assert last[-1] == f"fatal: unable to access '{REPOSITORY}': Could not resolve host: github.com"


def test_every_chapter_shares_the_first_cell():
    bootstraps = {_bootstrap(path) for path in CHAPTERS}
    assert len(bootstraps) == 1, "one bootstrap for every chapter"
    assert "pip" in next(iter(bootstraps)) and "torch" not in next(iter(bootstraps))  # Colab's torch is kept


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_a_chapter_that_trains_or_measures_chooses_its_size_first(path):
    cells = code_cells(path)
    sized = any(re.search(r"\b(QUICK|run_size)\b", code) for code in cells[2:])
    if not sized:
        assert "choose_size" not in "".join(cells), "no size choice where nothing depends on it"
        return
    size = cells[1]
    assert re.search(r'^SIZE = "auto"$', size, flags=re.M), "the choice is one visible line"
    assert "run_size = choose_size(SIZE, device" in size and "QUICK = run_size.quick" in size
    assert not re.search(r"\b(QUICK|run_size)\b", cells[0]), "the first cell only sets up"


@pytest.fixture
def kernel(monkeypatch):
    """A chapter's kernel: the quick switch as the environment sets it, put back afterwards."""
    monkeypatch.delenv("RESATTN_QUICK", raising=False)
    monkeypatch.setattr(notebook, "_QUICK_AT_START", False)
    monkeypatch.setattr(env, "QUICK", env.QUICK)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    return monkeypatch


def test_auto_is_quick_on_a_cpu_and_lesson_on_a_gpu(kernel):
    quick = choose_size("quick", torch.device("cuda"))
    quick = choose_size("auto", torch.device("cpu"))
    assert (quick.name, quick.quick, quick.minutes) == ("quick", True, None)
    assert env.is_quick() and TrainConfig().plan().quick  # the package follows the choice
    lesson = choose_size("auto", torch.device("cuda"))
    assert (lesson.name, lesson.quick, lesson.minutes) == ("lesson", False, notebook.LESSON_MINUTES)
    assert not env.is_quick() and not TrainConfig().plan().quick
    assert choose_size("full", torch.device("cuda")).minutes is None
    assert choose_size("auto", torch.device("cuda")).name == "lesson"  # an earlier choice does not stick
    kernel.setattr(notebook, "_QUICK_AT_START", True)  # RESATTN_QUICK=1: the book's build, the tests
    assert choose_size("auto", torch.device("cuda")).name == "quick"
    with pytest.raises(ValueError, match="SIZE must be"):
        choose_size("medium")


def test_a_large_size_on_a_cpu_is_warned_about(kernel, capsys):
    choose_size("lesson", torch.device("cpu"))
    assert "warning: lesson size on a CPU takes hours" in capsys.readouterr().out


def test_on_colab_run_folders_go_to_google_drive_when_it_is_mounted(kernel, tmp_path, capsys):
    kernel.setitem(sys.modules, "google.colab", object())
    kernel.setattr(notebook, "DRIVE", tmp_path / "MyDrive")
    assert choose_size("lesson", torch.device("cuda")).runs == Path("runs")
    assert "mount Google Drive" in capsys.readouterr().out  # and why
    (tmp_path / "MyDrive").mkdir()
    assert choose_size("lesson", torch.device("cuda")).runs == tmp_path / "MyDrive" / "resattn-min" / "runs"
    assert "mount" not in capsys.readouterr().out


def test_setup_reports_the_device_the_repository_and_how_to_get_a_gpu(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup_chapter() == torch.device("cpu")
    out = capsys.readouterr().out
    assert f"repository {ROOT}" in out and "Runtime → Change runtime type → GPU" in out


def test_an_installed_package_finds_the_clone_it_was_installed_from(monkeypatch, tmp_path):
    monkeypatch.setattr(env, "_PACKAGE_PARENT", tmp_path / "site-packages")  # not a clone
    monkeypatch.setattr(env, "COLAB_CLONE", tmp_path / "content" / "resattn-min")
    monkeypatch.delenv("RESATTN_HOME", raising=False)
    monkeypatch.chdir(ROOT / "chapters")  # a notebook of the clone
    assert find_repository() == ROOT
    monkeypatch.chdir(tmp_path)
    assert find_repository() is None
    monkeypatch.setenv("RESATTN_HOME", str(ROOT))
    assert find_repository() == ROOT
    monkeypatch.delenv("RESATTN_HOME")
    monkeypatch.setattr(env, "COLAB_CLONE", ROOT)  # where the first cell clones it on Colab
    assert find_repository() == ROOT


def test_results_missing_from_an_installed_package_say_where_they_are(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"run from a clone of {REPOSITORY}.*RESATTN_HOME"):
        load_runs("cifar10_jpeg", root=tmp_path)
