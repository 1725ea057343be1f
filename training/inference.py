"""Inference below `obh evaluate`, validation during training and `obh predict`.

One flip-TTA fusion, one precision setting, one way of getting results back to the host. Images arrive normalised
by `training.augment.normalize_image` (the training data's normalisation, the only one in the project).

The device never waits for the CPU: `one_behind` starts batch k + 1 (its forward pass queued on the device, its
copy to pinned host memory queued behind it) before batch k's results are handed on, and a batch's host copy is only
read after its CUDA event. On the CPU the same code runs with plain copies and no events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Literal, NamedTuple, TypeVar

import torch
from torch import nn

Amp = Literal["none", "bf16", "fp16"]
AMP_DTYPES: dict[str, torch.dtype | None] = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}

T = TypeVar("T")
U = TypeVar("U")


def autocast(device: torch.device, amp: Amp) -> AbstractContextManager:
    """Mixed-precision autocast for `amp` on CUDA; full precision elsewhere (and for "none")."""
    dtype = AMP_DTYPES[amp]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None and
                          device.type == "cuda")


class Prediction(NamedTuple):
    """depth: float32 (B, 1, H, W) in network depth units; probability: float32 (B, 1, H, W) final OB map in [0, 1];
    None for a task the model does not predict (single-task models)."""

    depth: torch.Tensor | None
    probability: torch.Tensor | None


def fuse_flipped_depth(depth: torch.Tensor, depth_flipped_back: torch.Tensor) -> torch.Tensor:
    """The official flip-TTA depth fusion (NeWCRFs' `post_process_depth`), for (B, 1, H, W) tensors.

    Mean of the two, except near the borders: on the left 5 % the mirrored-back prediction is used, on the right
    5 % the plain one, with linear ramps to the mean between 5 % and 10 % of the width.
    """
    width = depth.shape[-1]
    xs = torch.linspace(0.0, 1.0, width, device=depth.device, dtype=depth.dtype)
    left = 1.0 - torch.clamp(20.0 * (xs - 0.05), 0.0, 1.0)  # 1 on the left border, 0 from 10 % on
    right = torch.flip(left, dims=[0])
    mean = 0.5 * (depth + depth_flipped_back)
    return right * depth + left * depth_flipped_back + (1.0 - left - right) * mean


@torch.no_grad()
def predict_batch(model: nn.Module, images: torch.Tensor, *, flip_tta: bool = False, amp: Amp = "none") -> Prediction:
    """Depth and final boundary probability of a normalised batch (B, 3, H, W) on the model's device.

    With flip TTA the mirrored batch is run separately (so each image sees the same computation as alone) and fused:
    boundary probabilities are averaged, depth with the official border ramps (`fuse_flipped_depth`).
    """
    with autocast(images.device, amp):
        out = model(images)
        flipped = model(torch.flip(images, dims=[-1])) if flip_tta else None
    depth = None if out.depth is None else out.depth.float()
    probability = torch.sigmoid(out.boundary_logits[-1].float()) if out.boundary_logits else None
    if flipped is not None and depth is not None:
        depth = fuse_flipped_depth(depth, torch.flip(flipped.depth.float(), dims=[-1]))
    if flipped is not None and probability is not None:
        flipped_probability = torch.sigmoid(torch.flip(flipped.boundary_logits[-1].float(), dims=[-1]))
        probability = 0.5 * (probability + flipped_probability)
    return Prediction(depth, probability)


class HostCopy(NamedTuple):
    """Host copies of device tensors, in flight until `wait` (pinned memory and a CUDA event on CUDA)."""

    tensors: tuple[torch.Tensor | None, ...]
    ready: torch.cuda.Event | None

    def wait(self) -> tuple[torch.Tensor | None, ...]:
        if self.ready is not None:
            self.ready.synchronize()
        return self.tensors


def copy_to_host(*tensors: torch.Tensor | None) -> HostCopy:
    """Start copying tensors to host memory without waiting for the device (None stays None)."""
    cuda = any(t is not None and t.device.type == "cuda" for t in tensors)
    host = tuple(None if t is None else torch.empty(t.shape, dtype=t.dtype, pin_memory=cuda).copy_(
        t, non_blocking=True) for t in tensors)
    ready = None
    if cuda:
        ready = torch.cuda.Event()
        ready.record()
    return HostCopy(host, ready)


def one_behind(items: Iterable[T], start: Callable[[T], U]) -> Iterator[tuple[T, U]]:
    """(item, start(item)) for each item, each handed on only after the next item's `start` was called."""
    pending = None
    for item in items:
        started = (item, start(item))
        if pending is not None:
            yield pending
        pending = started
    if pending is not None:
        yield pending
