"""Data: tokenizer and vocabulary, mask generators, captioned datasets.

One spec string selects a dataset, as on the command line:
``shapes``, ``cub:PATH``, ``flowers:PATH``, ``celeba:PATH``, ``folder:PATH``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import UserError
from .base import Record, RecordDataset, collate
from .text import DEFAULT_MAX_LEN, Vocabulary

__all__ = ["Record", "RecordDataset", "Vocabulary", "build_dataset", "collate",
           "dataset_records", "parse_dataset_spec", "train_captions"]

# name -> module with ``load_records(root: Path, split: str) -> list[Record]``.
FILE_DATASETS = {"cub": ".cub", "flowers": ".flowers", "celeba": ".celeba", "folder": ".folder"}
SPLITS = ("train", "test", "all")


def parse_dataset_spec(spec: str) -> tuple[str, Path | None]:
    """Split ``name:PATH`` into its name and root (``shapes`` has no root)."""
    name, _, path = spec.partition(":")
    name = name.strip().lower()
    if name == "shapes":
        return name, None
    if name not in FILE_DATASETS:
        raise UserError(
            f"unknown dataset '{spec}'; use shapes, cub:PATH, flowers:PATH, celeba:PATH or "
            "folder:PATH"
        )
    if not path:
        raise UserError(f"dataset '{name}' needs a folder: write it as {name}:PATH")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"dataset folder '{root}' does not exist (from '{spec}')")
    return name, root


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}'; use one of {', '.join(SPLITS)}")


def dataset_records(spec: str, split: str) -> list[Record]:
    """The records of a file-backed dataset's split (not available for ``shapes``)."""
    _check_split(split)
    name, root = parse_dataset_spec(spec)
    if root is None:
        raise UserError("dataset 'shapes' is generated on the fly and has no records on disk")
    module = importlib.import_module(FILE_DATASETS[name], __package__)
    return module.load_records(root, split)


def train_captions(spec: str) -> list[str]:
    """Every caption of the training split (what a vocabulary is built from)."""
    name, _ = parse_dataset_spec(spec)
    if name == "shapes":
        from .shapes import all_caption_words

        return all_caption_words()
    return [c for rec in dataset_records(spec, "train") for c in rec.captions]


def build_dataset(
    spec: str,
    split: str = "train",
    resolution: int = 64,
    masks=None,
    vocab: Vocabulary | None = None,
    train: bool | None = None,
    seed: int = 0,
    max_len: int = DEFAULT_MAX_LEN,
    crop: bool = True,
    cache: bool = True,
    length: int | None = None,
):
    """Build a dataset from its spec string.

    Args:
        spec: ``shapes`` or ``NAME:PATH`` (cub, flowers, celeba, folder).
        split: ``train``, ``test`` or ``all``.
        resolution: square output side in pixels.
        masks: a mask spec string (``center``, ``freeform:thick``, ...), a generator, or None.
        vocab: caption vocabulary; None builds one from the training split's captions.
        train: random captions/masks/flips per epoch; defaults to ``split == "train"``.
        seed: seed of every random choice (with the item index and epoch).
        max_len: caption length in tokens.
        crop: CUB's bird-centred crop around the box (file datasets with boxes only).
        cache: cache resized images on disk.
        length: ``shapes`` only: number of scenes in the split.
    """
    _check_split(split)
    name, root = parse_dataset_spec(spec)
    train = (split == "train") if train is None else train
    if isinstance(masks, str):
        from .masks import parse_mask_spec

        masks = parse_mask_spec(masks, train=train)
    if vocab is None:
        vocab = Vocabulary.build(train_captions(spec))
    if name == "shapes":
        from .shapes import ShapesDataset

        return ShapesDataset(split=split, resolution=resolution, masks=masks, vocab=vocab,
                             train=train, seed=seed, max_len=max_len, length=length)
    records = dataset_records(spec, split)
    return RecordDataset(records, resolution, masks=masks, vocab=vocab, train=train, crop=crop,
                         seed=seed, max_len=max_len, cache=cache, name=f"{name}-{split}")
