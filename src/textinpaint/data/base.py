"""The common dataset machinery: records on disk -> cropped, resized, masked, captioned samples.

A file-backed dataset (CUB, Oxford flowers, CelebA-HQ, a user folder) only has to list its
:class:`Record` s; :class:`RecordDataset` does the rest the same way for all of them:

1. crop (CUB's bird-centred square around the box, when a box is known and cropping is on),
2. resize to the square training resolution, once, into an on-disk cache (so CPU training is
   not bound by JPEG decoding),
3. per item: pick a caption (random in training, the first in evaluation), encode it, draw a
   mask, flip horizontally in training.

All randomness of an item comes from ``numpy.random.default_rng([seed, epoch, index])``, so a
sample is a pure function of (seed, epoch, index): evaluation is repeatable and a resumed
training run sees exactly the samples an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from tqdm import tqdm

from ..errors import UserError
from .colour_swap import colour_swap, colour_words_in
from .part_binding import binding_maps
from .part_swap import colour_phrases, part_swap
from .text import DEFAULT_MAX_LEN, Vocabulary, tokenize

log = logging.getLogger(__name__)


@dataclass
class Record:
    """One image of a dataset, as its loader found it on disk.

    Coordinates are in the pixels of the file as stored.
    """

    path: Path
    captions: list[str]
    class_id: int = -1
    key: str = ""
    bbox: tuple[float, float, float, float] | None = None  # x, y, width, height
    parts: dict[str, tuple[float, float]] = field(default_factory=dict)  # visible parts only


def bird_crop_box(
    bbox: tuple[float, float, float, float], width: int, height: int, scale: float = 1.5
) -> tuple[int, int, int, int]:
    """AttnGAN's crop: a square of side ``scale`` × the longer box side around the box centre,
    clipped to the image. Returns (left, top, right, bottom) in pixels."""
    x, y, w, h = bbox
    half = int(max(w, h) * scale / 2)
    cx, cy = int(x + w / 2), int(y + h / 2)
    left, top = max(cx - half, 0), max(cy - half, 0)
    right, bottom = min(cx + half, width), min(cy + half, height)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def open_rgb(path: Path) -> Image.Image:
    """Open an image file as RGB (greyscale, palette and RGBA files included)."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"image file '{path}' does not exist") from None
    except Image.DecompressionBombError as exc:  # not an OSError: it would escape as a traceback
        raise UserError(f"image '{path}' is too large to decode safely ({exc}); downscale or "
                        "remove the file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"cannot read image '{path}' ({exc}); replace or remove the file") from None


def default_cache_dir() -> Path:
    """Where resized images are cached: ``$TEXTINPAINT_CACHE`` or ``~/.cache/textinpaint``."""
    return Path(os.environ.get("TEXTINPAINT_CACHE", Path.home() / ".cache" / "textinpaint"))


class RecordDataset(Dataset):
    """Captioned images from a list of :class:`Record` s at a fixed square resolution.

    Args:
        records: the images of the chosen split.
        resolution: output side in pixels.
        masks: a mask generator (see :mod:`textinpaint.data.masks`) or None for no hole.
        vocab: encodes captions; None leaves ``tokens`` empty (length 0).
        train: random caption and horizontal flip per item; else the first caption, no flip.
        crop: use the bird-centred crop around each record's box (where it has one).
        seed: base of every random choice.
        max_len: caption length in tokens.
        cache: keep the resized images in a memory-mapped file under ``cache_dir``.
        name: dataset name, used in cache file names and messages.
    """

    def __init__(
        self,
        records: Sequence[Record],
        resolution: int,
        masks=None,
        vocab: Vocabulary | None = None,
        train: bool = False,
        crop: bool = True,
        seed: int = 0,
        max_len: int = DEFAULT_MAX_LEN,
        cache: bool = True,
        cache_dir: Path | None = None,
        name: str = "dataset",
    ):
        if not records:
            raise UserError(f"dataset '{name}' has no images in this split")
        self.records = list(records)
        self.resolution = int(resolution)
        self.masks = masks
        self.vocab = vocab
        self.train = train
        self.crop = crop
        self.seed = seed
        self.max_len = max_len
        self.name = name
        self.epoch = 0
        # Probability of a counterfactual colour swap per training item (data/colour_swap.py).
        self.colour_swap = 0.0
        # Share of those swaps that recolour one named part only (data/part_swap.py).
        self.part_swap = 0.0
        # Side of the part-binding maps each training item carries (data/part_binding.py);
        # 0 = none.
        self.binding_size = 0
        self._sizes: dict[Path, tuple[int, int]] = {}
        self._pixels = self._load_cache(cache_dir or default_cache_dir()) if cache else None

    # -- images --------------------------------------------------------------------------
    def _crop_box(self, rec: Record, width: int, height: int) -> tuple[int, int, int, int]:
        if self.crop and rec.bbox is not None:
            return bird_crop_box(rec.bbox, width, height)
        return 0, 0, width, height

    def _read_resized(self, rec: Record) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        img = open_rgb(rec.path)
        box = self._crop_box(rec, img.width, img.height)
        img = img.crop(box).resize((self.resolution, self.resolution), Image.BICUBIC)
        return np.asarray(img, dtype=np.uint8), box

    def _load_cache(self, cache_dir: Path) -> np.ndarray:
        # The cache is keyed by every record's path and size on disk plus the crop settings,
        # so a changed dataset or setting never reads stale pixels.
        h = hashlib.sha1(f"{self.resolution}|{self.crop}".encode())
        for rec in self.records:
            st = rec.path.stat() if rec.path.exists() else None
            h.update(f"{rec.path}|{st.st_size if st else -1}|{rec.bbox}".encode())
        path = Path(cache_dir) / f"{self.name}-{self.resolution}-{h.hexdigest()[:16]}.npy"
        if path.exists():
            try:
                return np.load(path, mmap_mode="r")
            except (OSError, ValueError):
                log.warning("cache %s is unreadable; rebuilding it", path)
        n, r = len(self.records), self.resolution
        pixels = np.empty((n, r, r, 3), dtype=np.uint8)
        for i, rec in enumerate(tqdm(self.records, desc=f"caching {self.name} at {r}px",
                                     leave=False, disable=n < 200)):
            pixels[i] = self._read_resized(rec)[0]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, pixels)
            os.replace(tmp, path)  # atomic: a crash never leaves half a cache behind
        except OSError as exc:
            log.warning("could not write image cache %s (%s); continuing without it", path, exc)
        return pixels

    def all_pixels(self) -> np.ndarray:
        """Every item's resized pixels, N×H×W×3 uint8 (the cache, or read now without one)."""
        if self._pixels is not None:
            return np.asarray(self._pixels)
        return np.stack([self._read_resized(rec)[0] for rec in self.records])

    def _geometry(self, rec: Record) -> tuple[float, float, float, float]:
        """(left, top, scale_x, scale_y) mapping file pixels to output pixels."""
        size = self._sizes.get(rec.path)
        if size is None:  # read each header once: this runs for every sample of every epoch
            with Image.open(rec.path) as img:
                size = self._sizes[rec.path] = img.size
        width, height = size
        left, top, right, bottom = self._crop_box(rec, width, height)
        return left, top, self.resolution / (right - left), self.resolution / (bottom - top)

    def meta(self, index: int) -> dict:
        """Box and visible parts of item ``index`` in output pixels (before any flip)."""
        rec = self.records[index]
        if rec.bbox is None and not rec.parts:
            return {}
        left, top, sx, sy = self._geometry(rec)
        out: dict = {}
        if rec.bbox is not None:
            x, y, w, h = rec.bbox
            r = self.resolution
            x0, y0 = np.clip([(x - left) * sx, (y - top) * sy], 0, r)
            x1, y1 = np.clip([(x + w - left) * sx, (y + h - top) * sy], 0, r)
            out["bbox"] = (float(x0), float(y0), float(x1), float(y1))
        out["parts"] = {
            name: ((px - left) * sx, (py - top) * sy) for name, (px, py) in rec.parts.items()
        }
        return out

    # -- items ---------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (captions, masks, flips) for a new training epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def rng(self, index: int) -> np.random.Generator:
        """The random generator of item ``index`` in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> dict:
        rec = self.records[index]
        rng = self.rng(index)
        pixels = self._pixels[index] if self._pixels is not None else self._read_resized(rec)[0]
        caption = rec.captions[int(rng.integers(len(rec.captions)))] if self.train else (
            rec.captions[0] if rec.captions else "")
        meta = self.meta(index)
        flip = self.train and bool(rng.integers(2))
        if flip:
            pixels = pixels[:, ::-1]
            meta = flip_meta(meta, self.resolution)
        swapping = self.train and self.colour_swap > 0
        original, original_caption = pixels, caption
        # Drawn only when swaps are on, so runs without them keep their random streams.
        if swapping and rng.random() < self.colour_swap:
            swapped = None
            if self.part_swap > 0 and rng.random() < self.part_swap:
                # Most captions name no part's colour: a part swap takes one of the image's
                # captions that does (CUB has ten per image), so the share means what it says.
                named = [c for c in rec.captions if colour_phrases(c)] or [caption]
                caption = original_caption = named[int(rng.integers(len(named)))]
                swapped = part_swap(pixels, caption, rng, meta)
            pixels, caption = swapped or colour_swap(pixels, caption, rng, meta.get("bbox"))
        sample = make_sample(pixels, caption, self.vocab, self.max_len, self.masks, rng, meta,
                             class_id=rec.class_id, key=rec.key, index=index)
        if swapping:
            sample.update(swap_evidence(original, pixels, original_caption, caption,
                                        sample["mask"][0], self.max_len))
        if self.train and self.binding_size:
            own, other = binding_maps(caption, meta, self.resolution, self.binding_size,
                                      self.max_len)
            sample.update(bind_own=torch.from_numpy(own), bind_other=torch.from_numpy(other))
        return sample


# A pixel counts as recoloured by a swap when one of its channels moved by more than this.
RECOLOURED_STEP = 24


def swap_evidence(before: np.ndarray, after: np.ndarray, caption_before: str,
                  caption_after: str, hole: torch.Tensor, max_len: int) -> dict:
    """What a colour swap tells about the words a hole needs and the colours it must have:
    ``swap_map``, 1×H×W, 1 on the pixels the swap recoloured; ``swap_words``, a float vector
    over the caption's token positions, 1 where the swap's new colour word stands; and
    ``swap_share``, the share of the hole's pixels the swap recoloured (all 0 for an item the
    swap left alone). The hole's new colour is there only because the caption says so, so
    those words are what the hole needs (``loss.demand_swap``) and those pixels' colour is the
    caption's, not the context's (``loss.swap_chroma``)."""
    words = torch.zeros(max_len)
    recoloured = torch.zeros(hole.shape, dtype=torch.bool)
    added = set(colour_words_in(caption_after)) - set(colour_words_in(caption_before))
    if added:
        tokens = tokenize(caption_after)[:max_len]
        words[[i for i, t in enumerate(tokens) if t in added]] = 1.0
        moved = np.abs(after.astype(np.int16) - before.astype(np.int16)).max(-1)
        recoloured = torch.from_numpy(moved > RECOLOURED_STEP)
    in_hole = hole > 0.5
    share = (recoloured & in_hole).sum() / in_hole.sum().clamp_min(1)
    return {"swap_map": recoloured.float()[None], "swap_words": words,
            "swap_share": share.float()}


def flip_meta(meta: dict, width: int) -> dict:
    """Mirror box and part coordinates for a horizontally flipped image."""
    out = dict(meta)
    if "bbox" in meta:
        x0, y0, x1, y1 = meta["bbox"]
        out["bbox"] = (width - x1, y0, width - x0, y1)
    if "parts" in meta:
        out["parts"] = {k: (width - x, y) for k, (x, y) in meta["parts"].items()}
    return out


def make_sample(
    pixels: np.ndarray,
    caption: str,
    vocab: Vocabulary | None,
    max_len: int,
    masks,
    rng: np.random.Generator,
    meta: dict,
    class_id: int = -1,
    key: str = "",
    index: int = 0,
) -> dict:
    """Assemble the common sample dict from H×W×3 uint8 pixels (see docs/CONVENTIONS.md)."""
    h, w = pixels.shape[:2]
    # A copy: decoded PIL arrays and the memory-mapped cache are read-only, which torch warns
    # about (and the cache must never be written through a tensor view).
    image = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1).float() / 127.5 - 1
    if masks is not None:
        mask = masks(h, w, rng, meta)
    else:
        mask = np.zeros((h, w), dtype=np.float32)
    if vocab is not None:
        tokens, length = vocab.encode(caption, max_len)
    else:
        tokens, length = np.zeros(max_len, dtype=np.int64), 0
    return {
        "image": image,
        "mask": torch.from_numpy(np.asarray(mask, dtype=np.float32))[None],
        "tokens": torch.from_numpy(tokens),
        "length": torch.tensor(length, dtype=torch.int64),
        "caption": caption,
        "class_id": int(class_id),
        "key": key,
        "index": int(index),
        "meta": meta,
    }


def collate(batch: list[dict]) -> dict:
    """DataLoader ``collate_fn``: stacks tensors and ints, keeps everything else as lists."""
    out = {}
    for k in batch[0]:
        values = [b[k] for b in batch]
        if isinstance(values[0], torch.Tensor):
            out[k] = torch.stack(values)
        elif isinstance(values[0], int):
            out[k] = torch.tensor(values, dtype=torch.int64)
        else:
            out[k] = values
    return out
