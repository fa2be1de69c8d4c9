"""What chapter 6 shows of the student's path on a GPU (``scripts/student_checks.sh``), computed and tested
here: float16 with loss scaling (the T4's precision) against bfloat16, and the lesson-sized run of the
chapter against its wall-clock budget. The runs are in ``results/student_path/``.
"""

from __future__ import annotations

from pathlib import Path

from .runs_on_record import RESULTS, learning_curve, load_runs
from .stats import compare_errors

__all__ = ["GROUP", "BASELINE", "PRECISION_RUNS", "LESSON_RUN", "precision_table", "lesson_record"]

GROUP = "student_path"
#: Attention-56, 2,400 iterations (1.5% of the paper's schedule), three side by side on one GPU.
BASELINE, PRECISION_RUNS = "bf16_graph", ("bf16_graph", "fp16_graph", "fp16_eager")
#: Chapter 6 run as a student runs it at lesson size, float16 forced, with a short budget.
LESSON_RUN = "ch6_lesson"


def precision_table(root: Path = RESULTS):
    """One row per precision run: its precision and step, test error, and the difference from the
    bfloat16 CUDA-graph run with the 95% interval of that difference and whether it is resolved."""
    import pandas as pd

    runs = load_runs(GROUP, root)
    base = runs[BASELINE]
    rows = []
    for name in PRECISION_RUNS:
        run = runs[name]
        versus = compare_errors(base["test_error"], run["test_error"], base["test_images"],
                                run["test_images"])
        rows.append({"run": name, "precision": run["amp"],
                     "step": "CUDA graph" if run["cuda_graph"] else "eager",
                     "iterations": run["iterations"], "test error (%)": 100 * run["test_error"],
                     **(versus.row("vs bfloat16 (points)") if name != BASELINE else {}),
                     "img/s (side by side)": round(run["train_images_per_s"])})
    return pd.DataFrame(rows).set_index("run")


def lesson_record(root: Path = RESULTS) -> dict:
    """The lesson-sized run: its budget, how long it took, what share of the paper's schedule it trained
    and the error it reached, with the device, date and commit that made it; and how the fit spent the
    budget (the step and the evaluation it timed, the evaluations it planned for)."""
    run = load_runs(GROUP, root)[LESSON_RUN]
    budget = run["budget"]
    budget_s = 60 * budget["minutes"]
    curve = learning_curve(GROUP, LESSON_RUN, root)
    evaluations = int(curve.test_error.notna().sum())
    wall = run["wall_time_s"]
    return {"minutes": budget["minutes"], "wall_s": wall, "over_s": max(0.0, wall - budget_s),
            "under_s": max(0.0, budget_s - wall), "within_budget": wall <= budget_s,
            "iterations": run["iterations"], "percent_of_schedule": 100 * run["schedule_scale"],
            "test_error": 100 * run["test_error"], "amp": run["amp"], "model": run["model"],
            "log_rows": len(curve), "step_ms": 1000 * budget["step_s"], "eval_s": budget["eval_s"],
            "evaluations": evaluations,
            "eval_share": 100 * evaluations * budget["eval_s"] / budget_s,
            "step_share": 100 * run["iterations"] * budget["step_s"] / budget_s,
            "device": run["device"], "date": run["date"][:10], "commit": run["git_commit"][:8]}
