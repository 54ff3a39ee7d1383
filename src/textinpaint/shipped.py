"""Where the model shipped with the repository lives, for commands run without ``--model``."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / "birds-128"


def resolve_model_dir(model: str | Path | None) -> Path:
    """``model`` as a path, or the shipped model when it is None (a clear error if absent)."""
    if model:
        return Path(model).expanduser()
    if not SHIPPED_MODEL.is_dir():
        raise UserError("no model given and the shipped model models/birds-128 is missing; "
                        "pass --model DIR")
    return SHIPPED_MODEL
