"""``textinpaint train-damsm`` and ``textinpaint evaluate-damsm``: DAMSM pre-training and its
R-precision."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)

DATASET_HELP = "shapes, cub:PATH, flowers:PATH, celeba:PATH or folder:PATH"


def add_parser(subparsers) -> None:
    """Register ``train-damsm`` and ``evaluate-damsm``."""
    train = subparsers.add_parser(
        "train-damsm", help="pre-train the DAMSM text and image encoders",
        description="Train the DAMSM encoders and export a DAMSM folder into --out. Config: "
                    "--config, else the preset configs/damsm/<dataset>-<resolution>.yaml if "
                    "one exists (resolution default 64); flags and key=value overrides "
                    "(e.g. train.lr=1e-3) win.")
    train.add_argument("--dataset", required=True, help=DATASET_HELP)
    train.add_argument("--out", required=True, type=Path, help="run folder (RUN_DIR)")
    train.add_argument("--config", type=Path, default=None, help="YAML config file")
    train.add_argument("--resolution", type=int, default=None, help="training resolution")
    train.add_argument("--max-steps", type=int, default=None,
                       help="stop after this many optimiser steps (and still export)")
    train.add_argument("--resume", action="store_true",
                       help="continue from the latest checkpoint in --out")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("overrides", nargs="*", metavar="key=value",
                       help="config overrides, e.g. train.batch_size=32")
    train.set_defaults(func=run_train)

    ev = subparsers.add_parser(
        "evaluate-damsm", help="R-precision and retrieval accuracy of a DAMSM folder",
        description="Print one JSON object: R-precision (mean, std over 10 draws of 99 "
                    "distractors) and top-1 retrieval accuracy in both directions.")
    ev.add_argument("--damsm", required=True, type=Path, help="DAMSM (or model) folder")
    ev.add_argument("--dataset", required=True, help=DATASET_HELP)
    ev.add_argument("--split", default="test", choices=("train", "test", "all"))
    ev.add_argument("--resolution", type=int, default=None,
                    help="image resolution (default: the one the DAMSM was trained at)")
    ev.add_argument("--limit", type=int, default=None, help="use the first N images only")
    ev.add_argument("--length", type=int, default=None, help="shapes only: scenes per split")
    ev.add_argument("--batch-size", type=int, default=100)
    ev.add_argument("--draws", type=int, default=10, help="R-precision repetitions")
    ev.add_argument("--seed", type=int, default=0, help="seed of the R-precision draws")
    ev.set_defaults(func=run_evaluate)


def run_train(args) -> int:
    """Load the config (preset, file, flags, overrides) and train."""
    from ..config import load_config
    from ..data import parse_dataset_spec
    from ..training.damsm import DamsmTrainConfig, preset_for, train_damsm

    name, _ = parse_dataset_spec(args.dataset)
    path = args.config
    if path is None:
        path = preset_for(name, args.resolution)
        if path is not None:
            log.info("using preset config %s", path)
        else:
            log.info("no preset for %s at %s px; using the defaults", name, args.resolution)
    overrides = list(args.overrides)
    if args.resolution is not None:
        if args.resolution < 16:
            raise UserError(f"--resolution must be at least 16, got {args.resolution}")
        overrides.insert(0, f"data.resolution={args.resolution}")
    if args.max_steps is not None and args.max_steps <= 0:
        # 0 would export untrained encoders as if they were a result
        raise UserError(f"--max-steps must be at least 1, got {args.max_steps}")
    cfg = load_config(DamsmTrainConfig, path, overrides)
    train_damsm(args.dataset, args.out, cfg, max_steps=args.max_steps, resume=args.resume,
                progress=not args.no_progress)
    return 0


def run_evaluate(args) -> int:
    """Encode the split with the DAMSM and print the JSON result."""
    from ..data import build_dataset, parse_dataset_spec
    from ..evaluation.rprecision import evaluate_damsm
    from ..model_folder import load_damsm
    from ..training.runtime import configure_threads

    configure_threads()
    damsm = load_damsm(args.damsm)
    resolution = args.resolution or int(damsm.config.get("resolution", 64))
    if args.limit is not None and args.limit < 2:
        raise UserError(f"--limit must be at least 2, got {args.limit}")
    kwargs = {"length": args.length} if parse_dataset_spec(args.dataset)[0] == "shapes" else {}
    dataset = build_dataset(args.dataset, args.split, resolution=resolution, masks=None,
                            vocab=damsm.vocab, train=False, seed=0,
                            max_len=damsm.max_len, **kwargs)
    result = evaluate_damsm(damsm, dataset, batch_size=args.batch_size, limit=args.limit,
                            n_draws=args.draws, seed=args.seed)
    print(json.dumps({"damsm": str(args.damsm), "dataset": args.dataset, "split": args.split,
                      "resolution": resolution, **result}))
    return 0
