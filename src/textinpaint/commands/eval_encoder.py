"""``textinpaint train-eval-encoder``: train the frozen encoder that evaluation's KID uses."""

from __future__ import annotations

from pathlib import Path


def add_parser(subparsers) -> None:
    """Register ``train-eval-encoder``."""
    p = subparsers.add_parser(
        "train-eval-encoder",
        help="train the evaluation encoder (KID/FID of hole crops offline) on real "
             "training images; never used by any training loss")
    p.add_argument("--dataset", required=True, help="cub:PATH (or another captioned dataset "
                   "with class labels)")
    p.add_argument("--out", required=True, type=Path, help="folder to write, e.g. "
                   "models/eval-encoder")
    p.add_argument("--steps", type=int, default=2500, help="optimiser steps (default 2500)")
    p.add_argument("--batch-size", type=int, default=64, help="crops per step (default 64)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle)")
    p.add_argument("--seed", type=int, default=0, help="fixes crops and initialisation")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Train and write the folder; print its accuracies."""
    import torch

    from ..evaluation.encoder_train import train_eval_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # tiny BN statistics late in training otherwise crawl
    cfg = train_eval_encoder(args.dataset, args.out, steps=args.steps,
                             batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    print(f"evaluation encoder written to {args.out} (train accuracy "
          f"{cfg['train_accuracy']:.3f}, test accuracy {cfg['test_accuracy']:.3f}, "
          f"{cfg['train_seconds']:.0f} s)")
    return 0
