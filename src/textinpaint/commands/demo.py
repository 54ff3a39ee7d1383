"""``textinpaint demo``: the README's main job on the embedded example."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="inpaint an embedded example with two captions",
        description="Render a synthetic scene, hide its described object and fill the hole "
                    "twice with the shipped shapes model: with the scene's caption and with "
                    "its colour word changed. Writes PNGs and prints what each fill became.")
    p.add_argument("--model", help="a model name or folder (default: shapes-64)")
    p.add_argument("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    p.add_argument("--seed", type=int, default=3, help="which scene (default 3)")
    p.add_argument("--color", help="colour word for the second caption (default: one the "
                                    "caption does not use)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import SHIPPED_SHAPES_MODEL, run_demo
    from ..errors import UserError
    from ..shipped import find_model, resolve_model_dir

    if args.model:
        model = resolve_model_dir(args.model)
    else:
        model = SHIPPED_SHAPES_MODEL if SHIPPED_SHAPES_MODEL.is_dir() else find_model("shapes-64")
        if model is None:
            raise UserError("the shipped model models/shapes-64 is missing; pass --model DIR "
                            "(or set TEXTINPAINT_MODELS to the folder that holds shapes-64/)")
    print(json.dumps(run_demo(model, args.out, args.seed, other_color=args.color), indent=2))
    return 0
