"""``textinpaint evaluate``: score models and baselines on one evaluation set, write a report."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    """Register ``evaluate``."""
    p = subparsers.add_parser(
        "evaluate", help="metrics, baselines, text gain, paired differences with intervals "
                         "and a report (metrics.json, report.md, per_image.csv, grid.png, "
                         "by_hole_area.png)")
    p.add_argument("--model", action="append", default=[], type=Path, metavar="MODEL_DIR",
                   help="an inpainting model folder (repeatable; none = baselines only)")
    p.add_argument("--dataset", required=True,
                   help="shapes, cub:PATH, flowers:PATH, celeba:PATH or folder:PATH")
    p.add_argument("--split", default="test", help="split to evaluate (default test)")
    p.add_argument("--masks", default="center",
                   help="mask spec: center, freeform:thick, irregular:FOLDER[:BUCKET], object...")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--baselines", default=None,
                   help="comma list of telea, ns, mean, pyramid, or none (default telea,ns,mean)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N images only")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="evaluate N images spread evenly over the split (every class of a "
                        "class-sorted split, at a fraction of the cost)")
    p.add_argument("--seed", type=int, default=0, help="fixes masks and caption choices")
    p.add_argument("--resolution", type=int, default=None,
                   help="image side in px (default: the models' resolution, else 128)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--damsm", type=Path, default=None,
                   help="DAMSM folder that judges R-precision (default: each model's own)")
    p.add_argument("--fid-weights", type=Path, default=None,
                   help="local Inception-v3 weights file for FID/KID (never downloaded)")
    p.add_argument("--control", default="auto",
                   help="caption-control tasks: comma list of box (central 70%% of the CUB "
                        "bird box), head (CUB head parts), object (shapes target), or auto "
                        "(cub: box,head; shapes: object; else none) or none")
    p.add_argument("--palette", default=None,
                   help="control palette: colour names or name=#rrggbb, comma separated "
                        "(default red,yellow,blue,green)")
    p.add_argument("--template", action="append", default=[], metavar="TASK=TEXT",
                   help="control caption of a task with {colour} in it, e.g. "
                        "'head=this bird has a {colour} crown' (repeatable)")
    p.add_argument("--eval-encoder", default=None, metavar="DIR",
                   help="evaluation-encoder folder for KID/FID of hole crops (default: the "
                        "shipped models/eval-encoder; 'none' skips realism)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (models only)")
    p.add_argument("--flip-ensemble", choices=("off", "on", "both"), default="off",
                   help="fill each image and its mirror image and average the two fills "
                        "(on), or score every model both ways, NAME and NAME+flip (both)")
    p.add_argument("--seam", choices=("model", "off", "on", "both"), default="model",
                   help="close the colour step along the hole's border with a smooth offset "
                        "(on), or score every model both ways, NAME and NAME+seam (both); "
                        "default: as each model folder says (what its users get)")
    p.add_argument("--guidance-scale", default="1", metavar="S[,S...]",
                   help="how much the caption counts (1 = as trained, 0 = no caption, up to "
                        "4); a comma list scores every model at each, NAME+guideS")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is much faster "
                        "on a machine whose cores other processes keep busy)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _device(name: str) -> str:
    from ..devices import check_device

    return str(check_device(name))


def _control_tasks(args) -> list:
    """The control tasks of ``--control``, ``--palette`` and ``--template``."""
    from ..evaluation.control import auto_kinds, build_tasks

    spec = args.control.strip().lower()
    kinds = auto_kinds(args.dataset) if spec == "auto" else [] if spec == "none" else [
        k.strip() for k in spec.split(",") if k.strip()]
    templates = {}
    for item in args.template:
        kind, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise UserError(f"--template '{item}': write TASK=TEXT, e.g. "
                            "'head=this bird has a {colour} crown'")
        templates[kind.strip().lower()] = text.strip()
    return build_tasks(kinds, args.palette, templates)


def _guidance_scales(text: str) -> list[float]:
    """``--guidance-scale``'s comma list as distinct scales, in the order given."""
    from ..model_folder import check_guidance_scale

    scales = [check_guidance_scale(part.strip(), "--guidance-scale")
              for part in text.split(",")]
    return list(dict.fromkeys(scales))


def run(args) -> int:
    """Load the models, evaluate, print where the report went."""
    from ..evaluation.baselines import parse_baselines
    from ..evaluation.runner import evaluate

    baselines = parse_baselines(args.baselines)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    device = _device(args.device)
    from ..outputs import ensure_writable_dir

    ensure_writable_dir(args.out, "--out folder")  # before any work: the report goes there
    models = []
    if args.model:  # imported only when needed: baselines alone need no network code
        from ..model_folder import load_model
        from ..seam import SeamConfig

        seam = {"model": None, "on": True}.get(args.seam, False)
        models = [load_model(folder, device, args.flip_ensemble == "on", seam)
                  for folder in args.model]
        if args.flip_ensemble == "both":  # the same weights, scored a second time mirrored too
            models += [dataclasses.replace(m, flip_ensemble=True) for m in models]
        if args.seam == "both":  # and once more each with the seam corrected
            models += [dataclasses.replace(m, seam=SeamConfig()) for m in models]
        scales = _guidance_scales(args.guidance_scale)
        models = [dataclasses.replace(m, guidance_scale=g) for g in scales for m in models]
    if not models and not baselines:
        raise UserError("nothing to evaluate: give --model MODEL_DIR or --baselines")
    resolutions = sorted({m.resolution for m in models})
    if args.resolution is None:
        if len(resolutions) > 1:
            raise UserError(f"the models were trained at different resolutions {resolutions};"
                            " evaluate them separately or pass --resolution")
        args.resolution = resolutions[0] if resolutions else 128
    if args.resolution < 16:
        raise UserError(f"--resolution must be at least 16, got {args.resolution}")
    tasks = _control_tasks(args)
    encoder = None
    if args.eval_encoder is None or str(args.eval_encoder).lower() != "none":
        from ..evaluation.encoder import load_encoder, shipped_folder

        if args.eval_encoder is not None or (shipped_folder() / "config.json").is_file():
            encoder = load_encoder(args.eval_encoder)
        else:
            log.warning("no evaluation encoder at %s: realism (KID/FID of hole crops) is "
                        "skipped; pass --eval-encoder DIR", shipped_folder())
    damsm = None
    if args.damsm:
        from ..model_folder import load_damsm

        damsm = load_damsm(args.damsm, device)
    result = evaluate(
        baselines + models, args.dataset, split=args.split, masks=args.masks, out_dir=args.out,
        resolution=args.resolution, limit=args.limit, sample=args.sample, seed=args.seed,
        batch_size=args.batch_size, damsm=damsm,
        damsm_label=str(args.damsm) if args.damsm else None, fid_weights=args.fid_weights,
        control_tasks=tasks, eval_encoder=encoder,
        progress=not args.no_progress)
    print(f"evaluated {len(result['results'])} methods on {result['n']} images; "
          f"report in {args.out / 'report.md'}")
    return 0
