"""The command line of the package, ``python -m resattn_min COMMAND`` (or ``resattn COMMAND``): train,
evaluate, bench, bench-data, masks, campaign, report, reproduce, tables.

Examples::

    python -m resattn_min report                                    # Tables 2, 6, 7 beside our counts
    python -m resattn_min train --config cifar10_attention92 --run-dir runs/a92
    python -m resattn_min train --config cifar10_attention92 --run-dir runs/a92 --resume auto
    python -m resattn_min evaluate runs/a92/checkpoint-00160000.pt
    python -m resattn_min evaluate cifar10_jpeg_attention92                 # the installed trained weights
    python -m resattn_min train --config cifar10_attention92 --budget-minutes 20  # a lesson-sized run
    python -m resattn_min evaluate runs/in92/checkpoint-00530000.pt --eval-size 320    # single 320 crop
    python -m resattn_min bench --model attention92_cifar --batch-size 64 --image-size 32 --steps 100
    python -m resattn_min bench-data --dataset data/imagenette2-160sq --workers 1,4,16  # data supply
    torchrun --nproc_per_node 4 -m resattn_min train --config cifar10_attention92
    python -m resattn_min reproduce --list                          # the paper's experiments by name
    python -m resattn_min reproduce attention56_arl attention56_nal --dataset data/cifar10-jpeg \
        --schedule-scale 0.1

Mistakes (an unknown model or dataset, a bad schedule, a missing dataset, an unusable checkpoint, a run
folder in use or holding another run, an unreadable image, a full disk) end with a one-line ``error:``
and exit code 2; a diverged run ends with exit code 3; Ctrl-C ends a run with a checkpoint and exit
code 130.
"""

from __future__ import annotations

import sys

from ..train.checkpoint import CheckpointError
from .parser import build_parser

__all__ = ["EXIT_DIVERGED", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit code."""
    from ..train.loop import TrainingDiverged
    from ..train.run_folder import RunFolderError
    from ..train.stopping import TrainingInterrupted

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, CheckpointError, RunFolderError, FileNotFoundError) as err:  # DatasetNotFound too
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # a full disk, a folder without write permission
        print(f"error: {err.filename or 'a file'}: {err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_DIVERGED
    except TrainingInterrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:  # before a run's loop began (nothing to save), or a second Ctrl-C
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

