"""What every chapter notebook promises its reader, checked without running it.

A reader who opens a chapter on Colab must find a badge that opens *this* notebook, a first cell that
installs the package on Colab only (and never reinstalls torch) and says whether a GPU is there, the
quick switch read in one place (``resattn_min.env``), exercises with folded solutions, and a citation
of the paper that resolves in the bibliography. Chapters are committed without outputs: the book runs them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
COLAB = "https://colab.research.google.com/github/resattn-min/resattn-min/blob/main/chapters/"
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def code_cells(nb: dict) -> list[str]:
    return [source(c) for c in nb["cells"] if c["cell_type"] == "code"]


def markdown(nb: dict) -> str:
    return "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def bib_keys() -> set[str]:
    return set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text()))


def test_there_are_chapters():
    assert len(CHAPTERS) >= 5, "chapters/ should hold the five chapters of 'Building the network'"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_opens_with_title_and_colab_badge_for_this_notebook(path: Path):
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = source(first)
    assert text.startswith("# "), "the first cell starts with the chapter's title"
    assert f"]({COLAB}{path.name})" in text, "the Colab badge must open this very notebook"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_sets_up_colab_gpu_and_quick_mode(path: Path):
    setup = code_cells(load(path))[0]  # what it does is tested in test_colab.py
    assert '"google.colab" in sys.modules' in setup, "fetch and install on Colab only"
    assert '"git", "clone"' in setup and '"pip", "install"' in setup, "the repository, then the package"
    assert not re.search(r"pip[^\n]*install[^\n]*\btorch\b", setup), "never reinstall torch on Colab"
    assert "device = setup_chapter()" in setup, "device and GPU advice come from the package"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_quick_switch_is_read_only_through_config(path: Path):
    for code in code_cells(load(path)):
        assert "RESATTN_QUICK" not in code and "os.environ" not in code and "getenv" not in code


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_ends_with_exercises_and_folded_solutions(path: Path):
    text = markdown(load(path))
    assert re.search(r"^## Exercises\s*$", text, flags=re.M)
    after = text[re.search(r"^## Exercises\s*$", text, flags=re.M).end():]
    exercises = re.findall(r"^:::\{exercise\}\n:label: (\S+)", after, flags=re.M)
    solutions = re.findall(r"^:::\{solution\} (\S+)\n:class: dropdown", after, flags=re.M)
    assert exercises, "at least one exercise"
    assert sorted(exercises) == sorted(solutions), "every exercise has one folded (dropdown) solution"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_cites_the_paper_and_every_key_resolves(path: Path):
    cited = {key.strip() for group in CITE.findall(markdown(load(path))) for key in group.split(",")}
    assert "wang2017residual" in cited
    assert cited <= bib_keys(), f"unknown bibliography keys: {sorted(cited - bib_keys())}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path):
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, (
                f"{path.name}: clear the outputs before committing (the book executes the notebooks)"
            )


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"^\s*- file: (chapters/\S+)", toc, flags=re.M))
    planned = set(re.findall(r"^\s*#\s*- file: (chapters/\S+)", toc, flags=re.M))
    for path in CHAPTERS:
        entry = f"chapters/{path.stem}"
        assert entry in listed, f"{entry} exists but is not in _toc.yml" + (
            " (uncomment its planned entry)" if entry in planned else "")
    for entry in listed:
        assert (ROOT / f"{entry}.ipynb").exists() or (ROOT / f"{entry}.md").exists(), (
            f"_toc.yml lists {entry}, which does not exist")


#: The widest code line the book's page shows without cutting it off.
CODE_WIDTH = 88
#: The results chapters: they compute in package functions and glue in one hidden cell.
RESULTS_CHAPTERS = [p for p in CHAPTERS if 6 <= int(p.name[:2])]
GLUE_CALL = re.compile(r"\bglue(?:_all)?\(")


def code_lines(nb: dict) -> list[str]:
    """Every line a reader sees in a code box: code cells and fenced code in the markdown."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown(nb), flags=re.M | re.S)
    return [line for text in [*code_cells(nb), *fenced] for line in text.splitlines()]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_code_lines_fit_the_page(path: Path):
    wide = [line for line in code_lines(load(path)) if len(line) > CODE_WIDTH]
    assert not wide, f"{len(wide)} code lines wider than {CODE_WIDTH} characters: {wide[:3]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_exercises_close_the_chapter(path: Path):
    cells = load(path)["cells"]
    start = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "markdown" and re.search(r"^## Exercises\s*$", source(c), re.M))
    after = source(cells[start]).split("## Exercises", 1)[1]
    after = re.sub(r"^```.*?^```", "", after, flags=re.M | re.S)  # code may hold "# " comments
    later = [source(c) for c in cells[start + 1:]]
    assert not re.search(r"^#{1,2} ", after, flags=re.M), "a section follows the exercises"
    assert not later, "cells follow the exercises: exercises close a chapter"


@pytest.mark.parametrize("path", RESULTS_CHAPTERS, ids=lambda p: p.name)
def test_results_chapters_glue_in_one_hidden_cell(path: Path):
    cells = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    gluing = [c for c in cells if GLUE_CALL.search(source(c))]
    assert len(gluing) == 1, f"{len(gluing)} cells glue numbers: glue in one place"
    assert "remove-input" in gluing[0]["metadata"].get("tags", []), "the glue cell is bookkeeping: hide it"


def test_every_chapter_is_numbered_in_the_navigation():
    toc = (ROOT / "_toc.yml").read_text()
    parts = re.split(r"^  - caption: ", toc, flags=re.M)[1:]
    numbered = {entry for part in parts if re.search(r"^\s+numbered: true\s*$", part, flags=re.M)
                for entry in re.findall(r"- file: (chapters/\S+)", part)}
    assert numbered == {f"chapters/{p.stem}" for p in CHAPTERS}
