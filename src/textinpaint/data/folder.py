"""Any folder of captioned images: the way to bring your own data.

Two ways to give captions (``captions.jsonl`` wins when both are there):

1. ``root/captions.jsonl``, one JSON object per line::

       {"image": "a.jpg", "captions": ["a red bird", "..."], "split": "test", "class": "robin"}

   ``image`` is relative to ``root``; ``captions`` a list (or ``caption``: one string);
   ``split`` (``train``/``test``) and ``class`` (any name) are optional. Only listed images
   are used.
2. A ``.txt`` beside every image (``a.jpg`` -> ``a.txt``), one caption per line. Images are
   found recursively (jpg, jpeg, png, bmp, webp; hidden folders skipped).

Split: the ``split`` field where given; else ``train/`` or ``test/`` as the first folder of
the image's path; else train. Class ids number the sorted ``class`` names (0-based), -1
without one. Keys are image paths relative to ``root`` with ``/`` separators.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from .base import Record
from .files import IMAGE_SUFFIXES, check_split_name, read_captions, read_text

JSONL = "captions.jsonl"


def _split_from_path(key: str) -> str:
    first = key.split("/", 1)[0]
    return first if first in ("train", "test") and "/" in key else "train"


def _jsonl_entries(root: Path) -> list[tuple[str, list[str], str, str | None]]:
    """(key, captions, split, class name) for every line of ``captions.jsonl``."""
    path = root / JSONL
    entries, seen = [], set()
    for lineno, line in enumerate(read_text(path, "JSON lines").splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {lineno} of '{path}'"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{where} is not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("image"), str):
            raise UserError(f'{where} needs an "image" field with the image path')
        key = Path(item["image"]).as_posix()
        if Path(key).is_absolute() or ".." in Path(key).parts or "\\" in key:
            # a caption table must not read files from outside the dataset it describes
            raise UserError(f'{where}: "image" is {key!r}, which leaves the dataset folder; '
                            f"give a path relative to '{root}' without '..'")
        captions = item.get("captions", item.get("caption"))
        if isinstance(captions, str):
            captions = [captions]
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
            raise UserError(f'{where} needs "captions": a list of strings for image {key}')
        captions = [c.strip() for c in captions if c.strip()]
        if not captions:
            raise UserError(f"image '{key}' ({where}) has no caption; give at least one")
        split = item.get("split", _split_from_path(key))
        if split not in ("train", "test"):
            raise UserError(f'{where}: "split" must be "train" or "test", not {split!r}')
        if key in seen:
            raise UserError(f"image '{key}' is listed twice in '{path}'; merge its captions")
        seen.add(key)
        cls = item.get("class")
        entries.append((key, captions, split, None if cls is None else str(cls)))
    return entries


def _scanned_entries(root: Path) -> list[tuple[str, list[str], str, str | None]]:
    """(key, captions, split, None) for every image found under ``root``, with its .txt."""
    entries = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        key = rel.as_posix()
        captions = read_captions(path.with_suffix(".txt"), key)
        entries.append((key, captions, _split_from_path(key), None))
    return entries


def load_records(root: Path, split: str) -> list[Record]:
    """The images of the split, sorted by key.

    Raises:
        UserError: no images, an image without captions, a listed image that does not
            exist, a malformed ``captions.jsonl``, or ``test`` asked of a folder without one.
    """
    check_split_name(split)
    root = Path(root)
    jsonl = (root / JSONL).is_file()
    entries = _jsonl_entries(root) if jsonl else _scanned_entries(root)
    if not entries:
        raise UserError(f"folder dataset '{root}' has no images: add images with a .txt "
                        f"caption file beside each, or a {JSONL}")
    if split == "test" and not any(e[2] == "test" for e in entries):
        raise UserError(f"folder dataset '{root}' has no test split; add a \"split\" field to "
                        f"{JSONL} or train/ and test/ subfolders")
    class_ids = {name: i for i, name in enumerate(sorted({e[3] for e in entries} - {None}))}

    records = []
    for key, captions, image_split, cls in sorted(entries):
        if split != "all" and image_split != split:
            continue
        path = root / key
        if jsonl and not path.is_file():
            raise UserError(f"image '{path}' listed in '{root / JSONL}' does not exist")
        records.append(Record(path=path, captions=captions, key=key,
                              class_id=class_ids.get(cls, -1)))
    if not records:
        raise UserError(f"folder dataset '{root}' has no images in its {split} split")
    return records
