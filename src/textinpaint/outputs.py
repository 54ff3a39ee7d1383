"""Checking that an output folder can be written before any work is done.

A run that trains for an hour and then cannot write its checkpoint, or a batch that fills
images it cannot save, should fail at the start with one sentence naming the folder; and a
write that fails later still ends in a sentence, not a traceback (see :func:`os_error`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import UserError


def os_error(exc: OSError, path: str | Path, what: str) -> UserError:
    """A :class:`UserError` for a failed write of ``what`` at ``path``."""
    reason = exc.strerror or type(exc).__name__
    return UserError(f"cannot write {what} '{path}' ({reason}); choose another location or "
                     "make it writable")


def ensure_writable_dir(folder: str | Path, what: str = "output folder") -> Path:
    """Create ``folder`` (with parents) and prove a file can be written there.

    The probe is a real file, not ``os.access``: that says yes to root on a read-only mount.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise os_error(exc, folder, what) from None
    return folder
