"""One check for a ``--device`` / ``pipe.to(device)`` value before any tensor moves."""

from __future__ import annotations

import torch

from .errors import UserError


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device`, or a :class:`UserError` in one sentence when this
    torch cannot use it (a CUDA device on a CPU-only build, a GPU index that is not there)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"device '{device}' is not a torch device; pass cpu, cuda, cuda:1 or "
                        "mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = "without CUDA" if torch.version.cuda is None else "with CUDA but sees no GPU"
            raise UserError(f"device '{device}' is not available: this torch "
                            f"({torch.__version__}) was built {built}; pass --device cpu "
                            "(or install a CUDA build of torch)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"device '{device}' is not available: this machine has "
                            f"{torch.cuda.device_count()} CUDA device(s); pick a lower index")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise UserError(f"device '{device}' is not available on this machine; pass --device cpu")
    return dev
