"""Oxford-102 flowers with Reed et al.'s ``text_c10`` captions.

Expected on disk::

    root/jpg/image_00001.jpg ...
    root/text_c10/class_00001/image_00001.txt    one caption per line
    root/trainvalclasses.txt, root/testclasses.txt   lines like ``class_00001``

The split is Reed et al.'s class-disjoint one (82 train+val classes, 20 test classes), as the
text-to-image literature uses it; without the two class lists only ``all`` is available.
Class ids are the 0-based numbers of the ``class_NNNNN`` folders. Flowers have no boxes.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .base import Record
from .files import check_split_name, read_captions, read_text

SPLIT_FILES = {"train": "trainvalclasses.txt", "test": "testclasses.txt"}


def _class_number(name: str, where: Path) -> int:
    prefix, _, number = name.partition("_")
    if prefix != "class" or not number.isdigit():
        raise UserError(f"'{name}' in '{where}' is not a class name like class_00001")
    return int(number)


def _split_classes(root: Path, split: str) -> set[str]:
    path = root / SPLIT_FILES[split]
    if not path.is_file():
        raise UserError(
            f"flowers dataset '{root}' has no '{SPLIT_FILES[split]}', so it has no {split} "
            "split: add Reed et al.'s trainvalclasses.txt and testclasses.txt (lines like "
            "class_00001) or use --split all"
        )
    names = {line.strip() for line in read_text(path, "lines like class_00001").splitlines()}
    names.discard("")
    for name in names:
        _class_number(name, path)
    return names


def load_records(root: Path, split: str) -> list[Record]:
    """The images of the chosen classes' split (``all``: every class), sorted by class, image.

    Raises:
        UserError: ``root`` lacks ``jpg/`` or ``text_c10/``, a split file is missing for
            ``train``/``test``, or an image file is missing.
    """
    check_split_name(split)
    root = Path(root)
    text, jpg = root / "text_c10", root / "jpg"
    for folder, what in ((text, "class_NNNNN/image_NNNNN.txt caption files"),
                         (jpg, "the image_NNNNN.jpg files")):
        if not folder.is_dir():
            raise UserError(f"'{root}' is not an Oxford-102 flowers folder: expected "
                            f"'{folder}' with {what}")
    wanted = None if split == "all" else _split_classes(root, split)

    records = []
    for class_dir in sorted(p for p in text.iterdir() if p.is_dir()):
        if wanted is not None and class_dir.name not in wanted:
            continue
        class_id = _class_number(class_dir.name, text) - 1
        for caption_file in sorted(class_dir.glob("image_*.txt")):
            path = jpg / f"{caption_file.stem}.jpg"
            if not path.is_file():
                raise UserError(f"missing image '{path}' for the captions in '{caption_file}'")
            key = f"jpg/{path.name}"
            records.append(Record(path=path, captions=read_captions(caption_file, key),
                                  class_id=class_id, key=key))
    if not records:
        raise UserError(f"flowers dataset '{root}' has no images in its {split} split "
                        f"(no image_*.txt under '{text}')")
    return records
