"""``textinpaint data stats|show``: look at a dataset before training on it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)

SPLITS = ("train", "test", "all")


def add_parser(subparsers) -> None:
    """Register ``data`` with its ``stats`` and ``show`` sub-commands."""
    parser = subparsers.add_parser("data", help="dataset statistics and previews")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    stats = sub.add_parser("stats", help="print one JSON object of counts for a split")
    stats.add_argument("--dataset", required=True,
                       help="shapes, cub:PATH, flowers:PATH, celeba:PATH or folder:PATH")
    stats.add_argument("--split", choices=SPLITS, default="all")
    stats.add_argument("--max-len", type=int, default=18,
                       help="caption length in tokens that cut_fraction is measured against")
    stats.add_argument("--length", type=int, default=None,
                       help="shapes only: scenes per split (default 20000 train, 1000 test)")
    stats.set_defaults(func=run_stats)

    show = sub.add_parser("show", help="write a PNG grid of masked images with captions")
    show.add_argument("--dataset", required=True,
                      help="shapes, cub:PATH, flowers:PATH, celeba:PATH or folder:PATH")
    show.add_argument("--split", choices=SPLITS, default="all")
    show.add_argument("--masks", default=None,
                      help="mask spec, e.g. center, box, freeform:thick, object, part:head")
    show.add_argument("--n", type=int, default=16, help="number of images")
    show.add_argument("--ncols", type=int, default=4, help="images per grid line")
    show.add_argument("--resolution", type=int, default=128)
    show.add_argument("--seed", type=int, default=0, help="picks the images and the masks")
    show.add_argument("--colour-swap", action="store_true",
                      help="add each item's counterfactual colour swap (train.colour_swap)")
    show.add_argument("--part-swap", action="store_true",
                      help="add each item's part swap instead (train.part_swap): one part's "
                           "colour and its phrase")
    show.add_argument("--out", required=True, type=Path, help="PNG file to write")
    show.set_defaults(func=run_show)


def run_stats(args) -> int:
    """Print the statistics of ``--dataset``'s ``--split`` as one JSON line."""
    from ..data.stats import dataset_stats

    print(json.dumps(dataset_stats(args.dataset, args.split, max_len=args.max_len,
                                   length=args.length)))
    return 0


def run_show(args) -> int:
    """Write the preview grid to ``--out``."""
    from ..data.preview import preview_grid

    if args.n < 1 or args.resolution < 8:
        raise UserError("--n must be at least 1 and --resolution at least 8")
    out = args.out
    if out.suffix.lower() != ".png":
        raise UserError(f"--out '{out}' must end in .png")
    grid = preview_grid(args.dataset, split=args.split, masks=args.masks, n=args.n,
                        resolution=args.resolution, seed=args.seed, ncols=args.ncols,
                        colour_swap=args.colour_swap, part_swap=args.part_swap)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        grid.save(out)
    except OSError as exc:
        raise UserError(f"cannot write '{out}' ({exc.strerror})") from None
    log.info("wrote %s (%d×%d)", out, grid.width, grid.height)
    return 0
