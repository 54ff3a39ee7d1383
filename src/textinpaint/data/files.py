"""Reading the small text files of dataset layouts, with errors that name the file.

The dataset loaders (:mod:`.cub`, :mod:`.flowers`, :mod:`.celeba`, :mod:`.folder`) share
these helpers so that every broken layout ends in the same kind of one-sentence
:class:`~textinpaint.errors.UserError`: which file, what was expected there.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def require_file(path: Path, expected: str) -> Path:
    """``path`` if it is a file, else a UserError saying what it should have held."""
    if not path.is_file():
        raise UserError(f"missing file '{path}': expected {expected}")
    return path


def read_text(path: Path, expected: str) -> str:
    """The whole file as text (UTF-8; undecodable bytes become U+FFFD, as some captions hold)."""
    require_file(path, expected)
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"cannot read '{path}' ({exc.strerror}); expected {expected}") from None


def read_table(path: Path, ncols: int, expected: str) -> list[list[str]]:
    """Whitespace-separated rows of exactly ``ncols`` fields (the last may hold spaces).

    Blank lines are skipped; a short row raises a UserError naming the file and line.
    """
    rows = []
    for lineno, line in enumerate(read_text(path, expected).splitlines(), 1):
        fields = line.split(None, ncols - 1)
        if not fields:
            continue
        if len(fields) != ncols:
            raise UserError(
                f"line {lineno} of '{path}' has {len(fields)} fields, expected {ncols} "
                f"({expected})"
            )
        rows.append(fields)
    return rows


def read_captions(path: Path, image: str) -> list[str]:
    """The captions of one image: one per line, blank lines skipped, at least one."""
    if not path.is_file():
        raise UserError(
            f"missing caption file '{path}' for image '{image}': expected one caption per line"
        )
    captions = [c.strip() for c in read_text(path, "captions").splitlines()]
    captions = [c for c in captions if c]
    if not captions:
        raise UserError(f"caption file '{path}' for image '{image}' holds no caption")
    return captions


def check_split_name(split: str) -> None:
    """Reject anything but ``train``, ``test`` and ``all``."""
    if split not in ("train", "test", "all"):
        raise UserError(f"unknown split '{split}'; use train, test or all")


def parse_int(text: str, path: Path, what: str) -> int:
    """``int(text)``, or a UserError naming the file and the field."""
    try:
        return int(text)
    except ValueError:
        raise UserError(f"'{path}' holds '{text}' where {what} (an integer) belongs") from None


def parse_float(text: str, path: Path, what: str) -> float:
    """``float(text)``, or a UserError naming the file and the field."""
    try:
        return float(text)
    except ValueError:
        raise UserError(f"'{path}' holds '{text}' where {what} (a number) belongs") from None
