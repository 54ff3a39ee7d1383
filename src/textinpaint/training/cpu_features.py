"""Whether this CPU runs bf16 matmuls natively (issue 27).

On CPUs with AVX-512 BF16 or AMX-BF16, bf16 autocast ran ~7x fp32 matmul; on CPUs without
them it ran 1.2-4x *slower*, so CPU autocast must be chosen per machine, never by default.
"""

from __future__ import annotations

from pathlib import Path

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """True when ``/proc/cpuinfo`` (or the text given) lists a native bf16 flag."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no evidence of native bf16, so stay fp32
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return any(flag in line.split() for flag in BF16_FLAGS)
    return False


def use_cpu_bf16(setting: str, cpuinfo: str | None = None) -> bool:
    """Resolve ``train.cpu_bf16`` (``auto`` | ``on`` | ``off``) to a bool."""
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"unknown cpu_bf16 {setting!r}; use auto, on or off")
    return setting == "on" or (setting == "auto" and cpu_has_bf16(cpuinfo))
