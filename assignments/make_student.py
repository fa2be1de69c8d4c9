"""Generate the student version of the assignments from the reference solutions.

``python -m assignments.make_student`` reads ``assignments/solutions/`` and writes ``assignments/student/``:
every region between ``# BEGIN SOLUTION: <hint>`` and ``# END SOLUTION`` becomes
``raise NotImplementedError("<hint>")`` at the region's indentation; everything else (the instructions in
the docstrings, the given code) is copied as it is.

* ``--check``: write nothing; exit 1 if the committed student folder differs from what would be generated.
* ``--zip PATH``: also write a hand-out archive (student files, graders, grade command; no solutions).
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

__all__ = ["stub_source", "generate", "drift", "write_handout"]

KIT = Path(__file__).resolve().parent
SOLUTIONS, STUDENT = KIT / "solutions", KIT / "student"
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?::\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HEADER = (
    "# Student version, generated from assignments/solutions/ by `python -m assignments.make_student`.\n"
    "# Replace every `raise NotImplementedError(...)` with your code; the docstrings say what to write.\n"
    "# ruff: noqa: F401 -- the imports are the ones the solution uses: yours may need them\n"
)
MAX_LINE = 110  # the project's ruff line length
DEFAULT_HINT = "write this part (the docstrings above say what it must do)"


def _raise(indent: str, hint: str, where: str) -> str:
    """``raise NotImplementedError("<hint>")``, split over three lines when one would pass 110 characters."""
    quoted = '"' + hint.replace("\\", "\\\\").replace('"', '\\"') + '"'
    line = f"{indent}raise NotImplementedError({quoted})\n"
    if len(line) <= MAX_LINE + 1:
        return line
    if len(indent) + 4 + len(quoted) > MAX_LINE:
        raise ValueError(f"{where}: the hint is too long for one line of the stub; shorten it")
    return f"{indent}raise NotImplementedError(\n{indent}    {quoted}\n{indent})\n"


def stub_source(source: str, name: str = "<solution>") -> str:
    """``source`` with each marked solution region replaced by a ``NotImplementedError`` stub."""
    out: list[str] = []
    begin: re.Match | None = None
    for lineno, line in enumerate(source.splitlines(keepends=True), 1):
        if (m := BEGIN.match(line)) is not None:
            if begin is not None:
                raise ValueError(f"{name}:{lineno}: BEGIN SOLUTION inside another solution region")
            begin = m
            out.append(_raise(m["indent"], m["hint"] or DEFAULT_HINT, f"{name}:{lineno}"))
        elif END.match(line):
            if begin is None:
                raise ValueError(f"{name}:{lineno}: END SOLUTION without a BEGIN SOLUTION")
            begin = None
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise ValueError(f"{name}: a BEGIN SOLUTION region is never closed by END SOLUTION")
    return "".join(out)


def generate(solutions: Path = SOLUTIONS) -> dict[str, str]:
    """The student folder's files, by name: stubbed ``.py`` files with a header, other files as they are."""
    files = {}
    for path in sorted(p for p in solutions.iterdir() if p.is_file() and not p.name.startswith(".")):
        text = path.read_text()
        if path.suffix == ".py":
            stubbed = stub_source(text, str(path))
            if stubbed == text:
                raise ValueError(f"{path} has no '# BEGIN SOLUTION' region: nothing for a student to write")
            text = HEADER + stubbed
        files[path.name] = text
    return files


def drift(student: Path = STUDENT, solutions: Path = SOLUTIONS) -> list[str]:
    """What differs between ``student`` and the generated version, one line per file (empty: in sync)."""
    expected = generate(solutions)
    present = {p.name for p in student.iterdir() if p.is_file()} if student.is_dir() else set()
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not generated from a solution: {name}" for name in sorted(present - set(expected))]
    problems += [
        f"differs from its solution's stub: {name}"
        for name in sorted(set(expected) & present)
        if (student / name).read_text() != expected[name]
    ]
    return problems


def write_handout(zip_path: Path, student: Path = STUDENT) -> list[str]:
    """Zip what a student needs to work and self-grade: ``assignments/`` without the solutions."""
    root = KIT.parent
    keep = [KIT / "__init__.py", KIT / "grading.py", KIT / "grade.py"]
    keep += sorted((KIT / "graders").glob("*.py")) + sorted(p for p in student.iterdir() if p.is_file())
    names = [str(p.relative_to(root)) for p in keep]
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in zip(keep, names, strict=True):
            archive.write(path, name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assignments.make_student", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if assignments/student/ is out of date")
    parser.add_argument("--zip", type=Path, metavar="PATH", help="also write a hand-out zip for students")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift()
        for line in problems:
            print(f"assignments/student/ is out of date -- {line}")
        if problems:
            print("run: python -m assignments.make_student")
            return 1
        print("assignments/student/ is in sync with assignments/solutions/")
        return 0
    STUDENT.mkdir(exist_ok=True)
    expected = generate()
    for stale in (p for p in STUDENT.iterdir() if p.is_file() and p.name not in expected):
        stale.unlink()
    for name, text in expected.items():
        (STUDENT / name).write_text(text)
    print(f"wrote {len(expected)} files to {STUDENT}")
    if args.zip:
        names = write_handout(args.zip)
        print(f"wrote {args.zip} ({len(names)} files, no solutions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
