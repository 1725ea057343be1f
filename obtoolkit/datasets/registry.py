"""The registry of dataset formats by name."""

from __future__ import annotations

from obtoolkit.datasets import ob_hypersim
from obtoolkit.datasets.base import DatasetFormat, EvalPreset, UnknownDatasetError
from obtoolkit.datasets.diode import DiodeFormat
from obtoolkit.datasets.ibims import IbimsFormat
from obtoolkit.datasets.nyudmt import NyudMtFormat
from obtoolkit.datasets.ob_diode import ObDiodeFormat
from obtoolkit.datasets.ob_entityseg import ObEntitySegFormat
from obtoolkit.datasets.ob_future import ObFutureFormat

FORMATS: dict[str, type[DatasetFormat]] = {
    cls.name: cls for cls in (NyudMtFormat, ObFutureFormat, IbimsFormat, DiodeFormat, ObDiodeFormat, ObEntitySegFormat)
}


def format_names() -> tuple[str, ...]:
    """The registered names, sorted."""
    return tuple(sorted(FORMATS))


def get_format(name: str, **options) -> DatasetFormat:
    """The format registered as `name`, built with its options (e.g. `orientation=True` for ob_future)."""
    if name not in FORMATS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(format_names())}")
    return FORMATS[name](**options)


def dataset_names() -> tuple[str, ...]:
    """Every dataset that can be trained or evaluated: OB-Hypersim and the registered formats."""
    return (ob_hypersim.NAME, *format_names())


def eval_preset(name: str) -> EvalPreset:
    """The evaluation preset of a dataset (OB-Hypersim or a registered format)."""
    if name == ob_hypersim.NAME:
        return ob_hypersim.PRESET
    if name not in FORMATS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")
    return FORMATS[name].preset
