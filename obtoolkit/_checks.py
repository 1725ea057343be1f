"""The one helper that checks arrays at public boundaries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_array(
    name: str,
    array: np.ndarray,
    *,
    shape: Sequence[int | None] | None = None,
    dtype: str | np.dtype | type | None = None,
    kind: str | None = None,
    where: str = "",
) -> np.ndarray:
    """Raise a ValueError naming `name` (and `where`) unless `array` has the given shape, dtype or dtype kind.

    Args:
        name: what the array is, e.g. "distance_m".
        array: the array to check.
        shape: expected shape; `None` entries match any size.
        dtype: exact expected dtype.
        kind: expected dtype kind(s), e.g. "f" for floating, "iu" for integers, "b" for bool.
        where: extra context for the message (a file, a frame).

    Returns:
        `array`, unchanged, so that the call can be used inline.
    """
    context = f" ({where})" if where else ""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name}{context}: expected a numpy array, got {type(array).__name__}")
    if shape is not None:
        ok = array.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, array.shape, strict=False))
        if not ok:
            expected = "(" + ", ".join("*" if e is None else str(e) for e in shape) + ")"
            raise ValueError(f"{name}{context}: expected shape {expected}, got {array.shape}")
    if dtype is not None and array.dtype != np.dtype(dtype):
        raise ValueError(f"{name}{context}: expected dtype {np.dtype(dtype)}, got {array.dtype}")
    if kind is not None and array.dtype.kind not in kind:
        raise ValueError(f"{name}{context}: expected dtype kind in {kind!r}, got {array.dtype}")
    return array


def check_same_hw(where: str = "", **arrays: np.ndarray | None) -> tuple[int, int]:
    """Check that all given arrays share their first two dimensions; return (H, W)."""
    shapes = {name: a.shape[:2] for name, a in arrays.items() if a is not None}
    distinct = set(shapes.values())
    if len(distinct) != 1:
        context = f" ({where})" if where else ""
        raise ValueError(f"arrays disagree in (H, W){context}: {shapes}")
    return distinct.pop()
