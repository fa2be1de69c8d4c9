"""Grade a submission: ``python -m assignments.grade <n | all> [--submission PATH ...] [--json]``.

``PATH`` is a folder holding the assignment's file (default: ``assignments/student/``) or the file itself;
give several to grade a whole class. The exit status is 0 only when every submission scored full marks.
"""

from __future__ import annotations

import argparse
import json
import sys

from .graders import ASSIGNMENTS
from .grading import grade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assignments.grade", description=__doc__.splitlines()[0])
    parser.add_argument("assignment", help=f"assignment number ({', '.join(map(str, ASSIGNMENTS))}) or 'all'")
    parser.add_argument("--submission", nargs="+", default=[None], metavar="PATH",
                        help="folder(s) or file(s) to grade (default: assignments/student/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line instead of text")
    args = parser.parse_args(argv)
    if args.assignment == "all":
        numbers = list(ASSIGNMENTS)
    elif args.assignment.isdigit() and int(args.assignment) in ASSIGNMENTS:
        numbers = [int(args.assignment)]
    else:
        choices = ", ".join(map(str, ASSIGNMENTS))
        parser.error(f"unknown assignment {args.assignment!r}; choose {choices} or all")
    full_marks = True
    for submission in args.submission:
        for n in numbers:
            report = grade(ASSIGNMENTS[n], submission)
            print(json.dumps(report.to_dict()) if args.json else report.format() + "\n", flush=True)
            full_marks &= report.score == report.max_score
    return 0 if full_marks else 1


if __name__ == "__main__":
    sys.exit(main())
