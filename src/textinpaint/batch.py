"""Inpainting files and folders, as DFNet and IOPaint users expect it.

A folder of images is paired with masks by file stem (``masks/a.png`` or ``masks/a_mask.png``
for ``images/a.jpg``; or one mask file for every image) and with captions (a JSONL/CSV table,
else a ``.txt`` with the image's stem beside it, first line; else the ``--text`` default).
An image without a mask or caption, or one that cannot be read, is reported and skipped; the
rest of the batch goes on. Results are written as PNG (``OUT/<stem>.png``, known pixels
exactly the input's; JPEG or WebP if asked) and, if asked, side-by-side comparisons
(``OUT/concat/<stem>.png``: input with the hole painted white | result).

Masks follow the one rule of :func:`textinpaint.images.align_mask`: the image's displayed
size, or its stored size for an EXIF-rotated photo (turned the same way); any other size is
refused unless ``resize_mask`` (``--resize-mask``) stretches it, with a warning.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .caption_check import CaptionWarning
from .caption_files import lookup, read_caption_table
from .errors import UserError
from .images import align_mask, open_image, save_image, to_hole
from .outputs import os_error

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class BatchItem:
    """One image to fill: its mask file, caption and where the result goes."""

    image: Path
    mask: Path
    caption: str
    output: Path


@dataclass
class BatchReport:
    """What a batch did: files written and one line per skipped image."""

    total: int
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)  # written over an existing file

    def summary(self, output: Path | str) -> str:
        """One line: how many were written where (and over existing files), how many
        skipped."""
        skipped = f"; skipped {len(self.problems)} (see the warnings)" if self.problems else ""
        replaced = f" (replacing {len(self.replaced)} existing file(s))" if self.replaced else ""
        return (f"wrote {len(self.written)} of {self.total} image(s) to {output}{replaced}"
                f"{skipped}")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (not in sub-folders), sorted by name."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def find_mask(image: Path, masks: Path) -> Path | None:
    """The mask for ``image``: ``masks`` itself if a file, else ``<stem>[_mask].*`` in it."""
    if masks.is_file():
        return masks
    for stem in (image.stem, image.stem + "_mask"):
        for candidate in sorted(masks.glob(stem + ".*")):
            if candidate.suffix.lower() in IMAGE_SUFFIXES and candidate != image:
                return candidate
    return None


def find_caption(image: Path, root: Path, table: dict[str, str] | None,
                 default: str | None) -> str | None:
    """The caption for ``image``: from the table, else ``<stem>.txt`` beside it, else default."""
    if table is not None:
        found = lookup(table, image.relative_to(root).as_posix())
        if found is not None:
            return found
    beside = image.with_suffix(".txt")
    if beside.is_file():
        lines = beside.read_text(encoding="utf-8", errors="replace").splitlines()
        first = next((line.strip() for line in lines if line.strip()), None)
        if first is not None:
            return first
    return default


def plan_batch(images: Path, masks: Path, output: Path, captions: Path | None = None,
               text: str | None = None, needs_text: bool = True, suffix: str = ".png"
               ) -> tuple[list[BatchItem], list[str]]:
    """Pair every image in the folder ``images`` with a mask and a caption.

    Returns the items to run (results ``output/<stem><suffix>``) and one problem line per
    image left out.
    """
    if not images.is_dir():
        raise UserError(f"image folder '{images}' does not exist")
    if not masks.exists():
        raise UserError(f"mask '{masks}' does not exist; pass a mask file or a folder of masks")
    table = read_caption_table(captions) if captions else None
    files = list_images(images)
    if masks.is_dir() and masks.resolve() == images.resolve():  # masks beside the images
        files = [f for f in files if not f.stem.endswith("_mask")]
    if not files:
        raise UserError(f"image folder '{images}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    items, problems, seen = [], [], set()
    for image in files:
        mask = find_mask(image, masks)
        caption = find_caption(image, images, table, text)
        if image.stem in seen:
            problems.append(f"{image.name}: another image has the stem '{image.stem}'; "
                            "its result would overwrite the first")
        elif mask is None:
            problems.append(f"{image.name}: no mask (looked for {masks / image.stem}.* and "
                            f"{image.stem}_mask.*)")
        elif caption is None and needs_text:
            problems.append(f"{image.name}: no caption (not in the captions file, no "
                            f"{image.stem}.txt beside it, no --text)")
        else:
            seen.add(image.stem)
            items.append(BatchItem(image, mask, caption or "", output / f"{image.stem}{suffix}"))
    return items, problems


def load_pair(image_path: Path, mask_path: Path, resize_mask: bool = False
              ) -> tuple[Image.Image, np.ndarray, list[str]]:
    """An image, its hole mask at the image's size and orientation, and the warnings of
    fitting it (see :func:`~textinpaint.images.align_mask`)."""
    image = open_image(image_path)
    mask, notes = align_mask(open_image(mask_path), image, resize_mask, flag="--resize-mask")
    return image, to_hole(mask), notes


def side_by_side(image: Image.Image, hole: np.ndarray, result: Image.Image) -> Image.Image:
    """Input with the hole painted white, next to the result (RGB)."""
    shown = np.asarray(image.convert("RGB")).copy()
    shown[hole] = 255
    canvas = Image.new("RGB", (image.width * 2, image.height), "white")
    canvas.paste(Image.fromarray(shown), (0, 0))
    canvas.paste(result.convert("RGB"), (image.width, 0))
    return canvas


def run_batch(pipe, items: list[BatchItem], concat: bool = False,
              on_problem: Callable[[str], None] | None = None, progress: bool = True,
              skipped: list[str] = (), options: dict | None = None,
              on_warning: Callable[[str], None] | None = None) -> BatchReport:
    """Fill every item with ``pipe``; a failing item is reported and skipped.

    ``skipped`` are the problems :func:`plan_batch` found; they count in the report's total.
    ``options``: ``resize_mask``, ``hd_strategy`` (passed to the pipeline) and ``quality``
    (of JPEG/WebP results). ``on_warning`` hears each distinct warning once (a caption's
    unknown words, a stretched mask), prefixed with the image's name.
    """
    options = dict(options or {})
    quality = int(options.pop("quality", 95))
    resize_mask = bool(options.pop("resize_mask", False))
    report = BatchReport(total=len(items) + len(skipped), problems=list(skipped))
    warn = on_problem or log.warning
    tell = on_warning or log.warning
    said: set[str] = set()
    for item in tqdm(items, unit="image", disable=not progress, desc="inpainting"):
        try:
            image, hole, notes = load_pair(item.image, item.mask, resize_mask)
            if not hole.any():
                raise UserError(f"mask '{item.mask.name}' has no white (hole) pixels")
            with warnings.catch_warnings():  # they come back in out.warnings
                warnings.simplefilter("ignore", CaptionWarning)
                out = pipe(prompt=item.caption, image=image, mask_image=hole, **options)
            for note in notes + out.warnings[0]:
                if note not in said:  # one caption for a whole folder: say it once
                    said.add(note)
                    tell(f"{item.image.name}: {note}")
            result = out.images[0]
            existed = item.output.exists()
            try:
                item.output.parent.mkdir(parents=True, exist_ok=True)
                save_image(result, item.output, quality)
                if concat:
                    compare = item.output.parent / "concat" / item.output.name
                    compare.parent.mkdir(exist_ok=True)
                    save_image(side_by_side(image, hole, result), compare, quality)
            except OSError as exc:  # a read-only or full folder: this item fails, not the run
                raise os_error(exc, exc.filename or item.output, "the result") from None
            if existed:
                report.replaced.append(item.output)
        except UserError as exc:
            report.problems.append(f"{item.image.name}: {exc}")
            warn(report.problems[-1])
            continue
        report.written.append(item.output)
    return report
