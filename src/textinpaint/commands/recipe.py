"""``textinpaint train-recipe``: a model's whole training (DAMSM and phases) from one file."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train-recipe", help="run (or resume) a training recipe: DAMSM plus every phase",
        description="Train the DAMSM and each phase a recipe file lists (configs/recipes/), "
                    "each phase continuing the previous one's whole state, and export the "
                    "model folder into OUT. Run it again to resume: finished steps are "
                    "skipped.")
    p.add_argument("recipe", help="a recipe YAML file, or the name of one in configs/recipes/")
    p.add_argument("--out", required=True,
                   help="folder for the DAMSM and the phases; becomes the model folder")
    p.add_argument("--preset", help="train this preset instead of the recipe's (an ablation)")
    p.add_argument("--damsm", help="use this DAMSM (or model) folder; skips the DAMSM step")
    p.add_argument("--dataset", help="this dataset spec instead of the recipe's")
    p.add_argument("--time-scale", type=float, default=None,
                   help="multiply every until_minutes limit (0.5: the recipe in half the time)")
    p.add_argument("--at-phase", metavar="NAME",
                   help="begin at this phase, the ones before it skipped (with --start-from): "
                        "for a recipe whose earlier phases ran elsewhere")
    p.add_argument("--start-from", metavar="MODEL_OR_RUN",
                   help="what the phase before --at-phase ended in: its model folder (enough "
                        "for a fresh phase) or its run folder or checkpoint (whole state)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars: a log line per checkpoint (for log files)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides for every phase, after the recipe's own "
                        "(e.g. train.seed=1 for a second run of the same schedule)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..presets import preset_path
    from ..training.recipe import load_recipe, run_recipe, with_options

    recipe = with_options(load_recipe(preset_path("recipes", args.recipe)), args.preset,
                          args.damsm, args.dataset, args.time_scale, args.overrides,
                          args.at_phase, args.start_from)
    model = run_recipe(recipe, args.out, progress=not args.no_progress)
    print(f"model folder written to {model}")
    return 0
