"""Caption tables for batch inpainting: image file name -> caption, from JSONL or CSV.

* JSONL: one object per line, ``{"image": "a.jpg", "caption": "..."}`` (``"text"`` works in
  place of ``"caption"``, ``"file"``/``"path"``/``"file_name"`` in place of ``"image"``).
* CSV: columns ``image,caption`` (or ``text``), with or without that header row.

Keys are kept as written; :func:`lookup` finds an image by relative path, file name or stem.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .errors import UserError

IMAGE_KEYS = ("image", "file", "path", "file_name", "filename")
TEXT_KEYS = ("caption", "text", "prompt")


def _first(row: dict, keys: tuple[str, ...]):
    return next((row[k] for k in keys if k in row), None)


def _read_jsonl(path: Path, text: str) -> dict[str, str]:
    table = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"line {lineno} of '{path}' is not JSON; each line must be "
                            '{"image": "a.jpg", "caption": "..."}') from None
        name = _first(row, IMAGE_KEYS) if isinstance(row, dict) else None
        caption = _first(row, TEXT_KEYS) if isinstance(row, dict) else None
        if not isinstance(name, str) or not isinstance(caption, str):
            raise UserError(f"line {lineno} of '{path}' needs string fields 'image' and "
                            "'caption' (or 'text')")
        table[name] = caption
    return table


def _read_csv(path: Path, text: str) -> dict[str, str]:
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if rows and rows[0] and rows[0][0].strip().lower() in IMAGE_KEYS:
        header = [c.strip().lower() for c in rows[0]]
        image_col = header.index(rows[0][0].strip().lower())
        text_col = next((header.index(k) for k in TEXT_KEYS if k in header), None)
        if text_col is None:
            raise UserError(f"'{path}' has a header without a 'caption' or 'text' column")
        rows = [[r[image_col], r[text_col]] if len(r) > max(image_col, text_col) else r
                for r in rows[1:]]
    table = {}
    for lineno, row in enumerate(rows, 1):
        if len(row) < 2:
            raise UserError(f"row {lineno} of '{path}' has {len(row)} column(s); write "
                            "image,caption")
        table[row[0].strip()] = row[1].strip()
    return table


def read_caption_table(path: str | Path) -> dict[str, str]:
    """The captions in a ``.jsonl`` or ``.csv`` file, keyed as written there."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"captions file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read captions file '{path}' ({exc})") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return _read_jsonl(path, text)
    if suffix == ".csv":
        return _read_csv(path, text)
    raise UserError(f"captions file '{path}' must end in .jsonl or .csv")


def lookup(table: dict[str, str], relative: str) -> str | None:
    """The caption for an image at ``relative`` (POSIX path): by path, file name or stem."""
    name = relative.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    for key in (relative, name, stem):
        if key in table:
            return table[key]
    return None
