"""``textinpaint export``: a model folder from a run's latest checkpoint."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a model folder from a run's latest checkpoint",
                       description="Export the EMA generator of a training run's latest "
                                   "checkpoint (with its DAMSM files) as a model folder; works "
                                   "while the run is still training.")
    p.add_argument("--run", required=True, help="the --out folder of 'textinpaint train'")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--half", action="store_true", help="store the weights in fp16")
    p.add_argument("--step", type=int, help="export this kept checkpoint (default: the latest)")
    p.add_argument("--seam", action="store_true",
                   help="make the seam correction the model's default at inference "
                        "(config.json inference.seam; callers can still turn it off)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training.export import export_run

    extra = {"inference": {"seam": True}} if args.seam else None
    out = export_run(args.run, args.out, args.half, step=args.step, extra=extra)
    print(f"model folder written to {out}")
    return 0
