"""``textinpaint models``: the model folders a name finds, with sizes and what each is for."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the ``models`` sub-command."""
    p = sub.add_parser(
        "models", help="list the models --model NAME finds (name, size, what each is for)",
        description="List every model folder on the search path: $TEXTINPAINT_MODELS, "
                    "./models, then the source tree's models/. Pass a NAME to --model or to "
                    "InpaintPipeline.from_pretrained(NAME).")
    p.add_argument("--paths", action="store_true", help="also print each folder's path")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print one line per model; exit 1 (with where to look) when there is none."""
    import sys

    from ..shipped import ENV_VAR, list_models, search_path

    models = list_models()
    if not models:
        print(f"no models found in {', '.join(str(p) for p in search_path())}; copy the "
              f"repository's models/ folder somewhere and set {ENV_VAR} to it", file=sys.stderr)
        return 1
    width = max(len(m["name"]) for m in models)
    for m in models:
        side = f"{m['resolution']} px" if m["resolution"] else "? px"
        line = f"{m['name']:<{width}}  {m['bytes'] / 1e6:5.1f} MB  {side:>6}  {m['about']}"
        print(line + (f"\n{'':<{width}}  {m['path']}" if args.paths else ""))
    return 0
