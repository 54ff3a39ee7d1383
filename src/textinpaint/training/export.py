"""Export a model folder from a run's latest checkpoint, while it trains or after."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import from_dict
from ..errors import UserError
from ..model_folder import load_damsm, save_model
from ..nn.generator import InpaintGenerator, count_parameters
from .checkpoint import find_latest, list_checkpoints, load_checkpoint
from .inpaint_config import InpaintConfig
from .model_card import model_card


def export_run(run_dir: str | Path, out_dir: str | Path, half: bool = False,
               name: str | None = None, step: int | None = None,
               extra: dict | None = None) -> Path:
    """Write the EMA generator of ``run_dir``'s latest checkpoint as a model folder.

    Args:
        run_dir: a folder written by ``textinpaint train``.
        out_dir: where the model folder goes (may be ``run_dir`` itself).
        half: store the generator in fp16 (half the size; loads back as fp32).
        name: the model's name (default: ``out_dir``'s folder name).
        step: export this kept checkpoint instead of the latest.
        extra: more fields for ``config.json`` and the card (e.g. ``command``: how it was
            trained, shown under the card's "How it was trained").
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    path = find_latest(run_dir)
    if step is not None:
        kept = dict(list_checkpoints(run_dir))
        if step not in kept:
            raise UserError(f"'{run_dir}' keeps no checkpoint of step {step}; it keeps steps "
                            f"{', '.join(map(str, kept)) or 'none'}")
        path = kept[step]
    meta_path = run_dir / "train_config.json"
    if path is None or not meta_path.is_file():
        raise UserError(f"'{run_dir}' holds no training checkpoint; pass the --out folder of "
                        "a 'textinpaint train' run")
    meta = json.loads(meta_path.read_text())
    state = load_checkpoint(path)
    cfg = from_dict(InpaintConfig, state["config"])
    generator = InpaintGenerator(cfg.generator)
    generator.load_state_dict(state["ema"])
    damsm = load_damsm(meta["damsm"])
    info = {"name": name or out_dir.name, "preset": meta.get("preset"),
            "resolution": cfg.resolution, "dataset": meta.get("dataset"), "split": "train",
            "steps": int(state["step"]), "images_seen": int(state["images_seen"]),
            "wall_time_s": round(float(state["wall_time"]), 1),
            "hardware": meta.get("hardware", "unknown"), "processes": meta.get("processes", 1),
            "damsm": meta["damsm"], "parameters": count_parameters(generator),
            "train": state["config"]["train"], "loss": state["config"]["loss"],
            "discriminator": state["config"]["discriminator"], **(extra or {})}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(out_dir, generator.eval(), damsm, info, card=model_card(info), half=half)
    return out_dir
