"""Making the C allocator give big freed buffers back to the operating system.

glibc raises its mmap threshold each time a large block is freed (up to 32 MB) and gives
every worker thread its own arena, so after a few 4096² requests the decoded images of one
thread are freed into an arena another thread never reuses, and the server's RSS climbs
past its memory budget (benchmarks/load.py --attacks: 2159 MiB peak for 16 concurrent
4096² uploads under a 1200 MB budget; 1264 MiB with the settings below). A fixed 1 MiB
threshold puts every image-sized buffer in its own mapping, returned on free, and two
arenas bound the rest. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # from glibc's malloc.h


def return_big_buffers(threshold: int = 2**20, arenas: int = 2) -> bool:
    """Set glibc's mmap threshold and arena count; False where that is not possible."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_THRESHOLD, threshold) == 1
        ok = libc.mallopt(M_ARENA_MAX, arenas) == 1 and ok
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows)
        return False
    log.debug("malloc: mmap threshold %d, %d arenas: %s", threshold, arenas, ok)
    return ok
