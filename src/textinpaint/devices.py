"""Turning a ``--device`` string into a torch device, or one sentence saying why not."""

from __future__ import annotations

import torch

from .errors import UserError

KNOWN = ("cpu", "cuda", "mps")


def check_device(name: str | torch.device) -> torch.device:
    """``name`` as a :class:`torch.device` that exists here (``auto``: cuda if there is one).

    Raises:
        UserError: an unknown device name, or a CUDA/MPS device this torch cannot use.
    """
    if isinstance(name, torch.device):
        device = name
    elif name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError, ValueError):
            device = None
        if device is None or device.type not in KNOWN:
            raise UserError(f"unknown device '{name}'; use cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device '{name}': this torch has no usable CUDA device; "
                            "use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"device '{name}': there are only {torch.cuda.device_count()} "
                            "CUDA device(s); pick one of them")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device '{name}': MPS is not available here; use --device cpu")
    return device
