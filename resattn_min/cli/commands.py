"""What each subcommand does, given its parsed flags (``parser.py`` defines the flags)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace

from ..train.checkpoint import CheckpointError, load_checkpoint, load_weights, trained_config
from ..train.run_config import TrainConfig


def _train_config(args: argparse.Namespace) -> TrainConfig:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    overrides = {k: v for k, v in given.items() if v is not None}
    if args.config:
        return TrainConfig.from_yaml(args.config, **overrides)
    if args.resume and args.resume != "auto":  # continue a run from its checkpoint's own config
        saved = trained_config(load_checkpoint(args.resume))
        return TrainConfig.from_dict({**saved, **overrides})
    return TrainConfig.from_dict(overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from ..train.loop import train

    train(_train_config(args), overwrite=args.overwrite)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.decoded import find_cifar10
    from ..data.imagenet import LoaderStream
    from ..models.pretrained import WEIGHTS, shipped_entry, weights_path
    from ..train.build import build_model, make_data
    from ..train.distributed import init_distributed
    from ..train.precision import resolve_amp
    from ..train.resume import check_classes
    from ..train.step import evaluate

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


def cmd_bench(args: argparse.Namespace) -> int:
    from ..train.bench import run_bench

    run_bench(args.model, batch=args.batch_size, image_size=args.image_size, steps=args.steps,
              warmup=args.warmup, compile=args.compile, out=args.out, num_classes=args.num_classes,
              variants=args.variants, stacks=args.stack, check=args.check, profile=args.profile)
    return 0


def cmd_bench_data(args: argparse.Namespace) -> int:
    from ..train.data_bench import run_data_bench

    try:
        workers = tuple(int(w) for w in args.workers.split(","))
    except ValueError:
        raise ValueError(f"--workers takes comma-separated numbers of workers, e.g. 1,4,16; got "
                         f"{args.workers!r}") from None
    run_data_bench(args.dataset, batch=args.batch_size, image_size=args.image_size, workers=workers,
                   batches=args.batches, out=args.out)
    return 0


def cmd_campaign(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..experiments import campaign

    if args.action == "collect":  # on the GPU machine, in every call: no ledger there to speak of
        from ..experiments.campaign_collect import collect

        if not (args.path and args.dest):
            raise ValueError("campaign collect needs the runs folder and the folder the call returns")
        runs = args.runs.split(",") if args.runs else list(campaign.RUNS)
        print("\n".join(collect(Path(args.path), Path(args.dest), runs)))
        return 0
    path = Path(args.ledger) if args.ledger else campaign.LEDGER
    ledger = campaign.load_ledger(path)
    if args.action == "update":  # what a GPU session brought back, unpacked into a runs folder
        for line in campaign.update_ledger(ledger, Path(args.path), campaign.STORE):
            print(line)
    elif args.action == "check":  # the store, filled from the bank (git's history) where it can be
        from ..env import REPO_ROOT
        from ..experiments.campaign_bank import withdraw

        said = withdraw(ledger, campaign.STORE, REPO_ROOT)
        for line in said + campaign.check_store(ledger, campaign.STORE):
            print(line)
    elif args.action == "bank":  # the store's checkpoints into git's history (two commits)
        from ..env import REPO_ROOT
        from ..experiments.campaign_bank import deposit

        commit = deposit(ledger, campaign.STORE, REPO_ROOT, path)
        print(f"banked in {commit}" if commit else "nothing to bank: every paused run's checkpoint is banked")
    elif args.action == "pack":  # stored checkpoints, in pieces, into a folder a GPU call carries
        runs = args.runs.split(",") if args.runs else None
        packed = campaign.pack_checkpoints(ledger, campaign.STORE, Path(args.path), runs,
                                           int(args.max_mb * 2**20))
        print("packed: " + (", ".join(packed) or "nothing"))
    elif args.action == "carry":  # the stored checkpoints (and --data) split into the calls that carry them
        from ..env import REPO_ROOT
        from ..experiments.campaign_bank import tree_bytes

        calls = campaign.pack_for_calls(ledger, campaign.STORE, Path(args.path), tree_bytes(REPO_ROOT),
                                        tuple(Path(d) for d in args.data or ()),
                                        args.runs.split(",") if args.runs else None)
        for number, carried in enumerate(calls, 1):
            print(f"call {number} carries {json.dumps(carried)}")
    elif args.action == "receive":  # one call's return (<dir>/ckpt, <dir>/runs.tgz) into <dest>, then update
        from ..experiments.campaign_pieces import receive

        dest = Path(args.dest or "runs/campaign")
        for line in receive(Path(args.path), dest) + campaign.update_ledger(ledger, dest, campaign.STORE):
            print(line)
    elif args.action == "unpack":  # pieces brought back (<dir>/<run>/*.partNN) into <dest>/<run>/
        from ..experiments.campaign_pieces import join_folders

        for joined in join_folders(Path(args.path), Path(args.dest)):
            print(f"joined {joined}")
    if args.action in ("update", "check", "receive"):
        campaign.save_ledger(ledger, path)
    print("\n".join(campaign.status_lines(ledger)))
    return 0


def cmd_share_weights(args: argparse.Namespace) -> int:
    from ..train.checkpoint import share_weights

    out = share_weights(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, float16); to install it, add an entry to "
          "WEIGHTS in resattn_min/models/pretrained.py")
    return 0


def cmd_masks(args: argparse.Namespace) -> int:
    from ..analysis.mask_figure import write_mask_figure

    record = write_mask_figure(args.checkpoint, args.out, images=args.images, size=args.eval_size,
                               device=args.device)
    print(f"wrote {args.out} ({record['model']} after {record['iteration']} iterations; mask sizes "
          f"{record['mask_sizes']})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..analysis.paper_tables import PAPER_TABLES, paper_table

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


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..experiments.reproduce import list_experiments, reproduce

    if args.list or not args.names:
        print(list_experiments())
        return 0
    status = reproduce(args.names, args.dataset, args.schedule_scale, args.run_dir, parallel=args.parallel,
                       deadline_s=args.deadline, extra=args.extra)
    for name, state in status.items():
        print(f"{name:<26}{state}")
    return 0 if all(s == "done" for s in status.values()) else 1


def cmd_tables(args: argparse.Namespace) -> int:
    from ..analysis.runs_on_record import print_tables

    print_tables()
    return 0


def _fmt(value) -> str:
    return "-" if value is None else str(value)
