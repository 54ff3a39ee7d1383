"""The training split resident on the device, each batch built there (``train.data=device``).

The per-sample loader does Python work for every image of every step: pick a caption,
tokenise it, draw a numpy mask, flip, collate, copy to the device. On a GPU that is what the
step waits on. Here the whole split moves to the device once, as uint8 pixels (1,200 CUB
images at 256 px are 236 MB), the tokens of every caption, boxes and part points, and a batch
is a few tensor operations: gather, caption choice, horizontal flip (with the annotations
flipped alike), and hole masks drawn by :mod:`textinpaint.data.device_masks`.

The draws follow the loader's distributions but are not the loader's numbers. Every draw of a
batch comes from a torch generator seeded by (seed, epoch, batch position, rank), so a batch
is a pure function of where the run is, and a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..data.base import RecordDataset
from ..data.device_masks import MaskMeta, device_masks
from ..data.masks import PART_NAMES
from ..errors import UserError

# Caption wordings drawn per synthetic scene: ``shapes`` rewords its caption every epoch, a
# resident split keeps this many per scene and picks one per batch, as CUB's ten per image.
SHAPES_WORDINGS = 8
_SEED_TAG = 0xDA7A


@dataclass
class SplitArrays:
    """One training split as plain arrays, before it goes to the device."""

    pixels: np.ndarray  # N×H×W×3 uint8
    captions: list[list[str]]  # at least one per item
    class_id: np.ndarray  # N int64
    meta: list[dict]  # per item: "bbox" (x0, y0, x1, y1) and/or "parts" {name: (x, y)}
    flip: bool  # horizontal flips keep the captions true (not so for shapes' "left of")


def split_arrays(dataset) -> SplitArrays:
    """The arrays of a training dataset built by :func:`textinpaint.data.build_dataset`."""
    if isinstance(dataset, RecordDataset):
        n = len(dataset)
        pixels = dataset.all_pixels()
        return SplitArrays(pixels, [list(r.captions) or [""] for r in dataset.records],
                           np.array([r.class_id for r in dataset.records], np.int64),
                           [dataset.meta(i) for i in range(n)], flip=dataset.train)
    from ..data.shapes import ShapesDataset, caption_for, render_scene, target_bbox

    if not isinstance(dataset, ShapesDataset):
        raise UserError(f"train.data=device does not know datasets of type "
                        f"{type(dataset).__name__}; use train.data=loader")
    pixels, captions, class_id, meta = [], [], [], []
    for i in range(len(dataset)):
        scene = dataset.scene(i)
        pixels.append(render_scene(scene, dataset.resolution))
        captions.append([caption_for(scene, np.random.default_rng([dataset.seed, _SEED_TAG, i, k]),
                                     dataset.max_len) for k in range(SHAPES_WORDINGS)])
        class_id.append(_shape_class(scene))
        meta.append({"bbox": target_bbox(scene, dataset.resolution)})
    return SplitArrays(np.stack(pixels), captions, np.array(class_id, np.int64), meta, flip=False)


def _shape_class(scene: dict) -> int:
    """The palette index of the target's colour, as ``ShapesDataset`` items' ``class_id``."""
    from ..data.shapes import COLORS

    return list(COLORS).index(scene["objects"][0]["color"])


def _meta_tensors(meta: list[dict]) -> tuple[Tensor, Tensor | None]:
    """Boxes N×4 and part points N×P×2 as float32, NaN where an item has none; no part
    points at all (None) for a dataset without part annotations."""
    n = len(meta)
    bbox = torch.full((n, 4), math.nan)
    parts = torch.full((n, len(PART_NAMES), 2), math.nan)
    index = {name: k for k, name in enumerate(PART_NAMES)}
    for i, m in enumerate(meta):
        if m.get("bbox") is not None:
            bbox[i] = torch.tensor([float(v) for v in m["bbox"]])
        for name, xy in (m.get("parts") or {}).items():
            k = index.get(str(name).replace("_", " ").lower())
            if k is not None and xy is not None:
                parts[i, k] = torch.tensor([float(xy[0]), float(xy[1])])
    return bbox, parts if any(m.get("parts") is not None for m in meta) else None


class ResidentData:
    """A training split on ``device``; :meth:`batch` builds the batches of the training loop.

    Args:
        dataset: the training dataset (its records, masks, vocabulary and seed are used).
        device: where everything lives and every batch is built.
        rank: this process's rank, so processes draw different masks for their shards.
    """

    def __init__(self, dataset, device: torch.device | str, rank: int = 0):
        if dataset.masks is None:
            raise UserError("train.data=device needs a hole mask spec (train.masks)")
        arrays = split_arrays(dataset)
        self.device, self.seed, self.rank = torch.device(device), int(dataset.seed), int(rank)
        self.flip = arrays.flip
        n, self.height, self.width = arrays.pixels.shape[:3]
        # N×3×H×W uint8: the layout the networks read, a quarter of float32's memory.
        # a copy: the cache is a read-only memory map, never to be written through a tensor
        self.pixels = torch.from_numpy(np.array(arrays.pixels)).permute(
            0, 3, 1, 2).contiguous().to(self.device)
        most = max(len(c) for c in arrays.captions)
        tokens = np.zeros((n, most, dataset.max_len), np.int64)
        lengths = np.zeros((n, most), np.int64)
        for i, caps in enumerate(arrays.captions):
            for k, cap in enumerate(caps):
                if dataset.vocab is not None:
                    tokens[i, k], lengths[i, k] = dataset.vocab.encode(cap, dataset.max_len)
        self.tokens = torch.from_numpy(tokens).to(self.device)
        self.lengths = torch.from_numpy(lengths).to(self.device)
        self.counts = torch.tensor([len(c) for c in arrays.captions], device=self.device)
        self.class_id = torch.from_numpy(arrays.class_id).to(self.device)
        bbox, parts = _meta_tensors(arrays.meta)
        self.bbox = bbox.to(self.device)
        self.parts = None if parts is None else parts.to(self.device)
        self.masks = device_masks(dataset.masks, self.height, self.width, self.device, train=True)

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def generator(self, epoch: int, position: int) -> torch.Generator:
        """The generator of batch ``position`` of ``epoch`` on this rank."""
        state = np.random.SeedSequence([self.seed, int(epoch), int(position), self.rank,
                                        _SEED_TAG]).generate_state(1, np.uint64)[0]
        return torch.Generator(device=self.device).manual_seed(int(state) >> 1)

    def batch(self, indices, epoch: int, position: int) -> dict[str, Tensor]:
        """Items ``indices`` as a training batch: ``image`` (B×3×H×W in [-1, 1]), ``mask``
        (B×1×H×W, 1 = hole), ``tokens``, ``length`` and ``class_id``, all on the device."""
        g = self.generator(epoch, position)
        idx = torch.as_tensor(indices, dtype=torch.int64, device=self.device)
        b = idx.numel()
        pick = (torch.rand(b, generator=g, device=self.device) * self.counts[idx]).long()
        pixels, bbox = self.pixels[idx], self.bbox[idx]
        parts = None if self.parts is None else self.parts[idx]
        if self.flip:
            flip = torch.rand(b, generator=g, device=self.device) < 0.5
            pixels = torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)
            w = float(self.width)
            mirrored = torch.stack([w - bbox[:, 2], bbox[:, 1], w - bbox[:, 0], bbox[:, 3]], 1)
            bbox = torch.where(flip[:, None], mirrored, bbox)
            if parts is not None:
                parts = torch.where(flip[:, None, None],
                                    torch.stack([w - parts[..., 0], parts[..., 1]], -1), parts)
        # The same arithmetic as the loader's make_sample, so equal pixels give equal images.
        image = pixels.float() / 127.5 - 1
        mask = self.masks(b, g, MaskMeta(bbox=bbox, parts=parts))
        return {"image": image, "mask": mask, "tokens": self.tokens[idx, pick],
                "length": self.lengths[idx, pick], "class_id": self.class_id[idx]}
