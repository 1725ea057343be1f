"""The registry of dataset formats by name."""

from __future__ import annotations

from obtoolkit.datasets.base import DatasetFormat, UnknownDatasetError
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
