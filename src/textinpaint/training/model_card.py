"""The model card (``README.md``) written into every exported model folder."""

from __future__ import annotations


def model_card(info: dict, evaluation: str | None = None) -> str:
    """Markdown card from a run summary (see ``InpaintTrainer.summary``).

    ``evaluation`` is an optional markdown block (the evaluation table and its protocol)
    appended under its own heading.
    """
    hours = info.get("wall_time_s", 0) / 3600
    lines = [
        f"# {info.get('name', 'textinpaint model')}",
        "",
        "A text-guided inpainting model trained by textinpaint's own code "
        "(`textinpaint train`). Load it with "
        "`InpaintPipeline.from_pretrained(\"<this folder>\")` or "
        "`textinpaint inpaint --model <this folder> ...`.",
        "",
        "| field | value |",
        "| --- | --- |",
        f"| preset | `{info.get('preset')}` |",
        f"| data | `{info.get('dataset')}`, split `{info.get('split', 'train')}` |",
        f"| resolution | {info.get('resolution')}×{info.get('resolution')} |",
        f"| steps | {info.get('steps')} |",
        f"| images seen | {info.get('images_seen')} |",
        f"| wall time | {info.get('wall_time_s')} s ({hours:.2f} h) |",
        f"| hardware | {info.get('hardware')}, {info.get('processes', 1)} process(es) |",
        f"| generator parameters | {info.get('parameters', 0):,} |",
        f"| DAMSM encoders | from `{info.get('damsm')}` |",
        "",
        "Only hole pixels are ever changed (white = hole in mask files).",
    ]
    if evaluation:
        lines += ["", "## Evaluation", "", evaluation.strip()]
    return "\n".join(lines) + "\n"
