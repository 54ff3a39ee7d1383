"""A server-wide memory budget: each request reserves its estimated peak before it decodes.

Decoding and preparing images runs in worker threads, several at a time, so the bound on one
request is not a bound on the server: 16 concurrent 4096² uploads would each hold their
decoded pixels. A request reserves :func:`~textinpaint.work.worst_case_bytes` of its image
(known from the file headers) before decoding and gives it back when its answer is encoded;
when the budget is spent it waits, and after ``timeout`` seconds it is turned away (503) so
a client can retry instead of hanging.
"""

from __future__ import annotations

import threading


class MemoryBudget:
    """``total`` bytes shared by the requests in flight; thread-safe."""

    def __init__(self, total: int):
        self.total = int(total)
        self.used = 0
        self._cond = threading.Condition()

    def acquire(self, amount: int, timeout: float) -> bool:
        """Take ``amount`` bytes (at most the whole budget), waiting up to ``timeout``
        seconds; False if there was no room by then."""
        amount = min(int(amount), self.total)
        with self._cond:
            if not self._cond.wait_for(lambda: self.used + amount <= self.total, timeout):
                return False
            self.used += amount
            return True

    def release(self, amount: int) -> None:
        """Give back what :meth:`acquire` took."""
        with self._cond:
            self.used -= min(int(amount), self.total)
            self._cond.notify_all()
