"""Training-state checkpoints: atomic, rotating, and safe to load.

A checkpoint is one dict (model and optimiser state dicts, step, epoch, RNG states, anything
else the loop needs) written with ``torch.save`` to a temporary file and moved into place with
``os.replace``, so a crash never leaves half a checkpoint. The run folder keeps the last K::

    RUN_DIR/checkpoints/checkpoint-<step>.pt   (zero-padded step)
    RUN_DIR/checkpoints/latest                 JSON {"step": N, "file": "checkpoint-....pt"}

Loading uses ``torch.load(..., weights_only=True)``, so everything saved must be tensors,
dicts, lists, tuples, ints, floats, bools, strings or None; :func:`rng_state` converts the
numpy and Python RNG states to such plain values.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UserError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest"
_NAME = re.compile(r"^checkpoint-(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    """The torch (CPU and, where present, CUDA), numpy and Python global RNG states as
    weights_only-loadable values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    cuda = {"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() else {}
    return {
        **cuda,  # the generator's noise on a GPU comes from the device's own generators
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": int(version), "internal": [int(x) for x in internal],
                   "gauss_next": gauss_next},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the global RNG states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))


def _checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint file in the run, oldest first."""
    folder = _checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def save_checkpoint(run_dir: str | Path, state: dict[str, Any], step: int,
                    keep_last: int = 3) -> Path:
    """Atomically write ``state`` as checkpoint ``step``, point ``latest`` at it, and delete
    all but the newest ``keep_last`` checkpoints (0 keeps all). Returns the file's path."""
    folder = _checkpoint_dir(run_dir)
    path = folder / f"checkpoint-{int(step):08d}.pt"
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(state, tmp)
        os.replace(tmp, path)
        pointer = folder / LATEST
        tmp = pointer.with_name(LATEST + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"step": int(step), "file": path.name}))
        os.replace(tmp, pointer)
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
        raise UserError(f"cannot write checkpoint '{path}' ({reason}); free disk space or make "
                        f"'{folder}' writable, then --resume") from None
    if keep_last > 0:
        for _, old in list_checkpoints(run_dir)[:-keep_last]:
            if old != path:
                old.unlink(missing_ok=True)
    return path


def cpu_copy(obj: Any) -> Any:
    """``obj`` with every tensor copied to the CPU: a snapshot that training may not change."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


class CheckpointWriter:
    """Writes checkpoints on a background thread while training goes on.

    :meth:`save` snapshots the state to the CPU (the only part the loop waits for) and hands
    the file writing to one worker thread; a save first waits for the previous one, so at
    most one is in flight and they land in order. A failed write raises from the next
    :meth:`save` or from :meth:`wait`, which the loop calls before it exits.
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._pending: Future | None = None

    def save(self, run_dir: str | Path, state: dict[str, Any], step: int,
             keep_last: int = 3) -> None:
        """Queue ``state`` as checkpoint ``step`` (see :func:`save_checkpoint`)."""
        self.wait()
        self._pending = self._pool.submit(save_checkpoint, run_dir, cpu_copy(state), step,
                                          keep_last)

    def wait(self) -> Path | None:
        """Block until the last queued checkpoint is written; its path, or None."""
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None


def find_latest(run_dir: str | Path) -> Path | None:
    """The newest checkpoint of a run: the one ``latest`` names, else the highest step."""
    folder = _checkpoint_dir(run_dir)
    try:
        name = json.loads((folder / LATEST).read_text())["file"]
        if _NAME.match(name) and (folder / name).is_file():
            return folder / name
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def load_newest(run_dir: str | Path, map_location: str | torch.device = "cpu"
                ) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint of the run that loads, as (path, state); None if there is none.

    A checkpoint that does not load (truncated by a full disk, corrupted) is skipped with a
    warning naming it and why, and the next older one is tried; if none loads, the newest
    one's error is raised.
    """
    newest = find_latest(run_dir)
    if newest is None:
        return None
    older = [p for _, p in reversed(list_checkpoints(run_dir)) if p != newest]
    first_error = None
    for path in [newest, *older]:
        try:
            state = load_checkpoint(path, map_location)
        except UserError as exc:
            first_error = first_error or exc
            log.warning("skipping checkpoint '%s': %s", path, exc)
            continue
        if path != newest:
            log.warning("resuming from the older checkpoint '%s'", path)
        return path, state
    raise UserError(f"no checkpoint in '{_checkpoint_dir(run_dir)}' loads; the newest: "
                    f"{first_error}")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint '{path}' does not exist") from None
    except Exception as exc:  # a truncated or foreign file: say so in one line
        raise UserError(f"cannot load checkpoint '{path}' ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); delete it to resume "
                        "from an older one") from None


def diverged_note(run_dir: str | Path) -> str:
    """What a stopped run still has: its newest checkpoint, or that none was written yet."""
    last = find_latest(run_dir)
    return f"the last good checkpoint is '{last}'" if last else "no checkpoint was written yet"
