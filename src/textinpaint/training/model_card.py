"""The model card (``README.md``) written into every exported model folder."""

from __future__ import annotations

import json
from pathlib import Path


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
        f"| training masks | `{info.get('train', {}).get('masks', 'mix')}` |",
        f"| DAMSM encoders | from `{info.get('damsm')}` (included here) |",
        "",
        "Only hole pixels are ever changed (white = hole in mask files).",
    ]
    if info.get("command"):
        lines += ["", "## How it was trained", "", info["command"].strip()]
    if evaluation:
        lines += ["", "## Evaluation", "", evaluation.strip()]
    return "\n".join(lines) + "\n"


def card_with_evaluations(folder: Path, reports: list[tuple[str, Path]]) -> str:
    """The card of model ``folder`` rebuilt with evaluation reports appended.

    ``reports``: (command that produced it, path of its ``report.md``) pairs; each report's
    tables go under the command, so anyone can rerun it and compare.
    """
    info = json.loads((Path(folder) / "config.json").read_text())
    blocks = []
    for command, report in reports:
        body = Path(report).read_text().split("\n", 1)[1]  # drop the report's own title
        body = body.split("\n![", 1)[0]  # tables only; the pictures stay beside report.md
        body = body.replace("\n## ", "\n#### ")  # the report's sections sit under this one
        blocks.append(f"```bash\n{command}\n```\n{body.strip()}\n")
    return model_card(info, "\n".join(blocks))
