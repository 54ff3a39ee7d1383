"""``textinpaint train``: train the inpainting GAN and export a model folder."""

from __future__ import annotations

import argparse

from ..config import load_config
from ..errors import UserError
from ..presets import preset_path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train the inpainting GAN on a captioned dataset",
        description="Train the inpainting GAN (generator + discriminator) against frozen DAMSM "
                    "encoders and export a model folder into --out.")
    p.add_argument("--dataset", required=True, help="shapes, cub:PATH, flowers:PATH, ...")
    p.add_argument("--preset", default="full", help="configs/inpaint/<NAME>.yaml (default: full)")
    p.add_argument("--damsm", required=True, help="DAMSM folder written by train-damsm")
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, model)")
    p.add_argument("--config", help="a YAML file used instead of the preset")
    p.add_argument("--masks", help="training mask spec (default: the config's, 'mix')")
    p.add_argument("--resolution", type=int, help="training resolution in pixels")
    p.add_argument("--max-steps", type=int, help="stop after N steps and export (smoke runs)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--start-from", metavar="RUN_OR_CHECKPOINT",
                   help="a new run that continues another run's whole state under this "
                        "config (a second training phase)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar: a log line per checkpoint (for log files)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. train.batch_size=8 loss.tga=0.5")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.inpaint import train_inpaint
    from ..training.inpaint_config import InpaintConfig

    path = args.config or preset_path("inpaint", args.preset)
    overrides = list(args.overrides)
    if args.max_steps is not None and args.max_steps <= 0:
        # 0 would export an untrained model as if it were a result
        raise UserError(f"--max-steps must be at least 1, got {args.max_steps}")
    if args.resolution is not None:  # 0 too: the config check refuses it by name
        overrides.append(f"resolution={args.resolution}")
    if args.masks:
        overrides.append(f"train.masks={args.masks}")
    cfg = load_config(InpaintConfig, path, overrides)
    name = args.preset if not args.config else str(args.config)
    train_inpaint(cfg, args.dataset, args.damsm, args.out, preset=name,
                  max_steps=args.max_steps, resume=args.resume, start_from=args.start_from,
                  progress=not args.no_progress)
    print(f"model folder written to {args.out}")
    return 0
