"""Quality benchmark: MMFL vs our full model vs the image-only ablation on CUB, one table.

The documented sequence, run step by step as subprocesses (each command is printed first, so
the log is the recipe)::

    textinpaint train-damsm --dataset cub:CUB --out OUT/damsm --resolution 128      (no --damsm)
    textinpaint train --dataset cub:CUB --preset PRESET --damsm DAMSM --out OUT/PRESET \
        --resolution 128 --max-steps N [train.batch_size=B]           (each preset, no --models)
    textinpaint evaluate --model OUT/mmfl --model OUT/full --model OUT/image-only \
        --dataset cub:CUB --split test --masks center --out OUT/eval-center
    textinpaint evaluate ... --masks irregular:MASKS --out OUT/eval-irregular

then writes ``OUT/quality.md``: first what a person sees (caption control on bird-box and
head holes, caption effect, detail ratio, KID of hole crops in the evaluation encoder, from
the centre run, which also runs evaluate's control passes), then every method (the three
models and the telea/ns/mean baselines) under both mask protocols, with R-precision and the
text gain of the two text models, a per-bucket table for the irregular masks, full's paired
differences from every other method with 95 % bootstrap intervals over the test images
(overall and per bucket; an interval holding 0 is a tie the test set cannot resolve), and
each model's budget (images seen and training time, read from its ``config.json``). Equal
budget: the same number of steps and the same batch size for every preset, or with
``--minutes M`` the same training time (``train.max_minutes``): MMFL's big U-Nets see fewer
images in it.

MMFL's 8-level U-Nets need multiples of 256 px; at 128 px it trains with 7 levels in both
stages (``generator.num_levels=7 generator.refine_num_levels=7``): the same network minus its
1×1 bottom level, every other level unchanged.

    python benchmarks/quality.py --out runs/quality --max-steps 2000
    python benchmarks/quality.py --out runs/quality --minutes 60
    python benchmarks/quality.py --out runs/quality --recipe cub-128-equal-time [--time-scale 0.33]
    python benchmarks/quality.py ... --train-seed 1  # the same comparison, other training seeds
    textinpaint compare-runs OUT0/eval-irregular OUT1/eval-irregular ... --this full
        --other image-only          # then pool the seeds' evaluations (one command)
    python benchmarks/quality.py --out runs/quality --models mmfl=DIR,full=DIR,image-only=DIR
    python benchmarks/quality.py ... --dry-run     # the commands; run the evaluations side by
    python benchmarks/quality.py ... --reuse       # side by hand, then write the table
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's textinpaint (imported lazily: --help)
DATA = Path(os.environ.get("TEXTINPAINT_DATA", ROOT.parent / "shared" / "data"))
PRESETS = ("mmfl", "full", "image-only")
PROTOCOLS = {"center": "center (MMFL: centre square, 129/256 of the side)",
             "irregular": "NVIDIA irregular masks, six hole-area buckets"}


def textinpaint() -> list[str]:
    """The CLI of this checkout, run with the current interpreter."""
    return [sys.executable, "-m", "textinpaint.cli"]


def run(cmd: list[str], dry_run: bool) -> float:
    """Print and run a command; returns its wall time in seconds."""
    print("$ " + shlex.join(cmd), flush=True)
    if dry_run:
        return 0.0
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    if proc.returncode:
        sys.exit(f"command failed with exit status {proc.returncode}: {shlex.join(cmd)}")
    return time.perf_counter() - start


def model_folder(run_dir: Path) -> Path:
    """The model folder a training run exported (the run folder itself, or its model/)."""
    for folder in (run_dir, run_dir / "model"):
        cfg = folder / "config.json"
        if cfg.is_file() and json.loads(cfg.read_text()).get("format") == "textinpaint-model":
            return folder
    return run_dir


def level_overrides(preset: str, resolution: int) -> list[str]:
    """Config overrides that let a preset's generator take ``resolution`` (see module doc)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed import generator_config

    _, changes = generator_config(preset, resolution)
    return [f"generator.{k}={v}" for k, v in changes.items()]


def seed_override(args) -> list[str]:
    """``train.seed=N`` for ``--train-seed N`` (nothing without it: the presets' own seed)."""
    return [] if args.train_seed is None else [f"train.seed={args.train_seed}"]


def train_recipes(args, cub: str) -> tuple[dict[str, Path], dict[str, float]]:
    """Each preset through ``args.recipe`` (its preset swapped). Without ``--damsm`` the first
    preset's run trains the recipe's DAMSM and the others reuse it: one DAMSM for all."""
    damsm, models, seconds = args.damsm, {}, {}
    for preset in args.presets:
        out = args.out / preset
        cmd = textinpaint() + ["train-recipe", args.recipe, "--preset", preset, "--out",
                               str(out), "--dataset", cub, "--time-scale",
                               str(args.time_scale), "--no-progress"]
        if damsm is not None:
            cmd += ["--damsm", str(damsm)]
        cmd += seed_override(args)
        seconds[preset] = run(cmd, args.dry_run)
        models[preset] = out
        damsm = damsm or out / "damsm"
    return models, seconds


def train_all(args) -> tuple[dict[str, Path], dict[str, float]]:
    """Train the DAMSM (unless given) and the presets with the same budget."""
    cub = f"cub:{args.cub}"
    if args.recipe:
        return train_recipes(args, cub)
    damsm = args.damsm
    if damsm is None:
        damsm = args.out / "damsm"
        cmd = textinpaint() + ["train-damsm", "--dataset", cub, "--out", str(damsm),
                               "--resolution", str(args.resolution), "--no-progress"]
        if args.damsm_steps:
            cmd += ["--max-steps", str(args.damsm_steps)]
        run(cmd, args.dry_run)
    models, seconds = {}, {}
    for preset in args.presets:
        out = args.out / preset
        cmd = textinpaint() + ["train", "--dataset", cub, "--preset", preset, "--damsm",
                               str(damsm), "--out", str(out), "--resolution",
                               str(args.resolution), f"train.batch_size={args.batch_size}"]
        if args.max_steps:
            cmd += ["--max-steps", str(args.max_steps)]
        if args.minutes:
            cmd += [f"train.max_minutes={args.minutes}"]
        cmd += level_overrides(preset, args.resolution) + seed_override(args)
        seconds[preset] = run(cmd, args.dry_run)
        models[preset] = model_folder(out)
    return models, seconds


def evaluate_all(args, models: dict[str, Path]) -> dict[str, Path]:
    """``textinpaint evaluate`` under both mask protocols; returns their output folders."""
    outs = {}
    masks = {"center": "center", "irregular": f"irregular:{args.masks}"}
    for name, spec in masks.items():
        out = args.out / f"eval-{name}"
        cmd = textinpaint() + ["evaluate", "--dataset", f"cub:{args.cub}", "--split", "test",
                               "--masks", spec, "--out", str(out), "--resolution",
                               str(args.resolution), "--seed", str(args.seed), "--no-progress"]
        for folder in models.values():
            cmd += ["--model", str(folder)]
        if name == "irregular":  # the caption-control passes run once, with the centre run
            cmd += ["--control", "none"]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        if args.eval_damsm:
            cmd += ["--damsm", str(args.eval_damsm)]
        outs[name] = out
        if args.reuse and (out / "metrics.json").is_file():
            print(f"reusing {out / 'metrics.json'} (--reuse)", flush=True)
            continue
        run(cmd, args.dry_run)
    return outs


def _f(x, digits=4) -> str:
    return "–" if x is None else f"{round(x, digits) + 0.0:.{digits}f}"  # no "-0.000"


def budget_lines(models: dict[str, Path]) -> list[str]:
    """Each model's training budget as its model folder records it."""
    lines = []
    for name, folder in models.items():
        info = json.loads((folder / "config.json").read_text())
        if "images_seen" in info:
            lines.append(f"- {name}: {info['images_seen']:,} images seen, "
                         f"{info.get('wall_time_s', 0) / 60:.1f} min of training "
                         f"({info.get('hardware', '?')})")
    return lines


def bucket_tables(data: dict) -> list[str]:
    """Hole L1 / hole PSNR of every method per hole-area bucket (where the protocol has them)."""
    first = next(iter(data["results"].values()))
    buckets = first.get("buckets") or {}
    if len(buckets) < 2:  # the centre hole is one bucket: the main table says it all
        return []
    head = [f"{b} (n={v['n']})" for b, v in buckets.items()]
    lines = ["| method | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for name, r in data["results"].items():
        cells = [f"{_f(v['l1_hole'])} / {_f(v['psnr_hole'], 2)}" for v in r["buckets"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return ["", f"Hole L1 ↓ / hole PSNR ↑ per hole-area bucket, `{data['masks']}`:", ""] + lines


def paired_lines(proto: str, data: dict, focus: str | None) -> list[str]:
    """The paired differences (with intervals) of the model named ``focus`` (else of every
    model) from every other method under one protocol, from its metrics.json."""
    from textinpaint.evaluation.report import paired_section

    res = data["results"]
    section = paired_section(res, only=focus if focus in res else None)
    if not section:
        return []
    return ["", f"## Paired differences, {PROTOCOLS[proto]}"] + section[1:]


def seen_table(data: dict) -> list[str]:
    """Control (box, head), caption effect, detail and KID of every method: what leads."""
    head = ["method", "control, box holes ↑", "control, head holes ↑", "caption effect ΔE",
            "detail median (photo 1.0)", "KID ↓ (eval encoder)"]
    rows = []
    for name, r in data["results"].items():
        ctl = r.get("control", {})
        kid = (r.get("realism") or {}).get("kid")
        rows.append([name] + [_f(ctl[k]["accuracy"]["mean"], 3) if k in ctl else "–"
                              for k in ("box", "head")]
                    + [_f(ctl["box"]["caption_effect"]["mean"], 2) if "box" in ctl else "–",
                       _f((r.get("detail") or {}).get("median"), 3),
                       _f(kid["kid"]) if kid else "–"])
    return ["What a person sees (centre-protocol run; chance control = 0.25):", "",
            "| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
        ["| " + " | ".join(r) + " |" for r in rows] + [""]


def write_table(outs: dict[str, Path], seconds: dict[str, float], path: Path,
                models: dict[str, Path] | None = None) -> str:
    """One markdown table of every method under every protocol, plus text gains, the
    irregular masks' buckets, the paired differences of ``full`` and each model's budget."""
    lines = ["# Quality on CUB (test split)", ""]
    head = ["protocol", "method", "L1 hole ↓", "PSNR hole ↑", "SSIM hole ↑", "PSNR ↑",
            "SSIM ↑", "R-prec ↑", "Δ PSNR hole (vs mismatched)", "Δ R-prec (vs mismatched)"]
    rows = []
    settings = []
    buckets, paired = [], []
    # evaluate names a model by its folder: full's folder name is its row
    focus = models["full"].name if models and "full" in models else None
    for proto, out in outs.items():
        data = json.loads((out / "metrics.json").read_text())
        buckets += bucket_tables(data)
        paired += paired_lines(proto, data, focus)
        settings.append(f"- {PROTOCOLS[proto]}: n = {data['n']}, {data['resolution']} px, "
                        f"seed {data['seed']}, masks `{data['masks']}`; details in "
                        f"`{out / 'report.md'}`")
        for name, r in data["results"].items():
            gain = r.get("text_gain", {}).get("mismatched", {})
            rows.append([proto, name, _f(r["l1_hole"]), _f(r["psnr_hole"], 2),
                         _f(r["ssim_hole"]), _f(r["psnr"], 2), _f(r["ssim"]),
                         _f(r.get("r_precision"), 3), _f(gain.get("psnr_hole"), 3),
                         _f(gain.get("r_precision"), 3)])
    lines += settings + [""]
    if "center" in outs:
        lines += seen_table(json.loads((outs["center"] / "metrics.json").read_text()))
    lines += ["Pixel metrics (they reward blur as much as a right fill):", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += buckets + paired
    if models:
        lines += ["", "Budgets:"] + budget_lines(models)
    if any(seconds.values()):
        lines += ["", "Wall time of each training command: " + ", ".join(
            f"{k} {v / 60:.1f} min" for k, v in seconds.items())]
    lines += ["", "Metric definitions and the R-precision judge: see each report's Protocol."]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def parse_models(spec: str) -> dict[str, Path]:
    """``mmfl=DIR,full=DIR,...`` (or bare DIRs, named by folder) -> {name: folder}."""
    out = {}
    for item in spec.split(","):
        name, sep, folder = item.partition("=")
        if not sep:
            name, folder = Path(item).name, item
        out[name.strip()] = Path(folder.strip())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for runs and reports")
    p.add_argument("--cub", type=Path, default=DATA / "cub", help="CUB folder")
    p.add_argument("--masks", type=Path, default=DATA / "masks" / "nvidia_irregular_test",
                   help="NVIDIA irregular test masks folder")
    p.add_argument("--models", default=None,
                   help="evaluate these model folders instead of training: mmfl=DIR,full=DIR,...")
    p.add_argument("--damsm", type=Path, default=None,
                   help="DAMSM folder for training (default: train one into OUT/damsm; "
                        "with --recipe, the first preset's recipe trains it)")
    p.add_argument("--damsm-steps", type=int, default=None, help="DAMSM training steps")
    p.add_argument("--eval-damsm", type=Path, default=None,
                   help="one DAMSM to judge R-precision of all models (default: their own)")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--max-steps", type=int, default=None,
                   help="training steps per preset (default 2000 unless --minutes is given)")
    p.add_argument("--minutes", type=float, default=None,
                   help="equal training time instead: train.max_minutes for every preset")
    p.add_argument("--batch-size", type=int, default=8, help="training batch, every preset")
    p.add_argument("--recipe", default=None,
                   help="train each preset through this recipe (configs/recipes/NAME.yaml, "
                        "e.g. cub-128-equal-time) instead of one --max-steps/--minutes run")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="with --recipe: multiply its until_minutes limits")
    p.add_argument("--presets", default=",".join(PRESETS),
                   help="the presets to train, comma-separated (default: all three)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N test images")
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (masks, captions)")
    p.add_argument("--train-seed", type=int, default=None,
                   help="train.seed of every training run: another value repeats the "
                        "comparison with other initial weights and batch order")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.add_argument("--reuse", action="store_true",
                   help="keep evaluations already written under --out (an interrupted or "
                        "hand-run protocol is not evaluated again)")
    args = p.parse_args(argv)
    args.presets = [x.strip() for x in args.presets.split(",") if x.strip()]
    if args.max_steps is None and args.minutes is None:
        args.max_steps = 2000
    args.out.mkdir(parents=True, exist_ok=True)
    if args.models:
        models, seconds = parse_models(args.models), {}
    else:
        models, seconds = train_all(args)
    outs = evaluate_all(args, models)
    if not args.dry_run:
        print(write_table(outs, seconds, args.out / "quality.md", models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
