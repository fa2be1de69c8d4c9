"""The grading machinery: an assignment is a list of weighted checks run against a submitted module.

A check is a function of the submitted module that raises (an ``AssertionError`` with a message that says
what is wrong) to fail. Every check runs with the same seed, with the package's registries (units, masks,
mask activations) restored afterwards, and under a time limit, so one check cannot change
another's outcome and a submission that hangs still gets a score.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch

from resattn_min.models import mask_activation, residual_unit, soft_mask

__all__ = [
    "Assignment", "Check", "CheckResult", "Report",
    "expect_error", "forbidden_uses", "grade", "load_submission", "shared",
]

STUDENT_DIR = Path(__file__).resolve().parent / "student"
SOLUTIONS_DIR = Path(__file__).resolve().parent / "solutions"
_module_ids = itertools.count()


@dataclass(frozen=True)
class Check:
    """One graded property: ``fn(submission)`` raises to fail; ``name`` says what it verifies."""

    name: str
    points: int
    fn: Callable[[ModuleType], None]


@dataclass
class Assignment:
    """An assignment: the file a student submits, where it belongs in the book, and its checks.

    ``forbidden``: dotted names of the package the submission may not use (the book's own answer).
    """

    number: int
    title: str
    filename: str
    chapter: str
    effort: str
    forbidden: tuple[str, ...] = ()
    time_limit_s: int = 120
    checks: list[Check] = field(default_factory=list)

    def check(self, points: int) -> Callable[[Callable[[ModuleType], None]], Callable[[ModuleType], None]]:
        """Decorator: register ``fn`` as a check worth ``points``; its docstring's first line names it."""

        def register(fn: Callable[[ModuleType], None]) -> Callable[[ModuleType], None]:
            name = (fn.__doc__ or fn.__name__).strip().splitlines()[0].rstrip(".")
            self.checks.append(Check(name, points, fn))
            return fn

        return register

    @property
    def max_points(self) -> int:
        return sum(c.points for c in self.checks)


@dataclass
class CheckResult:
    name: str
    points: int
    earned: int
    message: str
    seconds: float


@dataclass
class Report:
    """The outcome of grading one submission for one assignment."""

    assignment: Assignment
    submission: Path
    results: list[CheckResult]

    @property
    def score(self) -> int:
        return sum(r.earned for r in self.results)

    @property
    def max_score(self) -> int:
        return self.assignment.max_points

    def to_dict(self) -> dict:
        return {
            "assignment": self.assignment.number,
            "title": self.assignment.title,
            "submission": str(self.submission),
            "score": self.score,
            "max_score": self.max_score,
            "checks": [vars(r) for r in self.results],
        }

    def format(self) -> str:
        a = self.assignment
        cwd = Path.cwd()
        shown = self.submission.relative_to(cwd) if self.submission.is_relative_to(cwd) else self.submission
        lines = [f"Assignment {a.number}: {a.title} ({a.chapter})", f"submission: {shown}"]
        for r in self.results:
            status = "pass" if r.earned == r.points else "FAIL"
            lines.append(f"  [{r.earned}/{r.points}] {status}  {r.name}")
            if r.message:
                lines += [f"        {line}" for line in r.message.splitlines()]
        lines.append(f"score: {self.score}/{self.max_score}")
        return "\n".join(lines)


def expect_error(error: type[Exception], fn: Callable, *args, **kwargs) -> str:
    """Call ``fn`` and return the message of the ``error`` it must raise; fail if it raises none."""
    try:
        fn(*args, **kwargs)
    except error as err:
        return str(err)
    call = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    raise AssertionError(f"{fn.__name__}({call}) should raise {error.__name__}")


_shared: dict[str, object] = {}


def shared(sub: ModuleType, name: str, run: Callable[[], object]) -> object:
    """``run()`` once per submission: its result, or its error, is shared by every check that asks.

    For a costly call (a training run) that several checks read: each of them reports the same outcome.
    """
    key = f"{sub.__name__}.{name}"  # a module's name is new at every load (see load_submission)
    if key not in _shared:
        try:
            _shared[key] = run()
        except Exception as err:  # stored, and raised in every check that reads it
            _shared[key] = err
    result = _shared[key]
    if isinstance(result, Exception):
        raise result
    return result


def submission_file(assignment: Assignment, path: Path | str | None = None) -> Path:
    """The file to grade: ``path`` itself, ``path/<assignment file>``, or the student folder's copy."""
    path = STUDENT_DIR if path is None else Path(path)
    return path / assignment.filename if path.is_dir() else path


def load_submission(path: Path) -> ModuleType:
    """Import a submitted file as a fresh module (a new name each time, so nothing is cached)."""
    name = f"submission_{path.stem}_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def forbidden_uses(source: str, forbidden: tuple[str, ...]) -> list[str]:
    """Dotted names in ``source`` (imports, attribute chains) that are, or lie under, a ``forbidden`` one."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                used.append(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            used.append(node.module)
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                used.append(f"{node.module}.{a.name}")
    chains = (_dotted(node, aliases) for node in ast.walk(tree) if isinstance(node, ast.Attribute))
    used += [d for d in chains if d]
    hits = {u for u in used for f in forbidden if u == f or u.startswith(f + ".")}
    return sorted(hits)


_REGISTRIES = (residual_unit.UNITS, soft_mask.MASKS, mask_activation.ACTIVATIONS)


@contextmanager
def _isolated() -> Iterator[None]:
    """Restore the package's registries (a check may register a unit or a mask) and the RNG afterwards.

    The check runs on one CPU thread: the graders' networks are tiny, and on a shared machine (or a class
    graded by parallel processes) competing threads make them several times slower, not faster.
    """
    saved = [dict(r) for r in _REGISTRIES]
    rng = torch.get_rng_state()
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        for reg, old in zip(_REGISTRIES, saved, strict=True):
            reg.clear()
            reg.update(old)
        torch.set_rng_state(rng)
        torch.set_num_threads(threads)


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Raise ``TimeoutError`` in the check after ``seconds`` (POSIX, main thread; elsewhere no limit)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise TimeoutError(f"the check ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _explain(err: BaseException, path: Path) -> str:
    """A short message: what went wrong, and the line of the submission where it happened."""
    if isinstance(err, NotImplementedError):
        text = f"not implemented yet: {err}"
    elif isinstance(err, AssertionError):
        text = str(err) or "a property did not hold"
    else:
        text = f"{type(err).__name__}: {err}"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if Path(f.filename) == path.resolve()]
    if frames and not isinstance(err, AssertionError):
        text += f" (your file, line {frames[-1].lineno})"
    return text


def _fail_all(assignment: Assignment, path: Path, message: str) -> Report:
    results = [CheckResult(c.name, c.points, 0, message, 0.0) for c in assignment.checks]
    return Report(assignment, path, results)


def grade(assignment: Assignment, submission: Path | str | None = None) -> Report:
    """Run every check of ``assignment`` against the submission (default: the student folder)."""
    path = submission_file(assignment, submission).resolve()
    if not path.is_file():
        return _fail_all(assignment, path, f"no file {path} (submit {assignment.filename})")
    source = path.read_text()
    try:
        hits = forbidden_uses(source, assignment.forbidden)
    except SyntaxError as err:
        return _fail_all(assignment, path, f"the file does not parse: {err}")
    if hits:
        return _fail_all(assignment, path, f"uses the book's own answer ({', '.join(hits)}): write your own")
    try:
        module = load_submission(path)
    except Exception as err:  # any error at import time fails every check with the reason
        return _fail_all(assignment, path, f"the file cannot be imported: {_explain(err, path)}")
    results = []
    for c in assignment.checks:
        start = time.perf_counter()
        try:
            with _isolated(), _time_limit(assignment.time_limit_s):
                c.fn(module)
            earned, message = c.points, ""
        except Exception as err:  # a failing check, whatever the cause, scores zero and says why
            earned, message = 0, _explain(err, path)
        results.append(CheckResult(c.name, c.points, earned, message, time.perf_counter() - start))
    return Report(assignment, path, results)
