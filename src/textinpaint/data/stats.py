"""Counts that describe a dataset split: images, captions, vocabulary, caption lengths.

What ``textinpaint data stats`` prints. Everything is computed from the split's own captions,
so the numbers say what a model trained (or evaluated) on that split will see.
"""

from __future__ import annotations

import statistics

from ..errors import UserError
from . import dataset_records, parse_dataset_spec
from .text import DEFAULT_MAX_LEN, Vocabulary, tokenize


def _shapes_split(
    split: str, length: int | None, max_len: int
) -> tuple[list[list[str]], list[int]]:
    """Captions (one per scene, as evaluation draws them) and class ids of a ``shapes`` split.

    Scenes are sampled but not rendered, so even the 20,000 training scenes take seconds.
    """
    from .shapes import COLORS, ShapesDataset, caption_for

    ds = ShapesDataset(split=split, resolution=32, train=False, max_len=max_len, length=length)
    colors = list(COLORS)
    captions, classes = [], []
    for i in range(len(ds)):
        scene = ds.scene(i)
        captions.append([caption_for(scene, ds.rng(i), max_len)])
        classes.append(colors.index(scene["objects"][0]["color"]))  # as ShapesDataset's class_id
    return captions, classes


def _split_sizes(spec: str) -> dict[str, int | None]:
    """Images per split (None where the dataset has no such split)."""
    sizes: dict[str, int | None] = {}
    for split in ("train", "test"):
        try:
            sizes[split] = len(dataset_records(spec, split))
        except UserError:
            sizes[split] = None
    return sizes


def dataset_stats(spec: str, split: str = "all", max_len: int = DEFAULT_MAX_LEN,
                  length: int | None = None) -> dict:
    """Statistics of one split of a dataset, as a JSON-serialisable dict.

    Keys: ``images``, ``captions``, ``captions_per_image`` (min/mean/max), ``vocab_size``
    (entries of the :class:`Vocabulary` built from the split's captions with min count 1,
    ``<pad>`` and ``<unk>`` included, i.e. what an embedding table needs), ``distinct_words``,
    ``classes`` (distinct class ids, 0 where unknown), caption lengths in tokens
    (``mean_tokens``, ``median_tokens``, ``min_tokens``, ``max_tokens``), ``cut_fraction``
    (captions longer than ``max_len`` tokens, which encoding cuts), ``empty_captions``,
    ``with_bbox`` and ``with_parts`` (images with such annotations), and for ``all``,
    ``splits``: images per train/test split.

    Args:
        spec: dataset spec (``shapes``, ``cub:PATH``, ...).
        split: ``train``, ``test`` or ``all``.
        max_len: the caption length limit ``cut_fraction`` is measured against.
        length: ``shapes`` only: number of scenes in the split.
    """
    name, _ = parse_dataset_spec(spec)
    with_bbox = with_parts = 0
    if name == "shapes":
        if split == "all":
            train, train_classes = _shapes_split("train", length, max_len)
            test, test_classes = _shapes_split("test", length, max_len)
            per_image, classes = train + test, train_classes + test_classes
            sizes = {"train": len(train), "test": len(test)}
        else:
            per_image, classes = _shapes_split(split, length, max_len)
            sizes = None
        with_bbox = len(per_image)  # every scene's target has a box (the ``object`` mask)
    else:
        records = dataset_records(spec, split)
        per_image = [r.captions for r in records]
        classes = [r.class_id for r in records]
        with_bbox = sum(r.bbox is not None for r in records)
        with_parts = sum(bool(r.parts) for r in records)
        sizes = _split_sizes(spec) if split == "all" else None

    captions = [c for caps in per_image for c in caps]
    lengths = [len(tokenize(c)) for c in captions] or [0]
    vocab = Vocabulary.build(captions)
    counts = [len(caps) for caps in per_image] or [0]
    out = {
        "dataset": spec,
        "split": split,
        "images": len(per_image),
        "captions": len(captions),
        "captions_per_image": {"min": min(counts), "mean": round(statistics.fmean(counts), 3),
                               "max": max(counts)},
        "vocab_size": len(vocab),
        "distinct_words": len(vocab) - 2,
        "classes": len(set(classes) - {-1}),
        "mean_tokens": round(statistics.fmean(lengths), 3),
        "median_tokens": statistics.median(lengths),
        "min_tokens": min(lengths),
        "max_tokens": max(lengths),
        "max_len": max_len,
        "cut_fraction": round(sum(n > max_len for n in lengths) / max(len(captions), 1), 4),
        "empty_captions": sum(n == 0 for n in lengths) if captions else 0,
        "with_bbox": with_bbox,
        "with_parts": with_parts,
    }
    if split == "all":
        out["splits"] = sizes
    return out
