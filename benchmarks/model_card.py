"""Rebuild a shipped model's card with the evaluations that back its numbers.

    python benchmarks/model_card.py models/shapes-64 \
        "textinpaint evaluate --model models/shapes-64 --dataset shapes --masks object \
         --out eval/shapes-64-object" eval/shapes-64-object/report.md

Arguments after the folder come in pairs: the exact command, then the report.md it wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textinpaint.training.model_card import card_with_evaluations


def main(argv: list[str]) -> None:
    folder, rest = Path(argv[0]), argv[1:]
    if not rest or len(rest) % 2:
        raise SystemExit(__doc__)
    pairs = [(rest[i], Path(rest[i + 1])) for i in range(0, len(rest), 2)]
    (folder / "README.md").write_text(card_with_evaluations(folder, pairs))
    print(f"wrote {folder / 'README.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
