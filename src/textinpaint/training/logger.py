"""Training scalars to ``metrics.jsonl`` (one JSON object per line) and TensorBoard.

The JSON lines file is the record a script reads back (appended and flushed per call, so a
crash loses nothing already logged); TensorBoard is for looking at curves. TensorBoard is
optional: without it only the JSON lines are written.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class MetricsLogger:
    """Append scalars to ``RUN_DIR/metrics.jsonl`` and a TensorBoard log in ``RUN_DIR/tb``.

    Args:
        run_dir: the run folder.
        tensorboard: also write TensorBoard event files.
        resume_step: on resume, drop lines logged after this step (they came from the part
            of the interrupted run that is being redone), so the file reads as one run.
    """

    def __init__(self, run_dir: str | Path, tensorboard: bool = True,
                 resume_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "metrics.jsonl"
        if resume_step is not None:
            self._truncate_after(resume_step)
        self._file = self.path.open("a")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=resume_step)
            except ImportError:  # tensorboard not installed
                log.warning("tensorboard is not installed; writing metrics.jsonl only")

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    keep.append(line)
            except ValueError:
                continue  # a line cut by a crash
        self.path.write_text("".join(k + "\n" for k in keep))

    def log(self, step: int, scalars: dict[str, Any]) -> None:
        """Record ``scalars`` (numbers; tensors are converted) at ``step``."""
        row: dict[str, Any] = {"step": int(step), "time": round(time.time(), 3)}
        for k, v in scalars.items():
            v = v.item() if hasattr(v, "item") else v
            row[k] = v
            if self._tb is not None and isinstance(v, (int, float)) and math.isfinite(v):
                self._tb.add_scalar(k, v, step)
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush and close both outputs."""
        self._file.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
