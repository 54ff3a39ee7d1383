"""CelebA-HQ faces with the Multi-Modal-CelebA-HQ captions.

Expected on disk::

    root/image/<index>.jpg            (or root/CelebA-HQ-img/<index>.jpg, as MM-CelebA-HQ ships)
    root/celeba-caption/<index>.txt   one caption per line (10 per image upstream)

Split: MM-CelebA-HQ ships its split as ``train/filenames.pickle`` and ``test/filenames.pickle``,
which we never unpickle (a pickle can run code). Instead, plain-text ``root/train.txt`` and/or
``root/test.txt`` (one image index per line, ``12`` or ``12.jpg``) are used when present; an
image listed in neither file belongs to the split whose file is absent (if one is). Without
either file the convention of TediGAN / MM-CelebA-HQ applies: indices below 24000 are
training images, 24000 and up are test images (24000 / 6000 for the full 30000).
Faces have no classes (class id -1) and no boxes.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .base import Record
from .files import IMAGE_SUFFIXES, check_split_name, read_captions, read_text

IMAGE_DIRS = ("image", "CelebA-HQ-img")
CAPTION_DIR = "celeba-caption"
TEST_START = 24000  # TediGAN / MM-CelebA-HQ: 0..23999 train, 24000..29999 test


def _read_index_list(path: Path) -> set[str]:
    lines = read_text(path, "one image index per line").splitlines()
    return {Path(line.strip()).stem for line in lines if line.strip()}


def _split_of(root: Path, stems: list[str]) -> dict[str, str]:
    """image stem -> ``train`` or ``test``."""
    lists = {s: root / f"{s}.txt" for s in ("train", "test")}
    listed = {s: _read_index_list(p) for s, p in lists.items() if p.is_file()}
    if not listed:
        return {s: "test" if int(s) >= TEST_START else "train" for s in stems}
    out = {}
    for stem in stems:
        hits = [s for s in ("train", "test") if stem in listed.get(s, ())]
        if len(hits) == 2:
            raise UserError(f"image {stem} is listed in both '{lists['train']}' and "
                            f"'{lists['test']}'; keep it in one")
        # An unlisted image goes to the split without a list file, else it is left out.
        missing = [s for s in ("train", "test") if s not in listed]
        out[stem] = hits[0] if hits else (missing[0] if missing else "none")
    return out


def load_records(root: Path, split: str) -> list[Record]:
    """The images of the split, sorted by index.

    Raises:
        UserError: ``root`` lacks the image or caption folder, an image has no caption file,
            or an image name is not a number.
    """
    check_split_name(split)
    root = Path(root)
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    if image_dir is None:
        raise UserError(f"'{root}' is not a CelebA-HQ folder: expected '{root / IMAGE_DIRS[0]}' "
                        f"or '{root / IMAGE_DIRS[1]}' with <index>.jpg images")
    caption_dir = root / CAPTION_DIR
    if not caption_dir.is_dir():
        raise UserError(f"'{root}' has no caption folder: expected '{caption_dir}' with "
                        "<index>.txt files (Multi-Modal-CelebA-HQ captions)")

    images = {}
    for path in image_dir.iterdir():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            if not path.stem.isdigit():
                raise UserError(f"image '{path}' is not named <index>{path.suffix} as "
                                "CelebA-HQ images are")
            images[path.stem] = path
    stems = sorted(images, key=int)
    splits = _split_of(root, stems)

    records = []
    for stem in stems:
        if split != "all" and splits[stem] != split:
            continue
        key = f"{image_dir.name}/{images[stem].name}"
        records.append(Record(path=images[stem], key=key,
                              captions=read_captions(caption_dir / f"{stem}.txt", key)))
    if not records:
        raise UserError(f"CelebA-HQ dataset '{root}' has no images in its {split} split")
    return records
