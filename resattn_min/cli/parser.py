"""The flags of every subcommand. ``train`` takes one flag per ``TrainConfig`` field; the other
subcommands spell the flags they share the same way (``--batch-size``, ``--image-size``, ``--eval-size``,
``--run-dir``, ``--model``). Earlier spellings still work, hidden from the help."""

from __future__ import annotations

import argparse
from dataclasses import fields

from ..train.run_config import TrainConfig
from . import commands

_DESCRIPTION = "the Residual Attention Network's command line: train, evaluate, bench, report, reproduce, ..."

_HELP = {
    "resume": "a checkpoint to continue from, or 'auto' (the newest in --run-dir)",
    "schedule": "the paper's recipe: cifar, imagenet, auto (by model) or none (give --lr, --milestones, ...)",
    "schedule_scale": "multiply every iteration count by this (quick mode: about 40 iterations in all)",
    "milestones": "iterations at which lr is multiplied by --gamma, e.g. 64000,96000",
    "amp": "auto (bf16 on GPUs that have it natively, else fp16 with loss scaling), bf16, fp16 or off",
    "compile_artifacts": "a folder of compiled graphs: read before compiling, this run's added after "
                         "its first step (another machine then skips the compile)",
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


def _hidden_alias(parser: argparse.ArgumentParser, flag: str, dest: str, **kwargs) -> None:
    """An earlier spelling of a flag: it still works (scripts use it) but the help shows only the new one."""
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resattn_min", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model from a config file and flags")
    p.add_argument("--config", help="a YAML file of TrainConfig keys, or a shipped config's name "
                   "(resattn_min/configs/: cifar10_attention92, imagenet_attention56, ...)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete an earlier run's checkpoints, metrics and results in --run-dir first")
    _add_config_flags(p)
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser("evaluate", help="test error of a checkpoint on the test split")
    p.add_argument("checkpoint", help="a checkpoint, or installed trained weights by file or by name "
                   "(cifar10_jpeg_attention92, ...)")
    p.add_argument("--dataset", help="another copy of the data than the run's")
    p.add_argument("--data-root", dest="data_root")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--eval-size", dest="eval_size", type=int, help="ImageNet: the single crop (224, 320)")
    _hidden_alias(p, "--image-size", "eval_size", type=int)
    p.add_argument("--eval-resize", dest="eval_resize", type=int,
                   help="ImageNet: shorter side before the crop (default: crop / 0.875)")
    _hidden_alias(p, "--resize", "eval_resize", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--loader", choices=("workers", "gpu"), help="ImageNet: the run's own by default")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=commands.cmd_evaluate)

    p = sub.add_parser("bench", help="time the eager and the fast (CUDA graph) training step")
    p.add_argument("--model", default="attention92_cifar",
                   help="a model, or comma-separated models, e.g. attention56,resnet152")
    _hidden_alias(p, "--models", "model")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=64)
    _hidden_alias(p, "--batch", "batch_size", type=int)
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
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="GPU: also count each variant's kernels over this many steps (torch.profiler)")
    p.add_argument("--out", default="runs/bench.json", help="where to write the JSON")
    p.set_defaults(func=commands.cmd_bench)

    p = sub.add_parser("share-weights", help="a checkpoint's network in half precision, to ship "
                       "(resattn_min/weights/)")
    p.add_argument("checkpoint", help="a checkpoint-<iteration>.pt of a finished run")
    p.add_argument("out", help="the file to write, e.g. resattn_min/weights/<name>.fp16.pt")
    p.set_defaults(func=commands.cmd_share_weights)

    p = sub.add_parser("masks", help="Fig. 1: each stage's mask on validation images of a trained network")
    p.add_argument("checkpoint", help="a checkpoint of a run on an ImageNet-style folder (Imagenette)")
    p.add_argument("--out", default="runs/masks.png", help="the PNG to write (a .json record beside it)")
    p.add_argument("--images", type=int, default=6, help="validation images, the first of each class")
    p.add_argument("--eval-size", dest="eval_size", type=int, default=224,
                   help="centre crop size of the images")
    _hidden_alias(p, "--size", "eval_size", type=int)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.set_defaults(func=commands.cmd_masks)

    p = sub.add_parser("campaign", help="the full-length runs across sessions: ledger, checkpoints, pieces")
    p.add_argument("action", choices=["status", "update", "check", "bank", "pack", "carry", "unpack",
                                      "receive", "collect"],
                   help="status; update RUNS_DIR; check (the store, from the bank); bank (commit the store's "
                   "checkpoints into git's history); pack OUT_DIR; carry STAGE_DIR (pack for as few "
                   "device calls as fit); unpack PIECES_DIR DEST; receive CALL_DIR [DEST] (one call's "
                   "return: unpack, untar runs.tgz, update; DEST default runs/campaign); collect RUNS_DIR "
                   "OUT_DIR (on the GPU machine: the newest checkpoints one call can return, in turn)")
    p.add_argument("path", nargs="?", help="the runs folder (update, collect), the folder to fill (pack) or "
                   "read (unpack)")
    p.add_argument("dest", nargs="?", help="unpack, receive: the runs folder to put the joined checkpoints "
                   "in; collect: the folder the call returns")
    p.add_argument("--runs", help="pack, collect: comma-separated runs (default: every paused run; collect: "
                   "every run of the campaign)")
    p.add_argument("--max-mb", dest="max_mb", type=float, default=44, help="pack: at most this many MiB")
    p.add_argument("--data", action="append", help="carry: a file the first call also carries (the data)")
    p.add_argument("--ledger", default=None, help="the ledger file (default: results/campaign/ledger.json)")
    p.set_defaults(func=commands.cmd_campaign)

    p = sub.add_parser("bench-data", help="images/s that DataLoader workers and the GPU stream supply")
    p.add_argument("--dataset", required=True, help="an ImageFolder root with train/ and val/ (Imagenette)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=64)
    _hidden_alias(p, "--batch", "batch_size", type=int)
    p.add_argument("--image-size", dest="image_size", type=int, default=160)
    p.add_argument("--workers", default="1,2,4,8", help="comma-separated numbers of DataLoader workers")
    p.add_argument("--batches", type=int, default=40, help="timed batches (at least 4 per worker)")
    p.add_argument("--out", default="runs/bench_data.json", help="where to write the JSON")
    p.set_defaults(func=commands.cmd_bench_data)

    p = sub.add_parser("reproduce", help="run experiments of the paper by name, several at once")
    p.add_argument("names", nargs="*", help="experiment names (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments with the paper's errors")
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or an image folder")
    p.add_argument("--schedule-scale", dest="schedule_scale", type=float,
                   help="schedule scale (default: the paper's length; quick mode's)")
    _hidden_alias(p, "--scale", "schedule_scale", type=float)
    p.add_argument("--run-dir", dest="run_dir", default="runs/reproduce",
                   help="where the runs go: RUN_DIR/<experiment>, one run folder each")
    _hidden_alias(p, "--runs-dir", "run_dir")
    p.add_argument("--parallel", type=int, default=1, help="training processes at once (one GPU shared)")
    p.add_argument("--deadline", type=float, help="stop after this many seconds (runs resume next time)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more train flags, given last")
    p.set_defaults(func=commands.cmd_reproduce)

    p = sub.add_parser("tables", help="the results tables of the runs on record in results/")
    p.set_defaults(func=commands.cmd_tables)

    p = sub.add_parser("report", help="the paper's Tables 2, 6, 7 beside our parameter and mult-add counts")
    p.add_argument("--no-macs", action="store_true", help="skip counting multiply-adds (faster)")
    p.set_defaults(func=commands.cmd_report)
    return parser
