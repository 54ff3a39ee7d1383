"""The evaluation loop: every method on the same images, masks and captions, batch by batch.

:func:`evaluate` builds the evaluation set (:mod:`.evalset`), runs each baseline once and each
model three times per batch (with the true caption, a mismatched caption and the empty
caption), scores every output image (:mod:`.metrics`), compares the methods image by image
(:mod:`.paired`), and hands the summary to :mod:`.report`, which writes ``metrics.json``,
``report.md``, ``per_image.csv``, ``grid.png`` and ``by_hole_area.png``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data import collate
from ..errors import UserError
from ..images import network_to_uint8
from . import caption_accuracy, detail, metrics, seam_contrast
from .baselines import Baseline
from .control import ControlTask
from .control_run import run_task, summarize_task
from .evalset import EvalSet, build_eval_set
from .fid import InceptionFeatures, fid_kid
from .paired import paired_results
from .realism import realism
from .textscore import TextJudge

log = logging.getLogger(__name__)

CONDITIONS = ("true", "mismatched", "empty")


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with repeats made unique by a suffix: ``a, a, b`` -> ``a, a-2, b``."""
    seen: dict[str, int] = {}
    out = []
    taken = set(names)
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        new = name
        while count > 1 and (new in taken or new in out):
            new = f"{name}-{count}"
            count += 1
        out.append(new)
    return out


def method_name(method) -> str:
    """A method's display name: a baseline's registry name or a model's folder name
    (``+flip`` appended for a flip-ensembled model)."""
    if isinstance(method, Baseline):
        return method.name
    folder = getattr(method, "folder", None)
    if folder is None:
        return str(getattr(method, "name", "model"))
    return Path(folder).name + getattr(method, "variant", "")


def _bucket_labels(batch: dict, mask: torch.Tensor) -> list[tuple[str | None, str]]:
    """(NVIDIA bucket label or None, 10% hole-ratio bin) per item. The NVIDIA label is the
    file's published bucket, known where the mask came from a numbered NVIDIA file."""
    out = []
    for meta, ratio in zip(batch["meta"], metrics.hole_ratio(mask).tolist()):
        bucket = meta.get("mask_bucket") if isinstance(meta, dict) else None
        nvidia = None
        if bucket is not None:
            b = int(bucket)
            nvidia = f"{max(1, (b - 1) * 10)}-{b * 10}%"
        out.append((nvidia, metrics.ratio_bin(ratio)))
    return out


class _Collector:
    """Per-image values of one (method, condition), summarised at the end."""

    def __init__(self):
        self.values: dict[str, list[float]] = defaultdict(list)
        self.shapes: list[dict] = []

    def add(self, scores: dict[str, torch.Tensor]) -> None:
        for k, v in scores.items():
            self.values[k].extend(float(x) for x in v)

    def summary(self, buckets: list[str] | None = None) -> dict:
        out = {k: metrics.mean(self.values[k]) for k in metrics.METRICS}
        if buckets is not None:
            out["buckets"] = {}
            labels = np.asarray(buckets)
            for label in metrics.bucket_order(buckets):
                sel = labels == label
                out["buckets"][label] = {"n": int(sel.sum()), **{
                    k: metrics.mean(np.asarray(self.values[k])[sel]) for k in metrics.METRICS}}
        return out


class _Model:
    """An inpainting model folder as a method: captions in, composited images out."""

    def __init__(self, model, judge: TextJudge | None):
        self.model = model
        self.judge = judge

    def forward(self, captions: list[str], image: torch.Tensor, mask: torch.Tensor
                ) -> tuple[dict, torch.Tensor, torch.Tensor]:
        """The model's output dict for ``captions``, with their tokens and lengths."""
        dev = self.model.device
        tokens, lengths = self.model.encode_text(captions)
        return self.model(image.to(dev), mask.to(dev), tokens, lengths), tokens, lengths

    @staticmethod
    def composite(image: torch.Tensor, mask: torch.Tensor, out: dict) -> torch.Tensor:
        """Re-composite so that scores can only come from hole pixels, whatever the model did."""
        hole = (mask > 0.5).float()
        return image * (1 - hole) + out["final"].float().cpu() * hole

    def __call__(self, image: torch.Tensor, mask: torch.Tensor, captions: list[str]
                 ) -> torch.Tensor:
        return self.composite(image, mask, self.forward(captions, image, mask)[0])


def evaluate(
    methods: Sequence,
    dataset_spec: str,
    split: str = "test",
    masks: str = "center",
    out_dir: str | Path | None = None,
    *,
    resolution: int = 128,
    limit: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    damsm=None,
    damsm_label: str | None = None,
    fid_weights: str | Path | None = None,
    control_tasks: Sequence[ControlTask] = (),
    eval_encoder=None,
    grid_rows: int = 8,
    progress: bool = True,
) -> dict:
    """Evaluate models and baselines on one evaluation set and write the report.

    Args:
        methods: :class:`~.baselines.Baseline` s and loaded models
            (:class:`~textinpaint.model_folder.InpaintModel`); names are the baseline's name
            or the model's folder name, made unique.
        dataset_spec: ``shapes``, ``cub:PATH``, ...
        split: the split to evaluate (usually ``test``).
        masks: a mask spec (``center``, ``irregular:FOLDER``, ...).
        out_dir: where the outputs go (see :mod:`.report`); None writes nothing.
        resolution: square image side in pixels; every model must have been trained at it.
        limit: evaluate only the first ``limit`` items.
        sample: evaluate N items spread evenly over the split (after ``limit``).
        seed: fixes masks, caption choices and mismatched captions.
        batch_size: images per forward pass.
        damsm: a :class:`~textinpaint.model_folder.Damsm` that judges R-precision for every
            model; None lets each model's own DAMSM judge.
        damsm_label: how the report names ``damsm`` (e.g. its folder).
        fid_weights: a local Inception-v3 weights file for FID/KID; None skips them.
        control_tasks: caption-control passes to run (:mod:`.control`), each on its own
            holes (bird box, head, shapes target) with its palette captions.
        eval_encoder: a :class:`~.encoder.FrozenEncoder` for KID/FID of hole crops; None
            skips realism.
        grid_rows: samples shown in ``grid.png``.
        progress: show tqdm bars.

    Returns:
        The ``metrics.json`` dict (see :mod:`.report`).
    """
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    names = unique_names([method_name(m) for m in methods])
    for name, m in zip(names, methods):
        res = getattr(m, "resolution", None)
        if not isinstance(m, Baseline) and res is not None and int(res) != resolution:
            raise UserError(f"model '{name}' was trained at {res} px but the evaluation runs "
                            f"at {resolution} px; pass --resolution {res}")
    inception = InceptionFeatures(fid_weights) if fid_weights else None
    evalset = build_eval_set(dataset_spec, split, masks, resolution, seed, limit, progress,
                             sample)
    runners = {}
    for name, m in zip(names, methods):
        if isinstance(m, Baseline):
            runners[name] = m
        else:
            judge = TextJudge(damsm if damsm is not None else m.damsm, seed)
            runners[name] = _Model(m, judge)
    state = _run(runners, evalset, batch_size, inception, eval_encoder, grid_rows, progress)
    state["control"] = [run_task(runners, task, dataset_spec, split, resolution, seed, limit,
                                 batch_size, grid_rows, progress, sample)
                        for task in control_tasks]
    result = _summarize(state, runners, evalset, dict(
        dataset=dataset_spec, split=split, masks=masks, resolution=resolution, seed=seed,
        limit=limit, sample=sample, batch_size=batch_size, damsm=damsm_label,
        fid_weights=str(fid_weights) if fid_weights else None,
        eval_encoder=str(eval_encoder.folder) if eval_encoder else None), seed)
    if out_dir is not None:
        from .report import write_report

        write_report(result, state, Path(out_dir), runners)
    return result


def _run(runners: dict, evalset: EvalSet, batch_size: int, inception, encoder,
         grid_rows: int, progress: bool) -> dict:
    """The loop over batches; returns everything :func:`_summarize` and the report need."""
    loader = DataLoader(evalset.dataset, batch_size=batch_size, shuffle=False,
                        collate_fn=collate, num_workers=0)
    scores = defaultdict(_Collector)  # (name, condition) -> per-image values
    buckets: list[tuple[str | None, str]] = []
    items: list[dict] = []  # per image: index, dataset key, hole ratio (for per_image.csv)
    seconds: dict[str, float] = defaultdict(float)
    features: dict = defaultdict(list)  # FID: "real" or (name, condition) -> N×2048
    crops: dict = defaultdict(list)  # realism: "real" or name -> N×D hole-crop features
    photo_seam = _Collector()  # the photos' own steps across the hole's outline, per image
    grid = {"truth": [], "mask": [], "captions": [], "mismatched": [],
            "outputs": defaultdict(list)}
    # Grid samples spread evenly over the set (its start is often a single class).
    shown = set(np.linspace(0, evalset.n - 1, min(grid_rows, evalset.n)).round().astype(int)
                .tolist()) if grid_rows > 0 else set()
    bar = tqdm(total=evalset.n, desc="evaluating", unit="img", disable=not progress)
    for batch in loader:
        image, mask = batch["image"], batch["mask"]
        index = batch["index"].tolist()
        target = metrics.to_unit(image)
        buckets.extend(_bucket_labels(batch, mask))
        items.extend({"index": i, "key": k, "hole_ratio": r} for i, k, r in zip(
            index, batch.get("key", [""] * len(index)), metrics.hole_ratio(mask).tolist()))
        captions = {"true": list(batch["caption"]),
                    "mismatched": [evalset.mismatched_caption(i) for i in index],
                    "empty": [""] * len(index)}
        hole = (mask[:, 0] > 0.5).numpy()
        show = [k for k, i in enumerate(index) if i in shown]
        if show:
            grid["truth"].extend(network_to_uint8(image[show]))
            grid["mask"].extend(hole[show])
            grid["captions"].extend(captions["true"][k] for k in show)
            grid["mismatched"].extend(captions["mismatched"][k] for k in show)
        if inception is not None:
            real = torch.from_numpy(network_to_uint8(image)).permute(0, 3, 1, 2)
            features["real"].append(inception(real))
        if encoder is not None:
            crops["real"].append(encoder(image, mask))
        outline, reference = seam_contrast.seam_steps(target, mask)
        photo_seam.add({"outline": outline, "reference": reference})
        for name, runner in runners.items():
            conditions = ("true",) if isinstance(runner, Baseline) else CONDITIONS
            for cond in conditions:
                start = time.perf_counter()
                if isinstance(runner, Baseline):
                    out = runner(image, mask)
                else:
                    out = runner(image, mask, captions[cond])
                seconds[name] += time.perf_counter() - start
                col = scores[(name, cond)]
                unit = metrics.to_unit(out)
                outline, reference = seam_contrast.seam_steps(unit, mask)
                col.add({**metrics.image_metrics(unit, target, mask),
                         "detail": detail.detail_ratio(unit, target, mask),
                         "seam": outline, "seam_ref": reference})
                if encoder is not None and cond == "true":
                    crops[name].append(encoder(out, mask))
                pixels = network_to_uint8(out)
                if show:
                    grid["outputs"][(name, cond)].extend(pixels[show])
                if not isinstance(runner, Baseline):
                    runner.judge.add(cond, out, index, captions[cond])
                if evalset.targets[index[0]] is not None:
                    col.shapes.extend(_shape_scores(evalset, index, pixels, hole, cond,
                                                    isinstance(runner, Baseline)))
                if inception is not None and cond == "true":
                    features[(name, cond)].append(
                        inception(torch.from_numpy(pixels).permute(0, 3, 1, 2)))
        bar.update(len(index))
    bar.close()
    return {"scores": scores, "buckets": buckets, "items": items, "seconds": dict(seconds),
            "features": features, "crops": crops, "photo_seam": photo_seam.values,
            "grid": grid, "n": evalset.n}


def _shape_scores(evalset: EvalSet, index: list[int], pixels: np.ndarray, hole: np.ndarray,
                  cond: str, baseline: bool) -> list[dict]:
    """Caption-accuracy scores of the filled targets of one batch under one condition."""
    out = []
    for k, i in enumerate(index):
        target = evalset.targets[i]
        if caption_accuracy.hidden_fraction(target, hole[k]) < caption_accuracy.MIN_HIDDEN:
            continue
        # A baseline ignores the caption, so its one fill is also scored against the
        # mismatched caption: the chance level of "matches given caption".
        given = evalset.mismatched_target(i) if (cond == "mismatched" or baseline) else None
        out.append(caption_accuracy.score(pixels[k], target, given))
    return out


def _summarize(state: dict, runners: dict, evalset: EvalSet, settings: dict, seed: int
               ) -> dict:
    """The ``metrics.json`` dict: protocol + one entry of results per method."""
    from .report import protocol

    # NVIDIA buckets only when every mask has one; else every image by its hole ratio.
    nvidia = all(b is not None for b, _ in state["buckets"])
    kinds = {"nvidia" if nvidia else "ratio"}
    labels = [b if nvidia else r for b, r in state["buckets"]]
    models = [n for n, r in runners.items() if not isinstance(r, Baseline)]
    values = {key: col.values for key, col in state["scores"].items()}
    paired = paired_results(values, models, list(runners), labels, seed)
    results = {}
    real = torch.cat(state["features"]["real"]) if state["features"].get("real") else None
    control_summary = {task.task.kind: summarize_task(task, list(runners), seed)
                       for task in state.get("control", [])}
    for name, runner in runners.items():
        baseline = isinstance(runner, Baseline)
        true = state["scores"][(name, "true")]
        entry = {"kind": "baseline" if baseline else "model", **true.summary(labels)}
        buckets = entry.pop("buckets")
        if not baseline:
            rp = {c: runner.judge.r_precision(c) for c in CONDITIONS}
            entry["r_precision"] = _rp_mean(rp["true"])
            entry["r_precision_std"] = rp["true"]["std"] if rp["true"] else None
            entry["r_precision_candidates"] = rp["true"]["n_candidates"] if rp["true"] else None
            conds = {c: {**state["scores"][(name, c)].summary(), "r_precision": _rp_mean(rp[c])}
                     for c in CONDITIONS[1:]}
            conds["mismatched"]["r_precision_given_caption"] = _rp_mean(
                runner.judge.r_precision("mismatched", given=True))
            entry["text_gain"] = {
                c: {k: metrics.gain(k, entry[k], conds[c][k])
                    for k in (*metrics.METRICS, "r_precision")}
                for c in CONDITIONS[1:]}
            entry["with_caption"] = conds
            entry["paired"] = paired[name]
        entry["detail"] = detail.summarize(true.values["detail"])
        photo = state["photo_seam"]
        entry["seam"] = seam_contrast.summarize(true.values["seam"], true.values["seam_ref"],
                                                photo["outline"], photo["reference"])
        if state["crops"].get("real"):
            entry["realism"] = realism(torch.cat(state["crops"]["real"]),
                                       torch.cat(state["crops"][name]), seed)
        if control_summary:
            entry["control"] = {kind: per[name] for kind, per in control_summary.items()}
        if true.shapes:
            entry["caption_accuracy"] = _caption_accuracy(state, name, baseline)
        if real is not None:
            entry.update(fid_kid(real, torch.cat(state["features"][(name, "true")]), seed))
        entry["buckets"] = buckets
        results[name] = entry
    return {"dataset": settings["dataset"], "split": settings["split"],
            "masks": settings["masks"], "n": evalset.n, "seed": seed,
            "resolution": settings["resolution"],
            "protocol": protocol(settings, kinds, runners),
            "results": results}


def _rp_mean(rp: dict | None) -> float | None:
    return None if rp is None else rp["mean"]


def _caption_accuracy(state: dict, name: str, baseline: bool) -> dict:
    """Caption accuracy per condition: the fraction of filled targets whose colour (shape)
    matches the ground truth or the caption the method was given."""
    def pick(cond: str, against: str) -> dict:
        s = caption_accuracy.summarize(state["scores"][(name, cond)].shapes)
        return {"n": s["n"], "color": s.get(f"color_{against}"),
                "shape": s.get(f"shape_{against}")}

    # A baseline's one fill ignores the caption: scored against the mismatched caption it
    # gives the chance level of "matches given caption".
    mis = "true" if baseline else "mismatched"
    out = {"true": pick("true", "gt"),
           "mismatched": {"matches_ground_truth": pick(mis, "gt"),
                          "matches_given_caption": pick(mis, "given")}}
    if not baseline:
        out["empty"] = {"matches_ground_truth": pick("empty", "gt")}
    return out
