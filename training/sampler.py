"""A deterministic, resumable, shardable sampler: the batches of epoch e are a function of (seed, e) alone."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from training.data import SampleKey


class EpochSampler(Sampler[SampleKey]):
    """Keys of the run's samples for one process, epoch after epoch without end: each epoch is a seeded permutation
    (or the identity), split evenly across processes and cut to whole batches; iteration starts `start_batch`
    batches into epoch `epoch` (to resume mid-epoch).

    One iterator serves the whole run, so a DataLoader's workers start once and prefetch across epoch ends; each key
    carries its epoch, which seeds that sample's augmentation in whichever worker makes it.
    """

    def __init__(self, size: int, batch_size: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0,
                 world_size: int = 1):
        if size < batch_size * world_size:
            raise ValueError(f"{size} samples cannot fill one batch of {batch_size} on {world_size} process(es)")
        self.size, self.batch_size, self.seed, self.shuffle = size, batch_size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return (self.size // self.world_size) // self.batch_size

    def set_position(self, epoch: int, start_batch: int = 0) -> None:
        """Where the next iterator starts: `start_batch` batches into `epoch`."""
        self.epoch, self.start_batch = epoch, start_batch

    def epoch_positions(self, epoch: int) -> list[int]:
        """This process's positions of one epoch, whole batches only."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        per_process = order[self.rank::self.world_size][: self.size // self.world_size]
        return per_process[: self.batches_per_epoch * self.batch_size]

    def __iter__(self) -> Iterator[SampleKey]:
        epoch, skip = self.epoch, self.start_batch * self.batch_size
        while True:
            for position in self.epoch_positions(epoch)[skip:]:
                yield SampleKey(epoch, position)
            epoch, skip = epoch + 1, 0
