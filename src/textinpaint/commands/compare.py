"""``textinpaint compare-runs``: two methods over several training runs' evaluations."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError


def add_parser(subparsers) -> None:
    """Register ``compare-runs``."""
    p = subparsers.add_parser(
        "compare-runs",
        help="pool one evaluation folder per training seed: per-run paired differences of "
             "two methods, their mean and an interval over runs and test images")
    p.add_argument("folders", nargs="+", type=Path, metavar="EVAL_DIR",
                   help="folders written by `textinpaint evaluate`, one per training run, "
                        "all of the same images, masks and evaluation seed")
    p.add_argument("--this", required=True, help="method name as the reports spell it")
    p.add_argument("--other", required=True, help="the method it is compared against")
    p.add_argument("--out", type=Path, default=None,
                   help="also write the table (.md) and the numbers (.json beside it)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.set_defaults(func=run)


def run(args) -> int:
    """Compare, print the table, optionally write it."""
    from ..evaluation.across_runs import compare_runs, markdown
    from ..evaluation.report import write_json

    if args.out and args.out.suffix != ".md":
        raise UserError(f"--out {args.out}: give a .md file name")
    result = compare_runs(args.folders, args.this, args.other, seed=args.seed)
    text = markdown(result)
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        write_json(args.out.with_suffix(".json"), result)
    return 0
