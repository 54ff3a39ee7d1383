"""R-precision and retrieval accuracy with DAMSM features.

R-precision, as the text-to-image literature uses it (AttnGAN's repository has no code for
it; this follows the definition): for each image, its true caption and 99 captions drawn at
random from *other* images are ranked by the cosine similarity of the DAMSM global image
feature and sentence feature; R is the fraction of images whose true caption is ranked first.
The draw is repeated (10 times) and the mean and standard deviation reported.

Protocol details stated here because they change the number: a candidate never comes from the
same image and never has the same text as the true caption (after tokenising, so "A bird." and
"a bird" are the same caption); "ranked first" is strict (a tie with a distractor counts as a
miss); when fewer than 99 distinct candidates exist, all of them are used.

Where the true content of each image is known (the synthetic ``shapes`` scenes), a second
figure removes the distractors that are *true of the image* as well: ``shapes`` captions name
only some of a scene's objects, so another scene's "a blue star on the left" may describe this
scene too (for 30 % of test scenes one of 99 random distractors does), and ranking it first is
no error. Both figures are reported; the first is the literature's protocol.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset

from ..data import collate
from ..data.text import tokenize


def _as_numpy_features(x) -> np.ndarray:
    x = torch.as_tensor(x).detach().float().cpu()
    return F.normalize(x, dim=1, eps=1e-8).numpy().astype(np.float64)


def _keys(dedupe, n: int) -> np.ndarray:
    """Integer key per caption; equal keys mean identical captions."""
    if dedupe is None:
        return np.arange(n)
    if isinstance(dedupe, torch.Tensor):
        dedupe = dedupe.cpu().numpy()
    if isinstance(dedupe, np.ndarray) and dedupe.ndim == 1 and dedupe.dtype.kind in "iu":
        values = list(dedupe)
    elif isinstance(dedupe, np.ndarray):
        values = [tuple(row) for row in dedupe.reshape(len(dedupe), -1)]
    else:
        values = [" ".join(tokenize(v)) if isinstance(v, str) else v for v in dedupe]
    if len(values) != n:
        raise ValueError(f"{len(values)} dedupe keys for {n} captions")
    table: dict = {}
    return np.array([table.setdefault(v, len(table)) for v in values])


def cosine_matrix(image_features, sentence_features) -> np.ndarray:
    """N_img × N_txt cosine similarities (float64)."""
    return _as_numpy_features(image_features) @ _as_numpy_features(sentence_features).T


def r_precision(image_features, sentence_features, dedupe: Sequence | None = None,
                n_candidates: int = 100, n_draws: int = 10, seed: int = 0,
                image_ids: Sequence[int] | None = None, true_of_image=None) -> dict:
    """R-precision of N (image, caption) pairs given as features (row i = pair i).

    Args:
        image_features: N×D global image features.
        sentence_features: N×D sentence features of each image's true caption.
        dedupe: per caption its text (strings), token ids (N×T) or integer ids; distractors
            identical to the true caption are never drawn. None: all captions are distinct.
        n_candidates: captions ranked per image, the true one included.
        n_draws: repetitions with fresh distractors.
        seed: seed of the draws.
        image_ids: per row the source image (rows of one image never distract each other);
            None: every row is its own image.
        true_of_image: optional bool N×N, ``[i, j]`` True when caption ``j`` is a true
            description of image ``i`` (known for synthetic scenes,
            :func:`textinpaint.data.shapes.true_captions`): such a caption is never drawn as
            one of image ``i``'s distractors.

    Returns:
        ``{"mean", "std", "per_draw", "n_images", "n_candidates"}`` (JSON-able).
    """
    sim = cosine_matrix(image_features, sentence_features)
    n = sim.shape[0]
    if sim.shape != (n, n):
        raise ValueError("image_features and sentence_features must have the same length")
    keys = _keys(dedupe, n)
    groups = np.arange(n) if image_ids is None else np.asarray(image_ids)
    k = n_candidates - 1
    rng = np.random.default_rng(seed)
    per_draw = []
    fewest = n
    for _ in range(n_draws):
        hits = 0
        for lo in range(0, n, 1024):  # row blocks keep memory at 1024×N
            rows = np.arange(lo, min(lo + 1024, n))
            eligible = (keys[rows, None] != keys[None, :]) & (groups[rows, None] != groups[None])
            if true_of_image is not None:
                eligible &= ~np.asarray(true_of_image, dtype=bool)[rows]
            fewest = min(fewest, int(eligible.sum(1).min()))
            if fewest == 0:
                raise ValueError("an image has no distractor caption (all captions identical?)")
            # Uniform draw without replacement: the k smallest of random keys among eligibles.
            u = np.where(eligible, rng.random(eligible.shape), np.inf)
            kk = min(k, n - 1)
            pick = np.argpartition(u, kk - 1, axis=1)[:, :kk]
            ok = np.isfinite(np.take_along_axis(u, pick, 1))
            others = np.where(ok, sim[rows[:, None], pick], -np.inf).max(1)
            hits += int((sim[rows, rows] > others).sum())
        per_draw.append(hits / n)
    return {"mean": float(np.mean(per_draw)), "std": float(np.std(per_draw)),
            "per_draw": [float(p) for p in per_draw], "n_images": n,
            "n_candidates": int(min(k, fewest) + 1)}


def retrieval_accuracy(image_features, sentence_features, dedupe: Sequence | None = None,
                       batch_size: int | None = None) -> dict:
    """Top-1 retrieval accuracy in both directions.

    Image -> text: the most similar caption is the image's own (or has identical text).
    Text -> image: the most similar image is the caption's own (or one whose caption has
    identical text). Over the whole set, or within consecutive blocks of ``batch_size``.

    Returns:
        ``{"image_to_text", "text_to_image"}`` fractions in [0, 1].
    """
    sim = cosine_matrix(image_features, sentence_features)
    n = sim.shape[0]
    keys = _keys(dedupe, n)
    size = batch_size or n
    i2t = t2i = 0
    for lo in range(0, n, size):
        block = sim[lo:lo + size, lo:lo + size]
        kb = keys[lo:lo + size]
        i2t += int((kb[block.argmax(1)] == kb).sum())
        t2i += int((kb[block.argmax(0)] == kb).sum())
    return {"image_to_text": i2t / n, "text_to_image": t2i / n}


@torch.no_grad()
def damsm_features(damsm, images: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor,
                   resize: bool = True) -> dict[str, torch.Tensor]:
    """DAMSM features of images (B×3×H×W in [-1, 1], e.g. generated ones) and captions.

    Images are resized (bilinear, antialiased) to the resolution the DAMSM was trained at
    when ``resize`` and the folder records one.

    Returns:
        dict with ``image_local`` B×D×h×w, ``image_global`` B×D, ``words`` B×D×T,
        ``sentence`` B×D and ``word_mask`` B×T.
    """
    device = next(damsm.image_encoder.parameters()).device
    images = images.to(device=device, dtype=torch.float32)
    res = damsm.config.get("resolution") if resize else None
    if res and tuple(images.shape[-2:]) != (int(res), int(res)):
        images = F.interpolate(images, size=(int(res), int(res)), mode="bilinear",
                               align_corners=False, antialias=True)
    local, glob = damsm.image_encoder(images)
    words, sentence, word_mask = damsm.text_encoder.encode(tokens.to(device), lengths.to(device))
    return {"image_local": local, "image_global": glob, "words": words, "sentence": sentence,
            "word_mask": word_mask}


def evaluate_damsm(damsm, dataset, batch_size: int = 100, limit: int | None = None,
                   n_draws: int = 10, seed: int = 0, num_workers: int = 0) -> dict:
    """R-precision and retrieval accuracy of a DAMSM on a dataset's (image, caption) pairs.

    The dataset should be in evaluation mode (one fixed caption per image) and encode
    captions with the DAMSM's vocabulary. Returns a JSON-able dict.
    """
    if limit is not None and limit < len(dataset):
        dataset = Subset(dataset, range(limit))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate,
                        num_workers=num_workers)
    glob, sent, captions, objects = [], [], [], []
    for batch in loader:
        f = damsm_features(damsm, batch["image"], batch["tokens"], batch["length"])
        glob.append(f["image_global"].cpu())
        sent.append(f["sentence"].cpu())
        captions += batch["caption"]
        objects += batch.get("objects", [])
    glob, sent = torch.cat(glob), torch.cat(sent)
    fields = ("mean", "std", "per_draw", "n_candidates")
    rp = r_precision(glob, sent, captions, n_draws=n_draws, seed=seed)
    extra = {}
    if len(objects) == len(captions):  # scene ground truth: also without true distractors
        from ..data.shapes import true_captions

        clean = r_precision(glob, sent, captions, n_draws=n_draws, seed=seed,
                            true_of_image=true_captions(captions, objects))
        extra["r_precision_true_removed"] = {k: clean[k] for k in fields}
    return {
        "n_images": len(captions),
        "r_precision": {k: rp[k] for k in fields},
        **extra,
        "retrieval": {
            "all": retrieval_accuracy(glob, sent, captions),
            "batches_of_100": retrieval_accuracy(glob, sent, captions, batch_size=100),
        },
    }
