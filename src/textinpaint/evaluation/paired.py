"""Paired differences between methods, with bootstrap confidence intervals over images.

Every method of one evaluation sees the same images, masks and captions, so two methods can
be compared image by image: the mean of their per-image differences is the difference of the
means the report shows, and resampling the images with replacement (a paired bootstrap) tells
how much of that difference the choice of test images could explain. A difference whose 95 %
interval excludes 0 is one the test set resolves; one whose interval holds 0 is a tie at this
test-set size, however the means happen to fall.

Sign convention (as for the text gain): positive = the first method is better, so for L1
the difference is ``other - this`` and for PSNR ``this - other``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import metrics

CI_LEVEL = 0.95
RESAMPLES = 10_000
COMPARED = ("l1_hole", "psnr_hole")  # the two numbers the figures are stated in
CHUNK_VALUES = 4_000_000  # resampled values held in memory at once


def bootstrap_mean(diffs: Sequence[float], seed: int, resamples: int = RESAMPLES,
                   level: float = CI_LEVEL) -> dict | None:
    """Mean of ``diffs`` and its percentile-bootstrap interval (NaN values are left out).

    Returns ``{"mean", "lo", "hi", "n"}`` or None when no value is left. With one value the
    interval is that value (nothing to resample). Deterministic for a given ``seed``.
    """
    d = np.asarray(diffs, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, CHUNK_VALUES // d.size)
    for start in range(0, resamples, chunk):
        k = min(chunk, resamples - start)
        means[start:start + k] = d[rng.integers(0, d.size, size=(k, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"mean": float(d.mean()), "lo": float(lo), "hi": float(hi), "n": int(d.size)}


def verdict(stat: dict | None) -> str:
    """``better`` / ``worse`` when the interval excludes 0, else ``tie`` (``–`` if no data)."""
    if stat is None:
        return "–"
    if stat["lo"] > 0:
        return "better"
    if stat["hi"] < 0:
        return "worse"
    return "tie"


def compare(this: dict[str, Sequence[float]], other: dict[str, Sequence[float]],
            labels: Sequence[str] | None, seed: int) -> dict:
    """Paired differences of two methods' per-image values, overall and per bucket.

    Args:
        this, other: ``{metric: per-image values}`` over the same images in the same order.
        labels: each image's bucket label, or None for no per-bucket breakdown.
        seed: the bootstrap seed.

    Returns:
        ``{metric: stat, ..., "buckets": {label: {metric: stat}}}`` with ``stat`` as from
        :func:`bootstrap_mean`.
    """
    # per image, positive = ``this`` is better (the text gain's sign, image by image)
    diffs = {k: metrics.gain(k, np.asarray(this[k], dtype=np.float64),
                             np.asarray(other[k], dtype=np.float64)) for k in COMPARED}
    out: dict = {k: bootstrap_mean(d, seed) for k, d in diffs.items()}
    if labels is not None:
        names = np.asarray(labels)
        out["buckets"] = {
            label: {k: bootstrap_mean(d[names == label], seed) for k, d in diffs.items()}
            for label in metrics.bucket_order(labels)}
    return out


def paired_results(values: dict[tuple[str, str], dict[str, list[float]]], models: list[str],
                   methods: list[str], labels: list[str], seed: int) -> dict[str, dict]:
    """Every model against every other method, and its text gain, with intervals.

    Args:
        values: ``(method, condition) -> {metric: per-image values}``.
        models: the methods that take captions (they have "mismatched"/"empty" values).
        methods: every method, models and baselines.
        labels: each image's bucket label.
        seed: the bootstrap seed.

    Returns:
        ``{model: {"vs": {other: compare(...)}, "text_gain": {condition: compare(...)}}}``;
        comparisons use every method's true-caption output.
    """
    out = {}
    for name in models:
        mine = values[(name, "true")]
        vs = {other: compare(mine, values[(other, "true")], labels, seed)
              for other in methods if other != name}
        gain = {cond: compare(mine, values[(name, cond)], None, seed)
                for cond in ("mismatched", "empty")}
        out[name] = {"vs": vs, "text_gain": gain}
    return out


__all__ = ["CI_LEVEL", "COMPARED", "RESAMPLES", "bootstrap_mean", "compare",
           "paired_results", "verdict"]
