"""CUB-200-2011 birds with Reed et al.'s ``text_c10`` captions, in the official layouts.

Expected on disk (``root`` is the folder holding both; ``root`` may also be the
``CUB_200_2011`` folder itself, with the captions beside it)::

    root/CUB_200_2011/images.txt              <image_id> <relative path>
    root/CUB_200_2011/image_class_labels.txt  <image_id> <class_id, 1-based>
    root/CUB_200_2011/train_test_split.txt    <image_id> <1 = train, 0 = test>
    root/CUB_200_2011/bounding_boxes.txt      <image_id> <x> <y> <width> <height>
    root/CUB_200_2011/parts/parts.txt         <part_id> <name>
    root/CUB_200_2011/parts/part_locs.txt     <image_id> <part_id> <x> <y> <visible>
    root/CUB_200_2011/images/<class>/<image>.jpg
    root/text/<class>/<image>.txt             one caption per line (``text_c10`` also accepted)

Record keys are the image paths of ``images.txt`` (``001.Black_footed_Albatross/...jpg``);
class ids are 0-based; the split is the official one.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .base import Record
from .files import check_split_name, parse_float, parse_int, read_captions, read_table

CUB_DIR = "CUB_200_2011"
TEXT_DIRS = ("text", "text_c10")


def find_layout(root: Path) -> tuple[Path, Path]:
    """The ``CUB_200_2011`` folder and the caption folder under (or beside) ``root``."""
    root = Path(root)
    if (root / CUB_DIR / "images.txt").is_file():
        cub, bases = root / CUB_DIR, [root]
    elif (root / "images.txt").is_file():
        cub, bases = root, [root.parent, root]
    else:
        raise UserError(
            f"'{root}' is not a CUB-200-2011 folder: expected '{root / CUB_DIR / 'images.txt'}' "
            f"(pass the folder holding {CUB_DIR}/ and text/, or {CUB_DIR}/ itself)"
        )
    for base in bases:
        for name in TEXT_DIRS:
            if (base / name).is_dir():
                return cub, base / name
    raise UserError(
        f"no caption folder for '{cub}': expected Reed et al.'s captions in "
        f"'{bases[0] / TEXT_DIRS[0]}' (or text_c10/) as <class>/<image>.txt"
    )


def _by_id(path: Path, ncols: int, expected: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in read_table(path, ncols, expected)}


def _lookup(table: dict, image_id: str, path: Path) -> list[str]:
    try:
        return table[image_id]
    except KeyError:
        raise UserError(f"image id {image_id} of images.txt has no line in '{path}'") from None


def _visible_parts(cub: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """image id -> {part name: (x, y)} for the parts marked visible."""
    names_path, locs_path = cub / "parts" / "parts.txt", cub / "parts" / "part_locs.txt"
    names = {pid: name for pid, name in read_table(names_path, 2, "<part_id> <name> lines")}
    parts: dict[str, dict[str, tuple[float, float]]] = {}
    for image_id, pid, x, y, visible in read_table(
        locs_path, 5, "<image_id> <part_id> <x> <y> <visible> lines"
    ):
        if visible == "1":
            if pid not in names:
                raise UserError(f"part id {pid} in '{locs_path}' is not in '{names_path}'")
            parts.setdefault(image_id, {})[names[pid]] = (
                parse_float(x, locs_path, "a part x"), parse_float(y, locs_path, "a part y"))
    return parts


def load_records(root: Path, split: str) -> list[Record]:
    """The images of the official ``train`` / ``test`` split (or ``all``), in images.txt order.

    Raises:
        UserError: ``root`` is not the layout, a file of it is missing or malformed, or an
            image has no caption file.
    """
    check_split_name(split)
    cub, text = find_layout(root)
    images = read_table(cub / "images.txt", 2, "<image_id> <relative path> lines")
    labels_path = cub / "image_class_labels.txt"
    split_path = cub / "train_test_split.txt"
    boxes_path = cub / "bounding_boxes.txt"
    labels = _by_id(labels_path, 2, "<image_id> <class_id> lines")
    is_train = _by_id(split_path, 2, "<image_id> <1 = train, 0 = test> lines")
    boxes = _by_id(boxes_path, 5, "<image_id> <x> <y> <width> <height> lines")
    parts = _visible_parts(cub)

    records = []
    for image_id, rel in images:
        train = _lookup(is_train, image_id, split_path)[0] == "1"
        if split != "all" and train != (split == "train"):
            continue
        class_id = parse_int(_lookup(labels, image_id, labels_path)[0], labels_path, "a class id")
        bbox = tuple(parse_float(v, boxes_path, "a box coordinate")
                     for v in _lookup(boxes, image_id, boxes_path))
        records.append(Record(
            path=cub / "images" / rel,
            captions=read_captions((text / rel).with_suffix(".txt"), rel),
            class_id=class_id - 1,
            key=rel,
            bbox=bbox,
            parts=parts.get(image_id, {}),
        ))
    return records
