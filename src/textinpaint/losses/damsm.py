"""AttnGAN's DAMSM losses: word-level and sentence-level image-text matching.

Both losses score every caption of a batch against every image of the batch and ask, with a
cross-entropy in each direction, that an image picks its own caption and a caption its own
image. Negatives that are not really negatives (another image of the same class, or any pair
the caller excludes, e.g. identical captions) are masked out; the positive pair is never.

Word loss, for caption c and image i (AttnGAN §3.3, "func_attention" + "words_loss"):

1. s = eᵀv: dot product of every word feature e_t with every region feature v_r;
2. softmax over the caption's *words* for each region (padding excluded);
3. ×γ1, softmax over *regions* for each word: attention α_{t,r};
4. region context of word t: c_t = Σ_r α_{t,r} v_r (only its norm and dot product with e_t
   are needed, see :func:`_word_context_cosine`);
5. R(c, i) = log Σ_t exp(γ2 · cos(c_t, e_t)) over the real words;
6. the B×B matrix γ3·R goes into the two cross-entropies.

Everything is batch-vectorised over (caption, image) pairs; no Python loop over the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nn.attention import masked_softmax

GAMMA1_BIRDS, GAMMA1_DEFAULT, GAMMA2, GAMMA3 = 4.0, 5.0, 5.0, 10.0


def negatives_to_drop(class_ids: torch.Tensor | None, batch: int, device: torch.device,
                      exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Bool B×B, True for off-diagonal pairs that must not count as negatives.

    Args:
        class_ids: B class ids; pairs of equal ids ≥ 0 are dropped (-1 = unknown, kept).
        exclude: optional bool B×B of further pairs to drop (e.g. identical captions).
    """
    drop = torch.zeros(batch, batch, dtype=torch.bool, device=device)
    if class_ids is not None:
        ids = torch.as_tensor(class_ids, device=device).view(-1)
        drop |= (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0)
    if exclude is not None:
        drop |= exclude.to(device=device, dtype=torch.bool)
    return drop & ~torch.eye(batch, dtype=torch.bool, device=device)


def _two_way_ce(scores: torch.Tensor, drop: torch.Tensor, rows: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of ``scores`` (images × captions) along rows and along columns.

    ``rows`` (bool B) selects the pairs that count as queries in both directions; the others'
    captions are also removed as negatives of the image->caption direction.
    """
    b = scores.shape[0]
    labels = torch.arange(b, device=scores.device)
    if rows is None:
        rows = torch.ones(b, dtype=torch.bool, device=scores.device)
    if not bool(rows.any()):
        zero = scores.nan_to_num(0.0, 0.0, 0.0).sum() * 0.0  # keeps the graph, no NaN
        return zero, zero
    eye = torch.eye(b, dtype=torch.bool, device=scores.device)
    drop_img2txt = drop | (~rows[None, :] & ~eye)  # invalid captions are no negatives
    s0 = scores.masked_fill(drop_img2txt, float("-inf"))
    s1 = scores.t().masked_fill(drop.t(), float("-inf"))
    loss0 = F.cross_entropy(s0[rows], labels[rows])
    loss1 = F.cross_entropy(s1[rows], labels[rows])
    return loss0, loss1


def word_region_attention(img_local: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor,
                          gamma1: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of every caption's words over every image's regions.

    Args:
        img_local: I×D×h×w region features.
        words: C×D×T word features.
        word_mask: bool C×T, True for real words.
        gamma1: sharpness of the softmax over regions.

    Returns:
        scores: C×I×T×R word-region dot products eᵀv (R = h·w regions).
        attn: C×I×T×R attention of each word over the regions.
    """
    regions = img_local.flatten(2).transpose(1, 2)  # I×R×D
    scores = torch.einsum("cdt,ird->citr", words, regions)
    # Softmax over words (padding excluded; a finite fill keeps empty captions NaN-free).
    fill = torch.finfo(scores.dtype).min
    s = scores.masked_fill(~word_mask[:, None, :, None], fill).softmax(dim=2)
    attn = (gamma1 * s).softmax(dim=3)  # softmax over regions
    return scores, attn


def _word_context_cosine(regions: torch.Tensor, words: torch.Tensor, scores: torch.Tensor,
                         attn: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """cos(e_t, c_t) for every caption c, image i and word t (C×I×T), c_t = Σ_r α_tr v_r.

    The C×I×T×D contexts are large and memory-bound on a CPU, so when there are no more
    regions than feature channels (R ≤ D: up to 256 px) they are never built: e·c = Σ_r α s
    and |c|² = αᵀ(VᵀV)α with the I×R×R Gram matrix of each image's regions.
    """
    r, d = regions.shape[1:]
    w_norm = words.norm(dim=1).clamp_min(eps)[:, None]  # C×1×T
    if r <= d:
        dot = (attn * scores).sum(3)
        gram = regions @ regions.transpose(1, 2)  # I×R×R
        ctx_sq = ((attn @ gram[None]) * attn).sum(3)
        return dot / (ctx_sq.clamp_min(eps * eps).sqrt() * w_norm)
    context = attn @ regions[None]  # C×I×T×D
    dot = (context * words.transpose(1, 2)[:, None]).sum(3)
    return dot / (context.norm(dim=3).clamp_min(eps) * w_norm)


def words_loss(img_local: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor,
               class_ids: torch.Tensor | None = None, gamma1: float = GAMMA1_DEFAULT,
               gamma2: float = GAMMA2, gamma3: float = GAMMA3,
               exclude: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DAMSM word loss.

    Args:
        img_local: B×D×h×w local image features (image i belongs to caption i).
        words: B×D×T word features.
        word_mask: bool B×T (True = real word) or a LongTensor B of caption lengths.
        class_ids: optional B class ids; same-class pairs are not used as negatives.
        gamma1: attention sharpness over regions (AttnGAN: 4 for birds, 5 otherwise).
        gamma2: weight of the word-context match in the log-sum-exp over words.
        gamma3: scale of the similarity logits.
        exclude: optional bool B×B of further pairs that are not negatives.

    Returns:
        loss0: image -> caption cross-entropy; loss1: caption -> image cross-entropy.
        attn: B×T×h×w attention of each caption's words over its own image's regions
        (rows of padding words carry no meaning; select them with ``word_mask``).
        Captions of length 0 take no part (their pairs are excluded), never giving NaN.
    """
    b, _, t = words.shape
    if word_mask.dim() == 1:
        word_mask = torch.arange(t, device=words.device)[None, :] < word_mask[:, None]
    word_mask = word_mask.to(device=words.device, dtype=torch.bool)
    scores, attn = word_region_attention(img_local, words, word_mask, gamma1)
    cos = _word_context_cosine(img_local.flatten(2).transpose(1, 2), words, scores, attn)
    cos = (gamma2 * cos).masked_fill(~word_mask[:, None, :], torch.finfo(cos.dtype).min)
    valid = word_mask.any(dim=1)
    sim = torch.logsumexp(cos, dim=2)  # C×I
    sim = torch.where(valid[:, None], sim, torch.zeros_like(sim))
    scores = gamma3 * sim.t()  # images × captions
    drop = negatives_to_drop(class_ids, b, words.device, exclude)
    loss0, loss1 = _two_way_ce(scores, drop, valid)
    h, w = img_local.shape[2:]
    own = attn[torch.arange(b), torch.arange(b)]  # B×T×R: each caption on its own image
    return loss0, loss1, own.reshape(b, t, h, w)


def sentence_loss(img_global: torch.Tensor, sentence: torch.Tensor,
                  class_ids: torch.Tensor | None = None, gamma3: float = GAMMA3,
                  exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """DAMSM sentence loss: γ3 × cosine similarity of global image and sentence features.

    Args:
        img_global: B×D image features; sentence: B×D sentence features (pairs by index).
        class_ids, exclude: as in :func:`words_loss`.

    Returns:
        loss0: image -> caption cross-entropy; loss1: caption -> image cross-entropy.
    """
    scores = gamma3 * F.normalize(img_global, dim=1, eps=1e-8) @ F.normalize(
        sentence, dim=1, eps=1e-8).t()
    drop = negatives_to_drop(class_ids, scores.shape[0], scores.device, exclude)
    return _two_way_ce(scores, drop)


DEMAND_TARGETS = ("hole", "contrast")


def hole_word_demand(img_local: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor,
                     hole: torch.Tensor, target: str = "hole", eps: float = 1e-8
                     ) -> torch.Tensor:
    """Which words describe what a hole hides, as DAMSM sees the real image: ``B×T``.

    For every region of the real image, DAMSM's softmax over the caption's words of eᵀv (step 2
    of the word loss above: which word this region is about). ``target="hole"``: those
    distributions averaged over the regions, each weighted by the share of its pixels inside
    the hole, p(word | hole). ``target="contrast"``: p(word | hole) / p(word | context), the
    regions outside the hole weighted by their share of known pixels, renormalised: a word
    every region is about alike ("a", "this", "has") scores 1 wherever the hole is, a word
    about what the hole hides scores higher (on CUB test birds with palette captions the
    colour word is among the top two for 0.45 of head holes against 0.24 with ``hole``; see
    docs/EXPERIMENTS.md). A hole covering the whole image has no context: ``hole`` is used.
    Rows sum to 1 over the real words (0 on padding, and everywhere for a caption without
    words or an image without a hole). The target of the word-demand module's weights
    (:func:`word_demand_loss`).

    Args:
        img_local: B×D×h×w region features of the real images (frozen DAMSM encoder).
        words: B×D×T word features of their captions.
        word_mask: bool B×T, True for real words.
        hole: B×1×H×W hole masks (1 = hole) at the images' size.
        target: one of :data:`DEMAND_TARGETS`.
    """
    if target not in DEMAND_TARGETS:
        raise ValueError(f"target must be one of {DEMAND_TARGETS}, got {target!r}")
    scores = torch.einsum("bdt,bdr->btr", words, img_local.flatten(2))
    per_region = masked_softmax(scores, word_mask[:, :, None], dim=1)
    cells = F.adaptive_avg_pool2d(hole.to(scores.dtype), img_local.shape[-2:]).flatten(1)

    def mean_over(weight: torch.Tensor) -> torch.Tensor:
        return (per_region * weight[:, None]).sum(2) / weight.sum(1, keepdim=True).clamp_min(eps)

    in_hole = mean_over(cells)
    if target == "hole":
        return in_hole
    known = 1 - cells
    ratio = (in_hole + 1e-6) / (mean_over(known) + 1e-6) * word_mask
    ratio = ratio / ratio.sum(1, keepdim=True).clamp_min(eps)
    # No hole (empty target) or no context (nothing to contrast with): keep p(word | hole).
    has_both = (cells.sum(1) > eps) & (known.sum(1) > eps)
    return torch.where(has_both[:, None], ratio, in_hole)


def swap_word_demand(target: torch.Tensor, swap_words: torch.Tensor, swap_share: torch.Tensor,
                     word_mask: torch.Tensor, strength: float) -> torch.Tensor:
    """The word-demand target with what colour swaps know: ``B×T``.

    A swapped item's hole has its colour only because the caption names it (the context keeps
    the photo's colours, data/colour_swap.py), so the new colour word is what the hole needs,
    whatever DAMSM, trained on 1,200 photos, makes of it. A share ``min(1, strength ×
    swap_share)`` of each such row moves to those words, evenly; rows without swapped words
    (or with a zero share) stay as they are. Rows keep summing to 1 over the real words.

    Args:
        target: B×T rows of :func:`hole_word_demand`.
        swap_words: B×T, 1 at the positions of the swap's new colour word.
        swap_share: B, the share of each hole's pixels the swap recoloured.
        word_mask: bool B×T, True for real words.
        strength: ``loss.demand_swap``.
    """
    named = swap_words.to(target.dtype) * word_mask
    count = named.sum(1, keepdim=True)
    moved = (strength * swap_share.to(target.dtype)).clamp(0, 1)[:, None] * (count > 0)
    return (1 - moved) * target + moved * named / count.clamp_min(1)


def word_demand_loss(weights: torch.Tensor, target: torch.Tensor, word_mask: torch.Tensor,
                     eps: float = 1e-6) -> torch.Tensor:
    """KL(target ‖ weights) of each caption's word weights (both summing to 1 over its real
    words), averaged over the captions with two words or more and a non-empty target; 0 when
    there is none."""
    mask = word_mask.to(weights.dtype)
    kl = (target * ((target + eps).log() - (weights + eps).log()) * mask).sum(1)
    rows = (word_mask.sum(1) >= 2) & (target.sum(1) > 0.5)
    if not rows.any():
        return weights.sum() * 0
    return kl[rows].mean()
