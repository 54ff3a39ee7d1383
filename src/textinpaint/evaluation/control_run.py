"""The control passes of an evaluation: palette captions on holes that hide what they describe.

For each :class:`~.control.ControlTask` the images of the split get the task's hole (bird box,
head, shapes target) and every method fills each image once per palette caption. A baseline
ignores captions, so its one fill stands for all K (its control accuracy is the chance level
by construction, computed the same way). Per image it keeps the control credits, the caption
effect, the detail ratio of the palette fills and, for models, the explain diagnostics of
each palette caption (:func:`explain_scores`); :func:`summarize_task` turns them into the
``metrics.json`` entries, with 95 % bootstrap intervals over images.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data import collate
from ..images import network_to_uint8
from . import control, detail, metrics
from .baselines import Baseline
from .evalset import build_eval_set
from .paired import bootstrap_mean

SATURATED_SPREAD = 0.01  # word weights of one caption spanning less than this: saturated


def explain_scores(out: dict, tokens: torch.Tensor, lengths: torch.Tensor, colour_id: int | None,
                   mask: torch.Tensor) -> list[dict]:
    """Word-demand and word-attention diagnostics of one batch of palette captions.

    Per caption: ``spread`` (max - min word weight), ``saturated`` (spread below
    :data:`SATURATED_SPREAD`), ``top2`` (:func:`~.control.top2_credit` of the colour word)
    and its ``top2_chance``, and ``focus_colour`` / ``focus_words``: the hole concentration
    (:func:`~.control.attention_concentration`) of the colour word's attention map and the
    mean over all its words (1 = a uniform map). Missing parts are NaN.
    """
    nan = float("nan")
    b = tokens.shape[0]
    weights = out.get("word_weights")
    attn = out.get("word_attention")
    cells = None
    if attn is not None:
        cells = F.interpolate(mask.float().to(attn.device), size=tuple(attn.shape[-2:]),
                              mode="area")[:, 0]
    rows = []
    for i in range(b):
        n = int(lengths[i])
        pos = [] if colour_id is None else [
            p for p in range(n) if int(tokens[i, p]) == colour_id]
        row = {"spread": nan, "saturated": nan, "top2": nan, "top2_chance": nan,
               "focus_colour": nan, "focus_words": nan}
        if weights is not None and n >= 2:
            w = weights[i, :n].double().cpu().numpy()
            row["spread"] = float(w.max() - w.min())
            row["saturated"] = float(row["spread"] < SATURATED_SPREAD)
            row["top2"] = control.top2_credit(w, pos)
            row["top2_chance"] = control.top2_chance(n, len(pos))
        if attn is not None and n >= 1:
            maps = attn[i, :n].float()
            conc = control.attention_concentration(maps, cells[i].expand(n, -1, -1)).cpu()
            row["focus_words"] = float(np.nanmean(conc.numpy())) if conc.isfinite().any() \
                else nan
            if pos:
                row["focus_colour"] = float(np.nanmean(conc[pos].numpy()))
        rows.append(row)
    return rows


class TaskState:
    """Per-method, per-image values of one control task."""

    def __init__(self, task: control.ControlTask):
        self.task = task
        self.hits: dict[str, list[np.ndarray]] = defaultdict(list)
        self.effect: dict[str, list[float]] = defaultdict(list)
        self.detail: dict[str, list[float]] = defaultdict(list)
        self.explain: dict[str, list[dict]] = defaultdict(list)
        self.hole_ratio: list[float] = []
        self.index: list[int] = []
        self.grid = {"truth": [], "mask": [], "captions": [], "outputs": defaultdict(list)}
        self.skipped = 0  # head holes without visible head parts (the mask fell back)


def run_task(runners: dict, task: control.ControlTask, dataset_spec: str, split: str,
             resolution: int, seed: int, limit: int | None, batch_size: int,
             grid_rows: int, progress: bool, sample: int | None = None) -> TaskState:
    """Fill every image of the split once per palette caption with every method."""
    evalset = build_eval_set(dataset_spec, split, task.masks, resolution, seed, limit,
                             progress, sample)
    dirs = control.directions(task.palette, dict(task.rgb) or None)
    state = TaskState(task)
    shown = set(np.linspace(0, evalset.n - 1, min(grid_rows, evalset.n)).round().astype(int)
                .tolist()) if grid_rows > 0 else set()
    loader = DataLoader(evalset.dataset, batch_size=batch_size, shuffle=False,
                        collate_fn=collate, num_workers=0)
    bar = tqdm(total=evalset.n, desc=f"control: {task.kind}", unit="img", disable=not progress)
    for batch in loader:
        bar.update(len(batch["index"]))
        keep = [k for k, meta in enumerate(batch["meta"])
                if not (isinstance(meta, dict) and meta.get("mask_fallback"))]
        state.skipped += len(batch["index"]) - len(keep)
        if not keep:
            continue
        image, mask = batch["image"][keep], batch["mask"][keep]
        index = [int(batch["index"][k]) for k in keep]
        hole = mask[:, 0] > 0.5
        truth = metrics.to_unit(image)
        state.hole_ratio.extend(metrics.hole_ratio(mask).tolist())
        state.index.extend(index)
        captions = [task.captions(evalset.captions[i], evalset.targets[i]) for i in index]
        show = [k for k, i in enumerate(index) if i in shown]
        if show:
            state.grid["truth"].extend(network_to_uint8(image[show]))
            state.grid["mask"].extend(hole[show].numpy())
            what = task.template or "the image's caption with its colour word swapped"
            state.grid["captions"].extend(
                [f"{' / '.join(task.palette)}: {what}"] * len(show))
        for name, runner in runners.items():
            fills = _fills(runner, image, mask, captions, task, state.explain[name])
            labs = [control.to_lab(metrics.to_unit(f)) for f in fills]
            ab = np.stack([control.hole_ab(lab, hole) for lab in labs], axis=1)  # B×K×2
            state.hits[name].extend(control.control_hits(ab, dirs))
            state.effect[name].extend(control.caption_effect(labs, hole).tolist())
            ratios = torch.stack([detail.detail_ratio(metrics.to_unit(f), truth, mask)
                                  for f in fills])
            state.detail[name].extend(ratios.nanmean(dim=0).tolist())
            if show:
                for colour, f in zip(task.palette, fills):
                    state.grid["outputs"][(name, colour)].extend(network_to_uint8(f[show]))
    bar.close()
    return state


def _fills(runner, image, mask, captions: list[list[str]], task: control.ControlTask,
           explain: list[dict]) -> list[torch.Tensor]:
    """The K composited fills of a batch (one per palette colour); explain rows appended."""
    if isinstance(runner, Baseline):
        return [runner(image, mask)] * len(task.palette)
    fills, rows = [], []
    vocab = runner.model.vocab
    for k, colour in enumerate(task.palette):
        out, tokens, lengths = runner.forward([c[k] for c in captions], image, mask)
        fills.append(runner.composite(image, mask, out))
        rows.append(explain_scores(out, tokens, lengths, vocab.stoi.get(colour), mask))
    # one row per (image, colour): image-major, as hits are stored
    explain.extend(rows[k][i] for i in range(image.shape[0]) for k in range(len(rows)))
    return fills


def summarize_task(state: TaskState, names: list[str], seed: int) -> dict[str, dict]:
    """Per method: control accuracy (overall, per colour, vs every other method), caption
    effect, palette-fill detail and (models) explain diagnostics, with intervals."""
    palette = state.task.palette
    chance = 1.0 / len(palette)
    per_image = {n: np.asarray(state.hits[n]).reshape(-1, len(palette)) for n in names}
    out = {}
    for name in names:
        hits = per_image[name]
        acc = hits.mean(axis=1)
        entry = {
            "task": state.task.kind, "hole": control.TASK_WORDS[state.task.kind],
            "palette": list(palette), "template": state.task.template,
            "chance": chance, "n": int(len(acc)), "skipped": state.skipped,
            "accuracy": bootstrap_mean(acc, seed),
            "per_colour": {c: bootstrap_mean(hits[:, k], seed) for k, c in enumerate(palette)},
            "caption_effect": bootstrap_mean(state.effect[name], seed),
            "detail": detail.summarize(state.detail[name]),
            "vs": {other: bootstrap_mean(acc - per_image[other].mean(axis=1), seed)
                   for other in names if other != name},
        }
        if state.explain.get(name):
            entry["explain"] = _explain_summary(state.explain[name])
        out[name] = entry
    return out


def _explain_summary(rows: list[dict]) -> dict:
    def mean(key):
        v = np.asarray([r[key] for r in rows], dtype=np.float64)
        v = v[~np.isnan(v)]
        return float(v.mean()) if v.size else None

    return {k: mean(k) for k in ("spread", "saturated", "top2", "top2_chance",
                                 "focus_colour", "focus_words")} | {"captions": len(rows)}


def by_hole_ratio(state: TaskState, name: str) -> dict[str, dict]:
    """Control accuracy per 10 % hole-ratio bin (for the plot)."""
    acc = np.asarray(state.hits[name]).reshape(-1, len(state.task.palette)).mean(axis=1)
    labels = np.asarray([metrics.ratio_bin(r) for r in state.hole_ratio])
    return {b: {"n": int((labels == b).sum()), "accuracy": float(acc[labels == b].mean())}
            for b in metrics.bucket_order(labels.tolist())}
