"""Two methods compared over several training runs: does the difference outlast the seed?

``evaluate``'s paired intervals resample test images only, so they say whether the test set
resolves a difference between two *trained models*. Whether it resolves a difference between
two *presets* is another question: retrain both with another seed and a model's luck with
its initial weights and batch order moves the numbers too, often as much as the presets
differ. This module takes one evaluation folder per training run (each made by
``textinpaint evaluate`` on the same images, masks and seed, with both methods in it) and
pools them:

- per run, the mean paired difference of the two methods (positive = ``this`` better, as in
  :mod:`.paired`);
- the mean over runs, with a 95 % interval from a crossed bootstrap that resamples the runs
  and the test images together (each draw: runs with replacement, images with replacement,
  the same images for every run, since every run saw the same test set). Its width counts
  both spreads, between runs and between test images;
- how many runs favour ``this``.

With few runs the run resampling is coarse (three runs give ten distinct draws), so read
the interval with the per-run values beside it: a difference every run agrees on and whose
interval excludes 0 is one the seeds and the test set both resolve.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import metrics
from .paired import CHUNK_VALUES, CI_LEVEL, COMPARED, RESAMPLES, verdict
from .report import interval

PER_IMAGE = "per_image.csv"


def crossed_bootstrap(diffs: np.ndarray, seed: int, resamples: int = RESAMPLES,
                      level: float = CI_LEVEL) -> dict:
    """Mean of a runs × images matrix of differences and its crossed-bootstrap interval.

    Each resample draws the runs and the images with replacement, independently of each
    other, and averages the selected cells; the interval is the percentile interval of those
    means. Images with a NaN in any run are left out.

    Returns ``{"mean", "lo", "hi", "runs", "n", "per_run", "runs_better"}``: ``per_run`` holds
    each run's mean difference and ``runs_better`` how many of them are above 0.
    """
    d = np.asarray(diffs, dtype=np.float64)
    if d.ndim != 2 or 0 in d.shape:
        raise ValueError(f"need a runs x images matrix with data, got shape {d.shape}")
    d = d[:, ~np.isnan(d).any(axis=0)]
    runs, n = d.shape
    if n == 0:
        raise ValueError("every image has a NaN difference in some run")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, CHUNK_VALUES // n)
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        # multinomial counts: how often each run / image is drawn in each resample
        run_counts = rng.multinomial(runs, np.full(runs, 1 / runs), size=k)
        image_counts = rng.multinomial(n, np.full(n, 1 / n), size=k)
        means[start:start + k] = ((run_counts @ d) * image_counts).sum(axis=1) / (runs * n)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    per_run = d.mean(axis=1)
    return {"mean": float(d.mean()), "lo": float(lo), "hi": float(hi), "runs": runs, "n": n,
            "per_run": [float(x) for x in per_run], "runs_better": int((per_run > 0).sum())}


def read_scores(folder: Path, methods: tuple[str, str]) -> dict:
    """The true-caption scores of ``methods`` from one evaluation folder's ``per_image.csv``.

    Returns ``{"keys", "hole_ratio", "buckets", method: {metric: array}}``, images in the
    evaluation's order. Raises :class:`UserError` naming the folder when the file or a method
    is missing.
    """
    path = Path(folder) / PER_IMAGE
    if not path.is_file():
        raise UserError(f"{path}: no such file; give a folder written by `textinpaint "
                        "evaluate` (it holds per_image.csv)")
    rows: dict[str, list[dict]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("caption") == "true":
                rows.setdefault(row["method"], []).append(row)
    for name in methods:
        if name not in rows:
            raise UserError(f"{path}: no method {name!r} in it (it has "
                            f"{', '.join(sorted(rows)) or 'none'}); evaluate that model there "
                            "or pick another name")
    first = rows[methods[0]]
    out = {"keys": [r["key"] for r in first],
           "hole_ratio": np.array([float(r["hole_ratio"]) for r in first]),
           "buckets": [r["nvidia_bucket"] for r in first]}
    for name in methods:
        if [r["key"] for r in rows[name]] != out["keys"]:
            raise UserError(f"{path}: {name!r} was scored on other images than "
                            f"{methods[0]!r}; re-run the evaluation")
        out[name] = {m: np.array([float(r[m]) for r in rows[name]]) for m in COMPARED}
    return out


def _check_same_test_set(folders: list[Path], scores: list[dict]) -> None:
    ref = scores[0]
    for folder, s in zip(folders[1:], scores[1:]):
        same = (s["keys"] == ref["keys"]
                and np.allclose(s["hole_ratio"], ref["hole_ratio"], atol=1e-5))
        if not same:
            raise UserError(f"{folder}: other images or masks than {folders[0]}; evaluate "
                            "every run with the same --dataset, --split, --masks, --limit and "
                            "--seed")


def compare_runs(folders: list[Path], this: str, other: str, seed: int = 0) -> dict:
    """``this`` against ``other`` over one evaluation folder per training run.

    Args:
        folders: evaluation folders, one per training run, all of the same test set.
        this, other: method names as the reports spell them (e.g. ``full``, ``image-only``).
        seed: the bootstrap seed.

    Returns:
        ``{"this", "other", "folders", "n", metric: stat, "buckets": {label: {metric: stat}}}``
        with ``stat`` as from :func:`crossed_bootstrap`; ``buckets`` is empty unless the
        masks carry NVIDIA hole-area buckets.
    """
    if len(folders) < 2:
        raise UserError("give at least two evaluation folders (one per training run)")
    if this == other:
        raise UserError(f"--this and --other are both {this!r}; name two methods")
    scores = [read_scores(f, (this, other)) for f in folders]
    _check_same_test_set(folders, scores)
    diffs = {m: np.stack([metrics.gain(m, s[this][m], s[other][m]) for s in scores])
             for m in COMPARED}
    out: dict = {"this": this, "other": other, "folders": [str(f) for f in folders],
                 "n": len(scores[0]["keys"]), "buckets": {}}
    out.update({m: crossed_bootstrap(d, seed) for m, d in diffs.items()})
    labels = np.asarray(scores[0]["buckets"])
    for label in metrics.bucket_order(b for b in labels if b):
        keep = labels == label
        out["buckets"][label] = {m: crossed_bootstrap(d[:, keep], seed)
                                 for m, d in diffs.items()}
    return out


def markdown(result: dict) -> str:
    """The comparison as a markdown table: per-run differences, pooled mean and interval."""
    runs = len(result["folders"])
    lines = [f"# `{result['this']}` vs `{result['other']}` over {runs} training runs",
             "", *(f"- run {k + 1}: `{f}`" for k, f in enumerate(result["folders"])),
             f"- {result['n']} test images; positive = `{result['this']}` better; interval: "
             f"{CI_LEVEL:.0%} crossed bootstrap over runs and test images",
             "", "| holes | n | metric | per run | mean [95 % interval] | runs better |",
             "|---|---|---|---|---|---|"]
    rows = [("all", {m: result[m] for m in COMPARED}), *result["buckets"].items()]
    for label, stats in rows:
        for m in COMPARED:
            digits = 4 if m.startswith("l1") else 2
            stat = stats[m]
            per_run = ", ".join(f"{x:+.{digits}f}" for x in stat["per_run"])
            lines.append(f"| {label} | {stat['n']} | {m} | {per_run} | "
                         f"{interval(stat, digits)} {verdict(stat)} | "
                         f"{stat['runs_better']}/{runs} |")
    return "\n".join(lines) + "\n"


__all__ = ["compare_runs", "crossed_bootstrap", "markdown", "read_scores"]
