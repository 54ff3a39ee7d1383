"""Settings of a training process: torch's threads, glibc's freed memory, its Accelerator."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

import torch

log = logging.getLogger(__name__)


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(threads: int = 0, max_auto: int = 8) -> int:
    """Set torch's intra-op CPU threads and return the number used.

    ``threads`` > 0 is taken as given. 0 (auto) uses the CPUs not already busy, judged by
    the 1-minute load average, at least 1 and at most ``max_auto``. Why not simply all
    CPUs: torch's threads meet at a barrier after every operation, so on a CPU shared with
    other busy processes one descheduled thread stalls the rest. Measured on a 2-core machine
    running four other jobs: DAMSM training at 64 px made 75 images/s with 1 thread and 4
    images/s with 2.
    """
    if threads <= 0:
        cpus = available_cpus()
        try:
            busy = round(os.getloadavg()[0])
        except OSError:  # not available on this platform
            busy = 0
        threads = max(1, min(max_auto, cpus - busy))
        log.info("using %d torch thread(s) (%d CPUs, load %d)", threads, cpus, busy)
    torch.set_num_threads(threads)
    return threads


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of handing it back to the system.

    A training step allocates and frees activation tensors of megabytes hundreds of times.
    By default glibc gives every block over 128 KB its own mapping and unmaps it on free, so
    the next tensor of that size page-faults its memory in again. In a virtual machine a page
    fault costs far more than the arithmetic: on this project's 2-core VM, elementwise ops on
    fresh 8 MB tensors ran 20-100x slower than on reused ones, and two training processes
    side by side each ran 2.4x slower than one alone; with this, 1.2x. Returns whether the
    settings took (False where the C library is not glibc).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # 32 MB is the largest mmap threshold glibc accepts; blocks below it come from the heap.
    done = [mallopt(_M_MMAP_THRESHOLD, 32 * 2**20), mallopt(_M_TRIM_THRESHOLD, 2**31 - 1),
            mallopt(_M_TOP_PAD, 256 * 2**20)]
    return all(r == 1 for r in done)


def make_accelerator(cpu: bool, mixed_precision: str = "no"):
    """An ``accelerate.Accelerator``, also where this process already made one with another
    ``mixed_precision``.

    Accelerate keeps one process-wide state and refuses a second Accelerator with another
    precision. ``train-recipe`` trains the DAMSM (fp32) and then the inpainting phases (bf16
    autocast where the CPU has bf16 instructions) in one process, and so do the tests: the
    precision part of the state is reset between them. The process part (ranks, process
    group) is kept, so this is safe under ``torchrun`` as well.
    """
    # Imported here: the benchmarks' parent process and the CLI import this module for the
    # thread settings alone, and accelerate takes a second to import.
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    state = AcceleratorState._shared_state  # accelerate's own tests reset it the same way
    if state and state.get("_mixed_precision") != mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision)
