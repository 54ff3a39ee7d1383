"""The model folders shipped in ``models/``, found by name from any directory.

``--model birds-256`` and ``InpaintPipeline.from_pretrained("birds-128")`` look a bare name up
in the model search path, in this order:

1. every folder in ``$TEXTINPAINT_MODELS`` (``os.pathsep``-separated, like ``PATH``);
2. ``./models`` in the current directory;
3. ``models/`` of the source tree this package runs from (a clone, or ``pip install -e .``).

A regular (non-editable) ``pip install .`` copies only the code, not the 75 MB of weights, so
there the third entry does not exist: copy the ``models/`` folder anywhere and point
``TEXTINPAINT_MODELS`` at it; the error for a missing name says exactly that.

A value that is an existing folder is used as it is; ``models/NAME`` (as the README writes
it) also finds NAME on the search path, so commands copied from the README work from any
directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

ENV_VAR = "TEXTINPAINT_MODELS"
SOURCE_TREE = Path(__file__).resolve().parents[2]
# Only a source checkout has models/ two levels up (an installed package sits in
# site-packages, where that folder would be someone else's).
SOURCE_MODELS = SOURCE_TREE / "models" if (SOURCE_TREE / "pyproject.toml").is_file() else None
DEFAULT_MODEL = "birds-128"

# What each shipped model is for, in one line (``textinpaint models`` prints these).
SHIPPED = {
    "birds-128": "birds (CUB), 128 px windows: the default for inpaint and serve; the caption "
                 "decides the fill's colour; fast on a CPU",
    "birds-128-v1": "the previous birds-128: smooth fills that mostly ignore the caption; the "
                    "start of birds-128's recipe",
    "birds-128-image-only": "birds-128's training without the text branch: a baseline that "
                            "ignores every caption (the card's equal-budget comparison)",
    "birds-256": "birds (CUB), 256 px windows: more detail, about 3x birds-128's CPU time",
    "shapes-64": "synthetic shapes scenes, 64 px: the demo; shows the caption's colour word "
                 "decide the fill",
}


def search_path() -> list[Path]:
    """The folders a model name is looked up in, first match wins (see the module doc)."""
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    paths = [*extra, Path.cwd() / "models"] + ([SOURCE_MODELS] if SOURCE_MODELS else [])
    return list(dict.fromkeys(p.resolve() for p in paths))


def find_model(name: str) -> Path | None:
    """The first folder ``NAME`` on the search path that holds a ``config.json``, or None."""
    for root in search_path():
        candidate = root / name
        if (candidate / "config.json").is_file():
            return candidate
    return None


def _not_found(name: str) -> UserError:
    looked = ", ".join(str(p) for p in search_path())
    return UserError(
        f"model '{name}' not found: it is neither a folder nor a model name on the search path "
        f"({looked}); pass a model folder, or copy the repository's models/ folder somewhere and "
        f"set {ENV_VAR}=/that/models (a non-editable pip install does not include the weights)")


def resolve_model_dir(model: str | Path | None) -> Path:
    """The model folder ``model`` names: an existing folder, a shipped name, ``models/NAME``,
    or the default model (birds-128) when None. A clear error if none of them exists."""
    if not model:
        found = find_model(DEFAULT_MODEL)
        if found is None:
            raise UserError(f"no model given and the shipped model {DEFAULT_MODEL} was not "
                            f"found; pass --model DIR, or set {ENV_VAR} to the folder that "
                            f"holds {DEFAULT_MODEL}/ (looked in "
                            f"{', '.join(str(p) for p in search_path())})")
        return found
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    # A bare name, or models/NAME as the README writes it.
    name = path.name if path.parent in (Path("."), Path("models")) else None
    found = find_model(name) if name else None
    if found is None:
        if name is None:  # a path elsewhere: the loader's own error names what is missing
            return path
        raise _not_found(str(model))
    return found


def folder_size(folder: Path) -> int:
    """Bytes of the files directly in ``folder``."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def list_models() -> list[dict]:
    """Every model folder on the search path (first of each name), shipped ones first:
    ``{"name", "path", "bytes", "resolution", "about"}``."""
    import json

    seen: dict[str, dict] = {}
    for root in search_path():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            config = folder / "config.json"
            if folder.name in seen or not config.is_file():
                continue
            try:
                data = json.loads(config.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if not isinstance(data, dict) or data.get("format") != "textinpaint-model":
                continue
            seen[folder.name] = {
                "name": folder.name, "path": str(folder), "bytes": folder_size(folder),
                "resolution": data.get("resolution"),
                "about": SHIPPED.get(folder.name, str(data.get("dataset") or "your model"))}
    order = list(SHIPPED)
    return sorted(seen.values(), key=lambda m: (m["name"] not in SHIPPED,
                                                order.index(m["name"]) if m["name"] in SHIPPED
                                                else 0, m["name"]))
