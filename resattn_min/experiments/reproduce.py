"""Run the paper's experiments (``catalog.py``) side by side, one training process each.

``python -m resattn_min reproduce attention92 resnet164 --dataset data/cifar10-jpeg --schedule-scale 0.1``

Every experiment is an ordinary ``python -m resattn_min train`` process with ``--resume auto`` in its own
folder under ``--run-dir``, its output appended to ``log.txt`` there. Up to ``--parallel`` run at once:
one small CIFAR network leaves most of a large GPU idle (its step is many tiny kernels), so several
processes share it. A run that is stopped (``--deadline``, a lost machine, Ctrl-C) continues from its
last checkpoint the next time the same command is given; a finished run (``results.json``) is skipped.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .catalog import EXPERIMENTS, Experiment, get_experiment

__all__ = ["train_command", "reproduce", "list_experiments", "RUN_INTERVALS", "LAUNCHER"]

#: Evaluation, checkpoint and log intervals at the paper's length (scaled with the schedule, like it).
RUN_INTERVALS = {"eval_every": 8000, "ckpt_every": 4000, "log_every": 400}


#: With a deadline, a run waiting for a free place does not start in its last seconds: compiling alone
#: takes two to three minutes on a GPU, and a run stopped before its first steps leaves only a
#: checkpoint to carry. The first runs of a call start whatever the deadline.
LATE_START_S = 420

#: How a training process is started: this Python and the package's command line.
LAUNCHER = (sys.executable, "-m", "resattn_min")


def train_command(exp: Experiment, dataset: str, scale: float | None, run_dir: Path, extra: list[str],
                  launcher: tuple[str, ...] = LAUNCHER) -> list[str]:
    """The ``train`` command line of one experiment (``scale`` None: the paper's length, or quick mode's)."""
    cmd = [*launcher, "train", "--dataset", dataset, "--run-dir", str(run_dir),
           "--resume", "auto", "--cuda-graph", "--no-progress"]
    if exp.config is not None:  # its recipe, intervals included, come from the config
        cmd += ["--config", exp.config]
    if scale is not None:
        cmd += ["--schedule-scale", f"{scale:g}"]
    values = {**(RUN_INTERVALS if exp.config is None else {}), **exp.config_overrides()}
    for key, value in values.items():
        cmd += ["--" + key.replace("_", "-"), str(value)]
    return cmd + extra


def _finished(run_dir: Path) -> bool:
    return (run_dir / "results.json").exists()


def reproduce(names: list[str], dataset: str, scale: float | None, runs_dir: str | Path, *, parallel: int = 1,
              deadline_s: float | None = None, extra: list[str] | None = None, poll_s: float = 5.0,
              launcher: tuple[str, ...] = LAUNCHER, late_start_s: float = LATE_START_S) -> dict:
    """Run ``names`` (in order, ``parallel`` at a time) until all finish or ``deadline_s`` passes; a
    run that waited for a place does not start within ``late_start_s`` of the deadline.

    Returns ``{name: "done" | "stopped" | "failed (exit N): <its last error line> (log: <path>)" |
    "waiting"}``. Stopped runs resume later.
    """
    if parallel < 1:
        raise ValueError(f"--parallel must be at least 1, got {parallel}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} named more than once: each experiment has one run folder")
    experiments = [get_experiment(n) for n in names]
    runs_dir = Path(runs_dir)
    status = {e.name: "done" for e in experiments if _finished(runs_dir / e.name)}
    queue = [e for e in experiments if e.name not in status]
    running: dict[str, tuple[subprocess.Popen, object]] = {}
    end = None if deadline_s is None else time.monotonic() + deadline_s
    try:
        first = True  # the first runs start whatever the deadline; later ones not in its last minutes
        while queue or running:
            late = not first and end is not None and end - time.monotonic() < late_start_s
            if late and not running:
                break
            while queue and len(running) < parallel and not late:
                exp = queue.pop(0)
                run_dir = runs_dir / exp.name
                run_dir.mkdir(parents=True, exist_ok=True)
                log = open(run_dir / "log.txt", "a")  # noqa: SIM115 (closed when the process ends)
                cmd = train_command(exp, dataset, scale, run_dir, extra or [], launcher)
                log.write("$ " + " ".join(cmd) + "\n")
                log.flush()
                running[exp.name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
                print(f"started {exp.name}", flush=True)
            first = False
            for name, (proc, log) in list(running.items()):
                if proc.poll() is not None:
                    log.close()
                    del running[name]
                    code = proc.returncode
                    status[name] = "done" if code == 0 else _failure(runs_dir / name / "log.txt", code)
                    print(f"{name}: {status[name]}", flush=True)
            if end is not None and time.monotonic() > end:
                break
            time.sleep(poll_s)
    finally:
        for name, (proc, log) in running.items():  # past the deadline: stop, the checkpoint remains
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            status[name] = "stopped"
    status.update({e.name: "waiting" for e in queue})
    return status


def _failure(log: Path, code: int) -> str:
    """``failed (exit N)`` with the run's last error line (or its last line) and where its log is."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    reason = next((line for line in reversed(lines) if line.startswith(("error:", "interrupted:"))),
                  lines[-1] if lines else "no output")
    return f"failed (exit {code}): {reason} (log: {log})"


def list_experiments() -> str:
    """One line per experiment: name, table, model, options, paper's error."""
    lines = [f"{'name':<30}{'table':<11}{'model':<20}{'paper error':>12}  options"]
    for e in EXPERIMENTS.values():
        paper = "-" if e.paper_error is None else f"{e.paper_error:.2f}%"
        options = {**e.options, **({"config": e.config} if e.config else {})}
        lines.append(f"{e.name:<30}{e.table:<11}{e.model:<20}{paper:>12}  {options or ''}")
    return "\n".join(lines)
