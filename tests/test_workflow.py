"""The publishing workflow: it passes actionlint, builds the book as the tests do, and deploys it to Pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
#: The address GitHub Pages gives the repository that the README installs from.
PUBLISHED = "https://resattn-min.github.io/resattn-min/"


@pytest.fixture(scope="module")
def actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    assert Path(exe).exists(), "actionlint is missing: pip install -r requirements.txt"
    return exe


def lint(actionlint: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint, "-no-color", str(path)], capture_output=True, text=True, timeout=120)


def test_the_workflow_passes_actionlint(actionlint):
    run = lint(actionlint, WORKFLOW)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / ".github" / "workflows" / "book.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.os }}", 1))
    run = lint(actionlint, broken)
    assert run.returncode != 0 and "matrix" in run.stdout


def test_it_builds_with_the_pinned_requirements_in_quick_mode_and_deploys_to_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["env"]["RESATTN_QUICK"] == "1"
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "-r requirements.txt" in runs and "bash scripts/build_book.sh" in runs
    uses = [step.get("uses", "") for step in build["steps"] + deploy["steps"]]
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert any(u.startswith("actions/deploy-pages@") for u in uses) and deploy["needs"] == "build"
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"


def test_the_readme_says_where_the_book_is_published():
    readme = (ROOT / "README.md").read_text()
    repository = re.search(r"git\+https://github\.com/([\w-]+)/([\w-]+)", readme)
    assert repository, "the README installs the package from its repository"
    owner, name = repository.groups()
    assert PUBLISHED == f"https://{owner}.github.io/{name}/"
    assert PUBLISHED in readme
