"""The one table of OB-Hypersim's per-frame products.

Every product a frame can have, in MoDOT's layout `hypersim/<scene>/<cam>/<name>/IIII.<extension>`, with how it is
stored and checked. Writing and reading label files (`obtoolkit.labels_io`), the manifest's path and hash columns
(`obtoolkit.manifest`), the generation worker, indexing of existing folders and tree validation
(`obhypersim_build`) are all derived from `PRODUCTS`; adding a label product is one entry here plus its computation
(`Product.compute`).

Attributes of a product:
    name: folder name, and the manifest's `<name>_path` column (except the two inputs, whose columns predate the
        table: `rgb_path`, `depth_path`).
    role: "input" (a copy or link of a Hypersim file), "label" (computed by the generator) or "record" (the frame's
        stats JSON, written last).
    codec: how the arrays are stored: "png_bool" (0/255), "png_u8", "png_u16", "npz" (arrays by name), "jpeg"
        and "hdf5" (inputs, copied), "json".
    extension: file extension.
    arrays: for label products, (hash key, LabelArrays field, dtype) of each array the file holds; the manifest has a
        `<hash key>_hash` column for each array of a hashed product.
    hashed: content hashes of the decoded arrays are recorded at generation and checked by validation.
    required: every OB-Hypersim frame has it (ours and the authors' release): indexing fails a frame without it.
    compute: OcclusionLabels -> {field: array} (label products only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from obtoolkit.boundaries import OcclusionLabels

DATASET_DIR = "hypersim"


@dataclass(frozen=True)
class Product:
    name: str
    role: str
    codec: str
    extension: str
    arrays: tuple[tuple[str, str, str], ...] = ()
    hashed: bool = False
    required: bool = False
    column: str = ""
    compute: Callable[[OcclusionLabels], dict[str, np.ndarray]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.column:
            object.__setattr__(self, "column", f"{self.name}_path")

    @property
    def hash_columns(self) -> tuple[str, ...]:
        return tuple(f"{key}_hash" for key, _, _ in self.arrays) if self.hashed else ()


PRODUCTS: tuple[Product, ...] = (
    Product("tonemap", "input", "jpeg", "jpg", required=True, column="rgb_path"),
    Product("depth_hdf5", "input", "hdf5", "hdf5", required=True, column="depth_path"),
    Product("ob", "label", "png_bool", "png", (("ob", "ob", "bool"),), hashed=True, required=True,
            compute=lambda labels: {"ob": labels.ob}),
    Product("instance_contour", "label", "png_bool", "png", (("instance_contour", "instance_contour", "bool"),),
            hashed=True, compute=lambda labels: {"instance_contour": labels.instance_contour}),
    Product("ori", "label", "png_u8", "png", (("ori", "ori8", "uint8"),), hashed=True,
            compute=lambda labels: {"ori8": labels.ori8}),
    Product("ori16", "label", "png_u16", "png", (("ori16", "ori16", "uint16"),), hashed=True,
            compute=lambda labels: {"ori16": labels.ori16}),
    Product("order", "label", "npz", "npz", (("order", "order", "int8"), ("relation_class", "relation_class", "uint8")),
            hashed=True, compute=lambda labels: {"order": labels.order, "relation_class": labels.relation_class}),
    Product("ob_class", "label", "png_u8", "png", (("ob_class", "ob_class", "uint8"),), hashed=True,
            compute=lambda labels: {"ob_class": labels.ob_class}),
    Product("valid", "label", "png_bool", "png", (("valid", "valid", "bool"),), hashed=True,
            compute=lambda labels: {"valid": labels.valid_mask}),
    Product("stats", "record", "json", "json"),
)


def products(role: str | None = None) -> tuple[Product, ...]:
    """The products of the table (read at call time, so that a test can extend it), optionally of one role."""
    return tuple(p for p in PRODUCTS if role is None or p.role == role)


def product(name: str) -> Product:
    for entry in PRODUCTS:
        if entry.name == name:
            return entry
    raise ValueError(f"unknown product {name!r}; known: {sorted(p.name for p in PRODUCTS)}")


def path_columns() -> tuple[str, ...]:
    """The manifest's path columns, in table order."""
    return tuple(p.column for p in PRODUCTS)


def hash_columns() -> tuple[str, ...]:
    """The manifest's hash columns, in table order."""
    return tuple(column for p in PRODUCTS for column in p.hash_columns)
