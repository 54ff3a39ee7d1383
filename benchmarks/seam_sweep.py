"""What the seam correction does to a model's fills, per setting, in one evaluation.

Each setting of :class:`textinpaint.seam.SeamConfig` is the same weights scored as its own
method on the same images and holes (CUB test split, centre holes by default), with the
evaluation's control tasks and realism; prints one row per setting: control on bird boxes
and heads, seam contrast (the photo's ≈ 1.0), KID, FID, hole PSNR. The full report goes to
``--out`` (its rows are named by the model folder, +seam, +seam-2, ... in the order of
``SETTINGS``).

    python benchmarks/seam_sweep.py --model models/birds-128 --data ../shared/data/cub \
        --sample 272 --out runs/eval/seam-sweep
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from textinpaint.evaluation.control import auto_kinds, build_tasks
from textinpaint.evaluation.encoder import load_encoder
from textinpaint.evaluation.runner import evaluate
from textinpaint.model_folder import load_model
from textinpaint.seam import SeamConfig

# name -> setting (None = the plain fill)
SETTINGS = {
    "plain": None,
    "brightness-only": SeamConfig(colour_reach=None),
    "colour-2px (default)": SeamConfig(),
    "colour-4px": SeamConfig(colour_reach=4.0),
    "colour-4px-jump-0.1": SeamConfig(colour_reach=4.0, max_jump=0.1),
    "colour-16px": SeamConfig(colour_reach=16.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/birds-128")
    parser.add_argument("--data", default="../shared/data/cub", help="the CUB folder")
    parser.add_argument("--masks", default="center")
    parser.add_argument("--sample", type=int, default=272)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/eval/seam-sweep")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_model(args.model)
    # a distinct name per setting: the report's rows
    models = [dataclasses.replace(base, seam=cfg, config={**base.config, "name": name})
              for name, cfg in SETTINGS.items()]
    spec = f"cub:{args.data}"
    result = evaluate(models, spec, split="test", masks=args.masks, out_dir=args.out,
                      resolution=base.resolution, sample=args.sample, batch_size=8,
                      control_tasks=build_tasks(auto_kinds(spec)), eval_encoder=load_encoder(),
                      progress=False)
    print(f"{args.model}, {result['n']} CUB test images, {args.masks} holes, "
          f"{base.resolution} px; report in {args.out}/report.md\n")
    print("| setting | control box | control head | seam contrast (photo) | KID [95 %] | FID "
          "| hole PSNR |")
    print("|---|---|---|---|---|---|---|")
    for r, name in zip(result["results"].values(), SETTINGS):
        control, seam, kid = r.get("control", {}), r.get("seam") or {}, r["realism"]["kid"]
        box, head = (control.get(k, {}).get("accuracy") or {} for k in ("box", "head"))
        print(f"| {name} | {_f(box.get('mean'), 3)} | {_f(head.get('mean'), 3)} | "
              f"{_f(seam.get('contrast'), 2)} ({_f(seam.get('photo'), 2)}) | "
              f"{_f(kid['kid'], 4)} [{_f(kid['lo'], 3)}, {_f(kid['hi'], 3)}] | "
              f"{_f(r['realism']['fid'], 2)} | {_f(r['psnr_hole'], 2)} |")


def _f(x, digits: int) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


if __name__ == "__main__":
    main()
