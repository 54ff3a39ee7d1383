"""The outputs of an evaluation, for people and for programs.

* ``metrics.json``: ``{"dataset", "split", "masks", "n", "seed", "resolution", "protocol",
  "results": {NAME: {...}}}``; deterministic (no timings), so two runs compare byte for byte.
* ``report.md``: the protocol, then tables of every method (metrics, text gain, caption
  accuracy, hole-area buckets, speed) and each model's paired differences from every other
  method, with 95 % bootstrap intervals (:mod:`.paired`).
* ``per_image.csv``: one row per (image, method, caption): the image's index, dataset key,
  hole ratio and bucket, then every metric; for statistics of your own.
* ``grid.png``: rows = samples, columns = masked input, each method, ground truth; the caption
  under each row. With models also ``grid_text.png``: each model with the true, mismatched
  and empty caption.
* ``by_hole_area.png``: hole L1 and hole PSNR per hole-area bucket, one line per method.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..visualize import caption_grid, overlay_mask
from .baselines import Baseline
from .detail import ERODE as DETAIL_ERODE
from .fid import SKIPPED as FID_SKIPPED
from .metrics import METRICS, PSNR_CAP, SSIM_KERNEL, SSIM_SIGMA, bucket_order
from .paired import CI_LEVEL, RESAMPLES, verdict
from .report_seen import seen_section, write_pictures
from .seam_contrast import OFFSET as SEAM_OFFSET

GRID_MIN_SIDE = 128  # small evaluation images are enlarged (nearest) in the grids


def protocol(settings: dict, bucket_kinds: set[str], runners: dict) -> dict:
    """How every number was made, in words and values (goes into metrics.json and report.md)."""
    models = [n for n, r in runners.items() if not isinstance(r, Baseline)]
    judge = (f"the DAMSM in '{settings['damsm']}' for every model" if settings.get("damsm")
             else "each model's own DAMSM (the encoders in its folder)")
    if bucket_kinds == {"nvidia"}:
        buckets = ("NVIDIA irregular-mask buckets by mask file number (00000-01999: 1-10% "
                   "hole, ..., 10000-11999: 50-60%), as published; the ratio after resizing "
                   "may differ slightly")
    else:
        buckets = "hole-area ratio of each resized mask, in bins of 10%"
    out = {
        "images": (f"RGB in [0, 1] at {settings['resolution']}x{settings['resolution']} px; "
                   "the first n items of the split in evaluation mode (every random choice "
                   "of item i seeded by (seed, i))"),
        "averaging": "each metric per image, then the mean over images",
        "composite": "every output is composited image*(1-mask) + fill*mask before scoring",
        "l1": "mean absolute error over all pixels and channels (lower is better)",
        "psnr": (f"10*log10(1/MSE) over all pixels and channels, data_range 1, capped at "
                 f"{PSNR_CAP:g} dB (identical images)"),
        "ssim": (f"torchmetrics SSIM, Gaussian window {SSIM_KERNEL}x{SSIM_KERNEL}, "
                 f"sigma {SSIM_SIGMA}, data_range 1, reflect padding; mean of the SSIM map"),
        "hole_metrics": ("l1_hole and psnr_hole over hole pixels only (MSE over hole "
                         "pixels); ssim_hole = mean of the same SSIM map over hole pixels"),
        "buckets": buckets,
        "baselines": {n: r.description for n, r in runners.items() if isinstance(r, Baseline)},
        "limit": settings.get("limit"),
        "sample": (None if not settings.get("sample") else
                   f"{settings['sample']} images spread evenly over the split (--sample)"),
        "fid": (FID_SKIPPED if not settings.get("fid_weights") else
                f"torchmetrics FID and KID (100 subsets of min(1000, n)) on 2048-d Inception "
                f"pool features, weights from '{settings['fid_weights']}', real = ground truth"),
    }
    out.update({
        "detail": ("mean |Laplacian| (kornia, 3x3) of luminance inside the hole eroded by "
                   f"{DETAIL_ERODE} px, fill over ground truth, per image; NaN (left out) "
                   "where the eroded hole is under 16 px or the photo is flat there"),
        "seam": ("seam contrast: mean colour step (RGB in [0, 1], Gaussian blur sigma 1 px) "
                 "over the neighbour pairs crossing the hole's outline, over the same across "
                 f"the lines {SEAM_OFFSET} px inside and outside it (chessboard distance); "
                 "ratio of means over images; the photo's beside it (about 1.0)"),
        "realism": ("no evaluation encoder (--eval-encoder none)" if not
                    settings.get("eval_encoder") else
                    f"encoder '{settings['eval_encoder']}' (trained on real training images "
                    "only, never by a training loss); hole bounding-box crops resized to "
                    "64x64; KID = unbiased MMD^2, cubic polynomial kernel, 95 % bootstrap "
                    "over images; these numbers compare models of this project, not papers"),
        "control": ("per control task: its holes; each image filled once per palette "
                    "caption; credit 1 when the fill made for colour c is the one furthest "
                    "towards c in CIELab a*b* (fills' hole means minus their mean, palette "
                    "directions centred likewise), ties split; baselines fill once for all "
                    "captions (chance by construction); caption effect = mean CIE76 dE over "
                    "hole pixels between fills of different captions"),
    })
    if models:
        out.update({
            "r_precision": ("for each output image its true caption is ranked among 1 + up "
                            "to 99 captions of other items by DAMSM cosine similarity of "
                            "global image and sentence features; fraction ranked first, mean "
                            f"of 10 draws; judged by {judge}"),
            "mismatched_caption": ("item i gets the caption of item (i + k) mod n, k in "
                                   "1..n-1 from the seed, stepping on past identical captions "
                                   "(and, on shapes, targets of the same colour)"),
            "text_gain": ("metric with the true caption minus metric with the mismatched "
                          "(or empty) caption; for l1 and l1_hole the other way round, so "
                          "positive always means the true caption helps"),
        })
    if settings["dataset"].strip().lower() == "shapes":
        out["caption_accuracy"] = (
            "over targets at least half hidden by the hole: the fraction whose filled colour "
            "(shape) matches the ground truth target or the caption given (score_fill); for "
            "baselines, 'mismatched' scores their one caption-blind fill against the "
            "mismatched caption (chance level)")
    return out


# -- metrics.json ------------------------------------------------------------------------

def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically with a trailing newline."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


# -- report.md -----------------------------------------------------------------------------

def _fmt(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _signed(x, digits: int = 4) -> str:
    # round(...) + 0.0 turns a tiny negative into +0.0 instead of printing "-0.0000"
    return "–" if x is None else f"{round(x, digits) + 0.0:+.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def markdown(result: dict, seconds: dict[str, float]) -> str:
    """The human-readable report of a ``metrics.json`` dict (plus timings)."""
    res, p = result["results"], result["protocol"]
    n = result["n"]
    lines = [f"# Evaluation: {result['dataset']} ({result['split']})", "",
             f"- images: {n} at {result['resolution']} px, masks `{result['masks']}`, "
             f"seed {result['seed']}",
             f"- protocol: {p['averaging']}; {p['composite']}", ""]
    lines += seen_section(res, p)
    has_rp = any("r_precision" in r for r in res.values())
    header = ["method", "L1 ↓", "PSNR ↑", "SSIM ↑", "L1 hole ↓", "PSNR hole ↑", "SSIM hole ↑"]
    header += ["R-prec ↑"] if has_rp else []
    header += ["s / image"]
    rows = []
    for name, r in res.items():
        row = [name, _fmt(r["l1"]), _fmt(r["psnr"], 2), _fmt(r["ssim"]), _fmt(r["l1_hole"]),
               _fmt(r["psnr_hole"], 2), _fmt(r["ssim_hole"])]
        row += [_fmt(r.get("r_precision"), 3)] if has_rp else []
        calls = 1 if r["kind"] == "baseline" else 3
        row.append(_fmt(seconds.get(name, 0.0) / max(n * calls, 1), 4))
        rows.append(row)
    lines += ["## Pixel metrics", "", "Hole L1/PSNR/SSIM reward a blurred average of the "
              "surroundings as much as a right fill: read them after the tables above.", ""]
    lines += _table(header, rows) + [""]
    if any("fid" in r for r in res.values()):
        lines += _table(["method", "FID ↓", "KID ↓"], [
            [k, _fmt(r.get("fid"), 2), f"{_fmt(r.get('kid'))} ± {_fmt(r.get('kid_std'))}"]
            for k, r in res.items()]) + [""]
    lines += [p["fid"] + ".", ""]
    lines += _gain_section(res) + paired_section(res) + _accuracy_section(res)
    lines += _bucket_section(res, p)
    lines += ["## Samples", "", "![grid](grid.png)", ""]
    if any(r["kind"] == "model" for r in res.values()):
        lines += ["Each model with the true, a mismatched and the empty caption:", "",
                  "![text grid](grid_text.png)", ""]
    lines += ["## Protocol", ""]
    for key, value in p.items():
        if isinstance(value, dict):
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        lines.append(f"- **{key}**: {value}")
    return "\n".join(lines) + "\n"


def _gain_section(res: dict) -> list[str]:
    models = {k: r for k, r in res.items() if "text_gain" in r}
    if not models:
        return []
    keys = ["l1_hole", "psnr_hole", "ssim_hole", "r_precision"]
    header = ["model", "vs"] + [f"Δ {k}" for k in keys]
    rows = [[name, cond] + [_signed(r["text_gain"][cond][k]) for k in keys]
            for name, r in models.items() for cond in ("mismatched", "empty")]
    return ["## Text gain", "", "Positive = the true caption helps (see protocol).", ""] + \
        _table(header, rows) + [""]


def interval(stat: dict | None, digits: int) -> str:
    """``+mean [lo, hi]`` of a paired statistic, or ``–`` without one."""
    if stat is None:
        return "–"
    # Bounds keep their sign even when they round to 0: "[-0.0000, +0.0006]" crosses 0.
    return f"{_signed(stat['mean'], digits)} [{stat['lo']:+.{digits}f}, " \
           f"{stat['hi']:+.{digits}f}]"


def paired_section(res: dict, only: str | None = None) -> list[str]:
    """Each model against every other method (and its text gain), with intervals; per
    hole-area bucket too where there are several. ``only`` limits it to one model."""
    models = {k: r for k, r in res.items() if "paired" in r and only in (None, k)}
    if not models:
        return []
    pct = f"{CI_LEVEL:.0%}"
    rows = []
    for name, r in models.items():
        pairs = list(r["paired"]["vs"].items())
        pairs += [(f"its {cond} caption", stat) for cond, stat in
                  r["paired"]["text_gain"].items()]
        for other, stat in pairs:
            rows.append([name, other, interval(stat["l1_hole"], 4),
                         interval(stat["psnr_hole"], 2),
                         f"{verdict(stat['l1_hole'])} / {verdict(stat['psnr_hole'])}"])
    lines = ["## Paired differences", "",
             f"Mean per-image difference [{pct} interval, paired bootstrap over images, "
             f"{RESAMPLES:,} resamples]; positive = the model is better (L1: other − model; "
             "PSNR: model − other). An interval without 0 is a difference this test set "
             "resolves; one with 0 is a tie at its size.", ""]
    lines += _table(["model", "vs", "Δ L1 hole", "Δ PSNR hole (dB)", "L1 / PSNR"], rows)
    lines.append("")
    first = next(iter(models.values()))["paired"]["vs"]
    buckets = next(iter(first.values())).get("buckets", {}) if first else {}
    if len(buckets) > 1:
        head = [f"{b} (n={_bucket_n(stats)})" for b, stats in buckets.items()]
        for metric, digits in (("l1_hole", 4), ("psnr_hole", 2)):
            rows = [[name, other] + [interval(stat["buckets"][b][metric], digits)
                                     for b in buckets]
                    for name, r in models.items() for other, stat in r["paired"]["vs"].items()]
            lines += [f"Δ {metric} per hole-area bucket:", ""]
            lines += _table(["model", "vs"] + head, rows) + [""]
    return lines


def _bucket_n(stats: dict) -> int | str:
    return next((s["n"] for s in stats.values() if s is not None), "?")


def write_per_image(state: dict, path: Path) -> None:
    """``per_image.csv``: every score of every (image, method, caption) the loop made."""
    items = state["items"]
    tmp = Path(str(path) + ".tmp")
    with tmp.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["index", "key", "hole_ratio", "nvidia_bucket", "ratio_bin", "method",
                      "caption", *METRICS, "detail", "seam_outline", "seam_reference"])
        for (name, cond), col in state["scores"].items():
            for k, item in enumerate(items):
                nvidia, ratio = state["buckets"][k]
                out.writerow([item["index"], item["key"], f"{item['hole_ratio']:.6f}",
                              nvidia or "", ratio, name, cond,
                              *(f"{col.values[m][k]:.6g}" for m in (*METRICS, "detail",
                                                                     "seam", "seam_ref"))])
    os.replace(tmp, path)


def _accuracy_section(res: dict) -> list[str]:
    rows = []
    for name, r in res.items():
        acc = r.get("caption_accuracy")
        if not acc:
            continue
        mis = acc["mismatched"]
        rows.append([name, str(acc["true"]["n"]), _fmt(acc["true"]["color"], 3),
                     _fmt(acc["true"]["shape"], 3),
                     _fmt(mis["matches_ground_truth"]["color"], 3),
                     _fmt(mis["matches_given_caption"]["color"], 3),
                     _fmt(mis["matches_given_caption"]["shape"], 3)])
    if not rows:
        return []
    header = ["method", "targets", "colour (true caption)", "shape (true caption)",
              "mismatched: colour = truth", "mismatched: colour = given",
              "mismatched: shape = given"]
    return ["## Caption accuracy (shapes)", ""] + _table(header, rows) + [""]


def _bucket_section(res: dict, p: dict) -> list[str]:
    labels = _bucket_order(res)
    if not labels:
        return []
    lines = ["## By hole area", "", f"Buckets: {p['buckets']}.", ""]
    counts = next(iter(res.values()))["buckets"]
    header = ["method"] + [f"{b} (n={counts[b]['n']})" for b in labels]
    for metric, digits in (("psnr_hole", 2), ("l1_hole", 4)):
        rows = [[name] + [_fmt(r["buckets"][b][metric], digits) if b in r["buckets"] else "–"
                          for b in labels] for name, r in res.items()]
        lines += [f"{metric}:", ""] + _table(header, rows) + [""]
    return lines + ["![by hole area](by_hole_area.png)", ""]


def _bucket_order(res: dict) -> list[str]:
    return bucket_order(b for r in res.values() for b in r.get("buckets", {}))


# -- pictures ------------------------------------------------------------------------------

def _enlarge(img: np.ndarray) -> np.ndarray:
    scale = max(1, math.ceil(GRID_MIN_SIDE / img.shape[0]))
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1) if scale > 1 else img


def comparison_grid(grid: dict, columns: list[tuple[str, str]], captions: list[str]
                    ) -> Image.Image:
    """Rows = samples: masked input, the ``columns`` outputs ((name, condition)), truth."""
    rows = []
    for k in range(len(grid["truth"])):
        # The input is the ground truth with its hole painted over.
        cells = [overlay_mask(grid["truth"][k], grid["mask"][k], alpha=1.0)]
        cells += [grid["outputs"][col][k] for col in columns]
        cells.append(grid["truth"][k])
        rows.append([_enlarge(c) for c in cells])
    titles = ["input"] + [c if cond == "true" else f"{c} ({cond})" for c, cond in columns]
    return caption_grid(rows, captions, ncols=1, titles=titles + ["truth"])


def hole_area_plot(res: dict, path: Path, bucket_note: str) -> None:
    """Hole L1 and hole PSNR against the hole-area bucket, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = _bucket_order(res)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, metric, title in ((axes[0], "l1_hole", "hole L1 (lower is better)"),
                              (axes[1], "psnr_hole", "hole PSNR, dB (higher is better)")):
        for name, r in res.items():
            ys = [r["buckets"].get(b, {}).get(metric) for b in labels]
            ys = [np.nan if y is None else y for y in ys]
            ax.plot(range(len(labels)), ys, marker="o", label=name)
        ax.set_xticks(range(len(labels)), labels, rotation=30)
        ax.set_xlabel("hole area")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"by hole area ({bucket_note})", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: dict, state: dict, out_dir: Path, runners: dict) -> None:
    """Write metrics.json, report.md, per_image.csv, grid.png (+ grid_text.png) and
    by_hole_area.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "metrics.json", result)
    (out_dir / "report.md").write_text(markdown(result, state["seconds"]))
    write_per_image(state, out_dir / "per_image.csv")
    grid = state["grid"]
    if grid["truth"]:
        columns = [(name, "true") for name in runners]
        comparison_grid(grid, columns, grid["captions"]).save(out_dir / "grid.png")
        models = [name for name, r in runners.items() if not isinstance(r, Baseline)]
        if models:
            cols = [(m, c) for m in models for c in ("true", "mismatched", "empty")]
            caps = [f"true: {t}\nmismatched: {m}"
                    for t, m in zip(grid["captions"], grid["mismatched"])]
            comparison_grid(grid, cols, caps).save(out_dir / "grid_text.png")
    note = "NVIDIA buckets" if result["protocol"]["buckets"].startswith("NVIDIA") else \
        "10% hole-ratio bins"
    hole_area_plot(result["results"], out_dir / "by_hole_area.png", note)
    write_pictures(result, state, out_dir, runners)


__all__ = ["comparison_grid", "hole_area_plot", "markdown", "paired_section", "protocol",
           "write_json", "write_per_image", "write_report"]
