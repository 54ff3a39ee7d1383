"""The part of the report a person reads first: control, detail, realism, explain.

* :func:`seen_section` — the markdown tables that lead ``report.md``.
* :func:`write_pictures` — ``control_<task>.png`` (per sample: masked input, one fill per
  palette caption for each model, ground truth) and ``by_hole_size.png`` (detail ratio and
  control accuracy per 10 % hole-area bin).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .baselines import Baseline
from .control_run import by_hole_ratio
from .metrics import bucket_order, ratio_bin


def _f(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def _ci(stat: dict | None, digits: int = 3) -> str:
    if stat is None:
        return "–"
    return f"{stat['mean']:.{digits}f} [{stat['lo']:.{digits}f}, {stat['hi']:.{digits}f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def seen_section(res: dict, protocol: dict) -> list[str]:
    """Control, detail/realism and explain tables (empty where nothing was measured)."""
    lines = ["## What a person sees", ""]
    rows = []
    for name, r in res.items():
        for c in r.get("control", {}).values():
            rows.append([name, c["hole"], str(c["n"]), _ci(c["accuracy"]),
                         _f(c["chance"], 2), _ci(c["caption_effect"], 2),
                         " ".join(f"{col} {_f(s['mean'], 2) if s else '–'}"
                                  for col, s in c["per_colour"].items())])
    if rows:
        lines += ["**Caption control.** Holes that hide what the caption describes, filled "
                  "once per palette caption. Control accuracy: how often the fill made for a "
                  "colour is, among the image's fills, the one furthest towards it (CIELab "
                  "a\\*b\\*); chance is 1/K, and a method that ignores the caption scores "
                  "exactly chance. Caption effect: mean ΔE between fills of different "
                  "captions (0 = the caption changes nothing). 95 % bootstrap intervals over "
                  "images.", ""]
        lines += _table(["method", "task (hole)", "images", "control ↑", "chance",
                         "caption effect ΔE", "per colour"], rows) + [""]
    rows = []
    for name, r in res.items():
        d, real, seam = r.get("detail"), r.get("realism") or {}, r.get("seam")
        kid = real.get("kid")
        rows.append([name, _f(d["median"], 3) if d else "–",
                     f"{_f(d['q25'], 2)}–{_f(d['q75'], 2)}" if d else "–",
                     _f(d["in_0.6_1.2"], 2) if d else "–",
                     _f(seam and seam["contrast"], 2), _f(seam and seam["photo"], 2),
                     _ci({"mean": kid["kid"], "lo": kid["lo"], "hi": kid["hi"]}, 4)
                     if kid else "–", _f(real.get("fid"), 2),
                     str(kid["n"]) if kid else "–"])
    lines += ["**Detail and realism** (the evaluation's own holes, true caption). Detail "
              "ratio: mean \\|Laplacian\\| of the fill's luminance in the eroded hole over "
              "the photo's (1.0 = as detailed as the photo; blur → 0; noise alone would "
              "raise it, hence realism beside it). Seam contrast: the colour step across "
              "the hole's outline over the step across lines a few pixels inside and "
              "outside it (the photo's is about 1.0; above = a visible seam). KID/FID: hole "
              "crops of the output "
              "against the same crops of the photos, in the feature space of the frozen "
              "evaluation encoder (" + str(protocol.get("realism", "not run")) + ").", ""]
    lines += _table(["method", "detail median ↑1", "detail IQR", "share in 0.6–1.2",
                     "seam contrast ↓", "photo's", "KID ↓ [95 % CI]", "FID ↓", "crops"],
                    rows) + [""]
    rows = []
    for name, r in res.items():
        for kind, c in r.get("control", {}).items():
            e = c.get("explain")
            if e:
                rows.append([name, kind, _f(e["spread"]), _f(e["saturated"], 2),
                             f"{_f(e['top2'], 2)} (chance {_f(e['top2_chance'], 2)})",
                             _f(e["focus_colour"], 2), _f(e["focus_words"], 2)])
    if rows:
        lines += ["**Explain diagnostics** (palette captions). Word-weight spread: max − min "
                  "word-demand weight of a caption; saturated: share of captions whose "
                  "weights span < 0.01 (all ≈ 0 or all ≈ 1); colour word in top 2: ties "
                  "broken at random, so saturated weights score chance. Attention focus: "
                  "share of a word's attention map inside the hole over the hole's area "
                  "(1 = uniform map).", ""]
        lines += _table(["model", "task", "weight spread", "saturated",
                         "colour word in top 2", "focus: colour word", "focus: all words"],
                        rows) + [""]
    pictures = [f"![control {kind}](control_{kind}.png)"
                for kind in next((r["control"] for r in res.values() if r.get("control")), {})]
    lines += pictures + ["![by hole size](by_hole_size.png)", ""]
    return lines


def write_pictures(result: dict, state: dict, out_dir: Path, runners: dict) -> None:
    """``control_<task>.png`` per control task and ``by_hole_size.png``."""
    from .report import comparison_grid

    models = [n for n, r in runners.items() if not isinstance(r, Baseline)]
    for task in state.get("control", []):
        grid = task.grid
        if not grid["truth"] or not models:
            continue
        columns = [(m, colour) for m in models for colour in task.task.palette]
        comparison_grid(grid, columns, grid["captions"]).save(
            out_dir / f"control_{task.task.kind}.png")
    hole_size_plot(result, state, out_dir / "by_hole_size.png")
    if state.get("control"):
        write_control_csv(state["control"], list(runners), out_dir / "control_per_image.csv")


def write_control_csv(tasks: list, names: list[str], path: Path) -> None:
    """``control_per_image.csv``: per (task, image, method) the credit of each palette colour,
    the caption effect and the palette fills' detail ratio."""
    import csv
    import os

    tmp = Path(str(path) + ".tmp")
    with tmp.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["task", "index", "hole_ratio", "method", "palette", "credits",
                      "caption_effect", "detail"])
        for task in tasks:
            palette = "/".join(task.task.palette)
            for name in names:
                for k, i in enumerate(task.index):
                    credits = "/".join(f"{c:.4g}" for c in task.hits[name][k])
                    out.writerow([task.task.kind, i, f"{task.hole_ratio[k]:.6f}", name, palette,
                                  credits, f"{task.effect[name][k]:.6g}",
                                  f"{task.detail[name][k]:.6g}"])
    os.replace(tmp, path)


def hole_size_plot(result: dict, state: dict, path: Path) -> None:
    """Detail ratio (median, main holes) and control accuracy (control tasks) per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ratios = [item["hole_ratio"] for item in state["items"]]
    labels = np.asarray([ratio_bin(r) for r in ratios])
    bins = bucket_order(labels.tolist())
    for name in result["results"]:
        values = np.asarray(state["scores"][(name, "true")].values["detail"], dtype=float)
        ys = [np.nanmedian(values[labels == b]) if np.any(~np.isnan(values[labels == b]))
              else np.nan for b in bins]
        axes[0].plot(range(len(bins)), ys, marker="o", label=name)
    axes[0].axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[0].set_xticks(range(len(bins)), bins, rotation=30)
    axes[0].set_title("detail ratio, median (photo = 1)")
    axes[0].set_xlabel(f"hole area ({result['masks']})")
    for task in state.get("control", []):
        per = {name: by_hole_ratio(task, name) for name in result["results"]}
        tbins = bucket_order(b for p in per.values() for b in p)
        for name, p in per.items():
            axes[1].plot(range(len(tbins)), [p.get(b, {}).get("accuracy", np.nan)
                                             for b in tbins],
                         marker="o", label=f"{name} ({task.task.kind})")
        axes[1].set_xticks(range(len(tbins)), tbins, rotation=30)
        axes[1].axhline(1 / len(task.task.palette), color="grey", lw=0.8, ls="--")
    axes[1].set_title("control accuracy (chance dashed)")
    axes[1].set_xlabel("hole area (control holes)")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
