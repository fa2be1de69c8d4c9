"""``python -m resattn_min COMMAND``: the command line of the package (train, evaluate, bench, bench-data,
report, reproduce, tables).

Examples::

    python -m resattn_min report                                    # Tables 2, 6, 7 beside our counts
    python -m resattn_min train --config cifar10_attention92 --run-dir runs/a92
    python -m resattn_min train --config cifar10_attention92 --run-dir runs/a92 --resume auto
    python -m resattn_min evaluate runs/a92/checkpoint-00160000.pt
    python -m resattn_min evaluate cifar10_jpeg_attention92                 # the installed trained weights
    python -m resattn_min train --config cifar10_attention92 --budget-minutes 20  # a lesson-sized run
    python -m resattn_min evaluate runs/in92/checkpoint-00530000.pt --image-size 320   # single 320 crop
    python -m resattn_min bench --model attention92_cifar --batch 64 --image-size 32 --steps 100
    python -m resattn_min bench-data --dataset data/imagenette2-160sq --workers 1,4,16  # data supply
    torchrun --nproc_per_node 4 -m resattn_min train --config cifar10_attention92
    python -m resattn_min reproduce --list                          # the paper's experiments by name
    python -m resattn_min reproduce attention56_arl attention56_nal --dataset data/cifar10-jpeg --scale 0.1

Mistakes (an unknown model or dataset, a bad schedule, a missing dataset, an unusable checkpoint, a run
folder in use or holding another run, an unreadable image, a full disk) end with a one-line ``error:``
and exit code 2; a diverged run ends with exit code 3; Ctrl-C ends a run with a checkpoint and exit
code 130.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace

from .train.checkpoint import CheckpointError, load_checkpoint, load_weights, trained_config
from .train.run_config import TrainConfig

EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130
_HELP = {
    "resume": "a checkpoint to continue from, or 'auto' (the newest in --run-dir)",
    "schedule": "the paper's recipe: cifar, imagenet, auto (by model) or none (give --lr, --milestones, ...)",
    "schedule_scale": "multiply every iteration count by this (quick mode: about 40 iterations in all)",
    "milestones": "iterations at which lr is multiplied by --gamma, e.g. 64000,96000",
    "amp": "auto (bf16 on GPUs that have it natively, else fp16 with loss scaling), bf16, fp16 or off",
    "budget_minutes": "fit the paper's schedule, milestones included, to this many minutes on this device",
}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ``TrainConfig`` field (``batch_size`` -> ``--batch-size``); unset flags change nothing."""
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type).replace(" | None", "")
        if kind == "bool":
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=_HELP.get(f.name))
        else:
            metavar = {"list[int]": "N,N,...", "int": "N", "float": "X"}.get(kind, "STR")
            default = "" if f.default is None else f" (default: {f.default})"
            parser.add_argument(flag, dest=f.name, default=None, metavar=metavar,
                                help=_HELP.get(f.name, "") + default or None)


def _train_config(args: argparse.Namespace) -> TrainConfig:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    overrides = {k: v for k, v in given.items() if v is not None}
    if args.config:
        return TrainConfig.from_yaml(args.config, **overrides)
    if args.resume and args.resume != "auto":  # continue a run from its checkpoint's own config
        saved = trained_config(load_checkpoint(args.resume))
        return TrainConfig.from_dict({**saved, **overrides})
    return TrainConfig.from_dict(overrides)


def _cmd_train(args: argparse.Namespace) -> int:
    from .train.loop import train

    train(_train_config(args), overwrite=args.overwrite)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .data.decoded import find_cifar10
    from .data.imagenet import LoaderStream
    from .models.pretrained import WEIGHTS, shipped_entry, weights_path
    from .train.build import build_model, make_data
    from .train.distributed import init_distributed
    from .train.precision import resolve_amp
    from .train.resume import check_classes
    from .train.step import evaluate

    info = init_distributed(args.device)
    path = weights_path(args.checkpoint) if args.checkpoint in WEIGHTS else Path(args.checkpoint)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; installed trained weights: {', '.join(WEIGHTS)}")
    ckpt = load_checkpoint(path, info.device)
    cfg = TrainConfig.from_dict(trained_config(ckpt))
    changes = {k: getattr(args, k) for k in ("dataset", "data_root", "eval_size", "eval_resize", "workers",
                                             "loader")
               if getattr(args, k) is not None}
    if "dataset" not in changes and shipped_entry(path):  # trained elsewhere: CIFAR-10 as found here
        cifar = find_cifar10()
        if cifar.note:
            raise FileNotFoundError(cifar.note.splitlines()[0] + " Give --dataset.")
        changes |= {"dataset": cifar.name, "download": cifar.download}
    cfg = replace(cfg, resume=None, **changes)
    data = make_data(cfg, args.batch_size or cfg.plan().recipe.batch_size, info)
    model = build_model(cfg, data.num_classes).to(info.device)
    check_classes(ckpt, model)
    load_weights(model, ckpt)
    amp = resolve_amp(cfg.amp, info.device)
    imagenet = cfg.pipeline == "imagenet"
    error, n = evaluate(model, data.test, info.device, amp, sharded=isinstance(data.train, LoaderStream))
    crop = cfg.eval_size or cfg.image_size
    size = f" at {crop}x{crop} (single centre crop)" if imagenet else ""
    print(f"{cfg.model} after {ckpt['iteration']} iterations: test error {100 * error:.2f}% "
          f"(accuracy {100 * (1 - error):.2f}%) on {n} test images of {data.source}{size}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .train.bench import run_bench

    run_bench(args.models or args.model, batch=args.batch, image_size=args.image_size, steps=args.steps,
              warmup=args.warmup, compile=args.compile, out=args.out, num_classes=args.num_classes,
              variants=args.variants, stacks=args.stack, check=args.check)
    return 0


def _cmd_bench_data(args: argparse.Namespace) -> int:
    from .train.data_bench import run_data_bench

    try:
        workers = tuple(int(w) for w in args.workers.split(","))
    except ValueError:
        raise ValueError(f"--workers takes comma-separated numbers of workers, e.g. 1,4,16; got "
                         f"{args.workers!r}") from None
    run_data_bench(args.dataset, batch=args.batch, image_size=args.image_size, workers=workers,
                   batches=args.batches, out=args.out)
    return 0


def _cmd_campaign(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .experiments import campaign

    path = Path(args.ledger) if args.ledger else campaign.LEDGER
    ledger = campaign.load_ledger(path)
    if args.action == "update":  # what a GPU session brought back, unpacked into a runs folder
        for line in campaign.update_ledger(ledger, Path(args.path), campaign.STORE):
            print(line)
    elif args.action == "check":
        for line in campaign.check_store(ledger, campaign.STORE):
            print(line)
    elif args.action == "pack":  # stored checkpoints, in pieces, into a folder a GPU call carries
        runs = args.runs.split(",") if args.runs else None
        packed = campaign.pack_checkpoints(ledger, campaign.STORE, Path(args.path), runs,
                                           int(args.max_mb * 2**20))
        print("packed: " + (", ".join(packed) or "nothing"))
    elif args.action == "unpack":  # pieces brought back (<dir>/<run>/*.partNN) into <dest>/<run>/
        for folder in sorted(p for p in Path(args.path).iterdir() if p.is_dir()):
            for joined in campaign.join_pieces(folder, Path(args.dest) / folder.name):
                print(f"joined {joined}")
    if args.action in ("update", "check"):
        campaign.save_ledger(ledger, path)
    print("\n".join(campaign.status_lines(ledger)))
    return 0


def _cmd_masks(args: argparse.Namespace) -> int:
    from .analysis.mask_figure import write_mask_figure

    record = write_mask_figure(args.checkpoint, args.out, images=args.images, size=args.size,
                               device=args.device or "auto")
    print(f"wrote {args.out} ({record['model']} after {record['iteration']} iterations; mask sizes "
          f"{record['mask_sizes']})")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .models.counting import PAPER_TABLES, paper_table

    for table in PAPER_TABLES:
        rows = paper_table(table, macs=not args.no_macs)
        cols = list(rows[0])
        cells = [[_fmt(r[c]) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        print(f"\n{table}")
        for line in [cols, ["-" * w for w in widths], *cells]:
            print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    print("\nparams: learnable parameters; mult-adds: multiply-adds of one 224x224 forward pass "
          "(the paper's 'FLOPs'); '-' where the paper or we give no number.")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .experiments.reproduce import list_experiments, reproduce

    if args.list or not args.names:
        print(list_experiments())
        return 0
    status = reproduce(args.names, args.dataset, args.scale, args.runs_dir, parallel=args.parallel,
                       deadline_s=args.deadline, extra=args.extra)
    for name, state in status.items():
        print(f"{name:<26}{state}")
    return 0 if all(s == "done" for s in status.values()) else 1


def _cmd_tables(args: argparse.Namespace) -> int:
    from .analysis.runs_on_record import print_tables

    print_tables()
    return 0


def _fmt(value) -> str:
    return "-" if value is None else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resattn_min", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model from a config file and flags")
    p.add_argument("--config", help="a YAML file of TrainConfig keys, or a shipped config's name "
                   "(resattn_min/configs/: cifar10_attention92, imagenet_attention56, ...)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete an earlier run's checkpoints, metrics and results in --run-dir first")
    _add_config_flags(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="test error of a checkpoint on the test split")
    p.add_argument("checkpoint", help="a checkpoint, or installed trained weights by file or by name "
                   "(cifar10_jpeg_attention92, ...)")
    p.add_argument("--dataset", help="another copy of the data than the run's")
    p.add_argument("--data-root", dest="data_root")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--image-size", dest="eval_size", type=int, help="ImageNet: the single crop (224, 320)")
    p.add_argument("--resize", dest="eval_resize", type=int,
                   help="ImageNet: shorter side before the crop (default: crop / 0.875)")
    p.add_argument("--workers", type=int)
    p.add_argument("--loader", choices=("workers", "gpu"), help="ImageNet: the run's own by default")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("bench", help="time the eager and the fast (CUDA graph) training step")
    p.add_argument("--model", default="attention92_cifar")
    p.add_argument("--models", help="comma-separated models (overrides --model), e.g. attention56,resnet152")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--image-size", dest="image_size", type=int, default=32)
    p.add_argument("--num-classes", dest="num_classes", type=int, default=None, help="default: 10 or 1000")
    p.add_argument("--steps", type=int, default=50, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    p.add_argument("--compile", action="store_true", help="also time the fast path with torch.compile")
    p.add_argument("--variants", default="eager,eager-bf16,graph",
                   help="comma-separated: eager, eager-bf16, graph, compile")
    p.add_argument("--stack", default="1", help="comma-separated numbers of runs stacked into one network")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the eager-vs-graph agreement check")
    p.add_argument("--out", default="runs/bench.json", help="where to write the JSON")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("masks", help="Fig. 1: each stage's mask on validation images of a trained network")
    p.add_argument("checkpoint", help="a checkpoint of a run on an ImageNet-style folder (Imagenette)")
    p.add_argument("--out", default="runs/masks.png", help="the PNG to write (a .json record beside it)")
    p.add_argument("--images", type=int, default=6, help="validation images, the first of each class")
    p.add_argument("--size", type=int, default=224, help="centre crop size of the images")
    p.add_argument("--device", default=None, help="auto, cpu or cuda")
    p.set_defaults(func=_cmd_masks)

    p = sub.add_parser("campaign", help="the full-length runs across sessions: ledger, checkpoints, pieces")
    p.add_argument("action", choices=["status", "update", "check", "pack", "unpack"],
                   help="status; update RUNS_DIR; check (the store); pack OUT_DIR; unpack PIECES_DIR DEST")
    p.add_argument("path", nargs="?", help="the runs folder (update), the folder to fill (pack) or read "
                   "(unpack)")
    p.add_argument("dest", nargs="?", help="unpack: the runs folder to put the joined checkpoints in")
    p.add_argument("--runs", help="pack: comma-separated runs (default: every paused run)")
    p.add_argument("--max-mb", dest="max_mb", type=float, default=44, help="pack: at most this many MiB")
    p.add_argument("--ledger", default=None, help="the ledger file (default: results/campaign/ledger.json)")
    p.set_defaults(func=_cmd_campaign)

    p = sub.add_parser("bench-data", help="images/s that DataLoader workers and the GPU stream supply")
    p.add_argument("--dataset", required=True, help="an ImageFolder root with train/ and val/ (Imagenette)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--image-size", dest="image_size", type=int, default=160)
    p.add_argument("--workers", default="1,2,4,8", help="comma-separated numbers of DataLoader workers")
    p.add_argument("--batches", type=int, default=40, help="timed batches (at least 4 per worker)")
    p.add_argument("--out", default="runs/bench_data.json", help="where to write the JSON")
    p.set_defaults(func=_cmd_bench_data)

    p = sub.add_parser("reproduce", help="run experiments of the paper by name, several at once")
    p.add_argument("names", nargs="*", help="experiment names (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments with the paper's errors")
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or an image folder")
    p.add_argument("--scale", type=float, help="schedule scale (default: the paper's length; quick mode's)")
    p.add_argument("--runs-dir", dest="runs_dir", default="runs/reproduce")
    p.add_argument("--parallel", type=int, default=1, help="training processes at once (one GPU shared)")
    p.add_argument("--deadline", type=float, help="stop after this many seconds (runs resume next time)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more train flags, given last")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser("tables", help="the results tables of the runs on record in results/")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("report", help="the paper's Tables 2, 6, 7 beside our parameter and mult-add counts")
    p.add_argument("--no-macs", action="store_true", help="skip counting multiply-adds (faster)")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit code."""
    from .train.loop import TrainingDiverged
    from .train.run_folder import RunFolderError
    from .train.stopping import TrainingInterrupted

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


if __name__ == "__main__":
    sys.exit(main())
