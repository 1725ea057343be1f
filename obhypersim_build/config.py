"""The generation stage's configuration (`build.yaml`), and the hash that decides whether a frame is up to date."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from obtoolkit.boundaries import LabelParams
from obtoolkit.boundaries.mesh_exact import MeshExactParams
from obtoolkit.config import config_hash, load_config, to_mapping
from obtoolkit.errors import ConfigError
from obtoolkit.limits import DEFAULT_MAX_IMAGE_PIXELS
from obtoolkit.validation import Thresholds

# Bump when label semantics change without a parameter change, so that reruns regenerate instead of skipping.
LABEL_ALGORITHM_VERSION = 2


@dataclass(frozen=True)
class BuildConfig:
    """What `obh generate` does.

    Attributes:
        labels: the label generator's parameters (spec §6.4).
        validation: pass criteria of the per-frame label checks.
        validate: run the label checks on every frame.
        on_validation_error: "fail" (the frame's status becomes error, so training skips it) or "flag" (status ok,
            validation_failed recorded).
        inputs: how the tonemap and depth inputs enter the output layout: "copy", "hardlink" or "symlink".
        camera_csv / split_csv: Hypersim's metadata_camera_parameters.csv / metadata_images_split_scene_v1.csv
            (default: those files at the Hypersim root).
        public_only: skip frames the split CSV marks as not publicly released.
        mesh_exact: decide self-occlusion on the scene meshes (`_detail/mesh/`; the raycast extra), with `mesh`'s
            parameters; a scene without meshes then fails with an error naming the missing file.
        max_image_pixels: the largest frame (height x width) an input may have or the camera CSV may claim; a
            larger one fails its frames (or scene) with an error naming the file, before anything is allocated.
    """

    labels: LabelParams = field(default_factory=LabelParams)
    mesh_exact: bool = False
    mesh: MeshExactParams = field(default_factory=MeshExactParams)
    validation: Thresholds = field(default_factory=Thresholds)
    validate: bool = True
    on_validation_error: Literal["fail", "flag"] = "fail"
    inputs: Literal["copy", "hardlink", "symlink"] = "copy"
    camera_csv: Path | None = None
    split_csv: Path | None = None
    public_only: bool = True
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    def __post_init__(self) -> None:
        if self.max_image_pixels <= 0:
            raise ConfigError(f"max_image_pixels: expected a positive number of pixels, got {self.max_image_pixels}")

    def params_hash(self) -> str:
        """Hash of everything that changes a frame's outputs or status (not where inputs come from)."""
        return config_hash({
            "algorithm": LABEL_ALGORITHM_VERSION, "labels": self.labels, "validation": self.validation,
            "validate": self.validate, "on_validation_error": self.on_validation_error,
            "mesh": self.mesh if self.mesh_exact else None,
        })

    def resolved(self, hypersim_root: Path) -> BuildConfig:
        """Fill in default CSV locations; nothing the user set is changed."""
        from obtoolkit.hypersim.layout import HypersimLayout

        layout = HypersimLayout(hypersim_root)
        return dataclasses.replace(
            self, camera_csv=self.camera_csv or layout.camera_parameters_csv,
            split_csv=self.split_csv or (layout.split_csv if layout.split_csv.is_file() else None))

    def as_dict(self) -> dict:
        return to_mapping(self)


def load_build_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> BuildConfig:
    """BuildConfig from an optional YAML file plus `section.key=value` overrides (unknown keys are errors)."""
    return load_config(BuildConfig, path, overrides)
