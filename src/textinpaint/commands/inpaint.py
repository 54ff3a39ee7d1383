"""``textinpaint inpaint``: fill one image, or a folder of images, from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from ..argtypes import positive_float
from ..errors import UserError
from ..images import check_output_path


def _warn(message: str) -> None:
    tqdm.write(f"warning: {message}", file=sys.stderr)


def _options(args) -> dict:
    """The pipeline options the command line sets."""
    return {"resize_mask": args.resize_mask, "hd_strategy": args.hd_strategy,
            "quality": args.quality}


def add_parser(sub) -> None:
    """Register the ``inpaint`` sub-command."""
    p = sub.add_parser(
        "inpaint", help="fill the white part of a mask, guided by a caption",
        description="Fill one image (--image FILE --mask FILE --text ... --output OUT.png) or "
        "a folder (--image DIR --mask DIR|FILE --output DIR). Folder images pair with masks by "
        "stem (a.jpg <-> a.png or a_mask.png) and with captions from --captions (JSONL "
        '{"image": "a.jpg", "caption": "..."} or CSV image,caption), else a.txt beside the '
        "image, else --text. PNG results keep the pixels outside the hole exactly "
        "(JPEG/WebP re-encode them).")
    p.add_argument("--model", default=None,
                   help="a model name (see 'textinpaint models') or folder "
                        "(default: birds-128)")
    p.add_argument("--image", required=True, type=Path, help="image file or folder")
    p.add_argument("--mask", required=True, type=Path,
                   help="mask file (white = hole) or folder of masks")
    p.add_argument("--text", default=None, help="the caption (for a folder: the default one)")
    p.add_argument("--captions", type=Path, default=None, help="JSONL or CSV caption table")
    p.add_argument("--output", required=True, type=Path,
                   help="output file (.png, .jpg or .webp) or folder")
    p.add_argument("--format", choices=("png", "jpg", "webp"), default="png",
                   help="file type of a folder's results (default png)")
    p.add_argument("--quality", type=int, default=95,
                   help="JPEG/WebP quality, 1-100 (default 95)")
    p.add_argument("--resize-mask", action="store_true",
                   help="stretch a mask of another size to its image (nearest-neighbour) "
                        "instead of refusing it")
    p.add_argument("--hd-strategy", choices=("crop", "resize", "original"), default="crop",
                   help="large images: a window around each hole at the model's resolution "
                        "(crop, default), the whole image at it (resize), or the windows at "
                        "the photo's own scale (original)")
    p.add_argument("--concat", action="store_true",
                   help="also write side-by-side comparisons (input with hole | result); "
                   "for a folder into OUTPUT/concat/")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1")
    p.add_argument("--max-memory-mb", type=positive_float, default=4096,
                   help="refuse an image whose fill would need more memory than this "
                        "(estimated before it starts)")
    p.add_argument("--flip-ensemble", action="store_true",
                   help="fill each image and its mirror image and average the two fills: "
                        "twice the time, a little less error")
    p.add_argument("--seam", action=argparse.BooleanOptionalAction, default=None,
                   help="close the colour step along the hole's border with a smooth offset "
                        "that fades into the hole (default: as the model folder says; "
                        "birds-128 does)")
    p.add_argument("--guidance-scale", type=float, default=1.0, metavar="S",
                   help="how much the caption counts: the empty caption's fill plus S times "
                        "the caption's change to it; 1 = the model as trained (default), "
                        "0 = no caption, up to 4; above 1 takes twice the time")
    p.set_defaults(func=run)


def _single(pipe, args) -> int:
    from ..batch import BatchItem, find_caption, run_batch

    if not args.mask.is_file():
        raise UserError(f"mask '{args.mask}' is not a file; a single image needs a mask file")
    caption = args.text
    if caption is None and args.captions:
        from ..caption_files import lookup, read_caption_table

        caption = lookup(read_caption_table(args.captions), args.image.name)
    if caption is None:
        caption = find_caption(args.image, args.image.parent, None, None)
    if caption is None and pipe.model.uses_text:
        raise UserError(f"no caption for '{args.image}': pass --text \"...\"")
    output = args.output / f"{args.image.stem}.{args.format}" if args.output.is_dir() \
        else args.output
    check_output_path(output)
    item = BatchItem(args.image, args.mask, caption or "", output)
    report = run_batch(pipe, [item], progress=False, on_problem=lambda m: None,
                       options=_options(args), on_warning=_warn)
    if report.problems:
        raise UserError(report.problems[0])
    if args.concat:  # the single-file comparison goes beside the result
        from ..batch import load_pair, side_by_side
        from ..images import open_image

        image, hole, _ = load_pair(args.image, args.mask, args.resize_mask)
        compare = output.with_name(output.stem + "_concat.png")
        side_by_side(image, hole, open_image(output)).save(compare)
    print(f"wrote {output}" + (" (replacing the existing file)" if report.replaced else ""))
    return 0


def run(args) -> int:
    """Fill the image(s); exit 0 if anything was written."""
    import warnings

    from ..batch import plan_batch, run_batch
    from ..caption_check import CaptionWarning
    from ..outputs import ensure_writable_dir
    from ..pipeline import InpaintPipeline
    from ..shipped import resolve_model_dir

    # The batch prints each caption warning as one "warning:" line; Python's own copy of it
    # (file, line number) would only repeat it.
    warnings.simplefilter("ignore", CaptionWarning)
    if not args.image.exists():
        raise UserError(f"image '{args.image}' does not exist")
    if not 1 <= args.quality <= 100:
        raise UserError(f"--quality must be between 1 and 100, not {args.quality}")
    # Before the model loads: an output that cannot be written should cost no time.
    single = args.image.is_file() and not args.output.is_dir()
    ensure_writable_dir(args.output.parent if single else args.output)
    from ..work import WorkLimits

    pipe = InpaintPipeline.from_pretrained(resolve_model_dir(args.model), device=args.device,
                                           flip_ensemble=args.flip_ensemble,
                                           seam=args.seam,
                                           guidance_scale=args.guidance_scale,
                                           limits=WorkLimits(max_memory_mb=args.max_memory_mb,
                                                             memory_hint="--max-memory-mb"))
    if args.image.is_file():
        return _single(pipe, args)
    items, skipped = plan_batch(args.image, args.mask, args.output, args.captions, args.text,
                                needs_text=pipe.model.uses_text, suffix=f".{args.format}")
    for line in skipped:
        print(f"warning: {line}", file=sys.stderr)
    report = run_batch(pipe, items, concat=args.concat, skipped=skipped, on_problem=_warn,
                       options=_options(args), on_warning=_warn)
    print(report.summary(args.output))
    return 0 if report.written else 1
