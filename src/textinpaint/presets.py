"""Find the YAML presets under the repository's ``configs/`` folder."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "configs"


def available(kind: str) -> list[str]:
    """Preset names of one kind (``damsm``, ``inpaint``)."""
    return sorted(p.stem for p in (CONFIG_ROOT / kind).glob("*.yaml"))


def preset_path(kind: str, name: str) -> Path:
    """Path of ``configs/<kind>/<name>.yaml``; a file path is returned as is."""
    as_file = Path(name)
    if as_file.suffix in (".yaml", ".yml") and as_file.is_file():
        return as_file
    path = CONFIG_ROOT / kind / f"{name}.yaml"
    if not path.is_file():
        names = ", ".join(available(kind)) or "none found"
        raise UserError(f"unknown {kind} preset '{name}'; available: {names}")
    return path
