"""The one data-order sampler of every training loop: reproducible, resumable, shardable."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Sampler


class EpochBatches(Sampler):
    """This process's batches of one epoch, from global batch ``start`` on.

    The order is a permutation fixed by (seed, epoch, tag), cut into global batches of
    ``batch_size * world`` and dealt out by rank. Incomplete last batches are dropped, so every
    step sees full batches (the contrastive losses need them) and ranks step in lockstep.
    ``tag`` separates the orders of different loops that share a seed.
    """

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, start: int = 0,
                 rank: int = 0, world: int = 1, tag: int = 0):
        self.batch_size, self.rank, self.world, self.start = batch_size, rank, world, start
        self.order = np.random.default_rng([seed, epoch, tag]).permutation(n)
        self.batches = n // (batch_size * world)

    def __len__(self) -> int:
        return max(self.batches - self.start, 0)

    def __iter__(self):
        step = self.batch_size * self.world
        for b in range(self.start, self.batches):
            chunk = self.order[b * step:(b + 1) * step]
            yield chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size].tolist()
