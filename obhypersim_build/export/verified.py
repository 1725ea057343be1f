"""Writing a shard or Parquet file so that its final name only ever holds a complete file that read back right."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from obtoolkit.errors import FormatError, OBToolkitError
from obtoolkit.fileio import atomic_path
from obtoolkit.shards import file_sha256

from .plan import Part, PlannedSample
from .sources import read_members

# write(tmp, excluded) -> (samples written, samples left out with why); raises BadSamples after reading back
PartWriter = Callable[[Path, dict[str, str]], tuple[list[dict], list[dict]]]


class BadSamples(Exception):
    """Samples that decoded but disagree with their manifest rows: key -> what disagrees."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(f"{len(problems)} samples disagree with the manifest")
        self.problems = problems


def write_verified(path: Path, part: Part, write: PartWriter) -> dict:
    """Write a part under a temporary name with `write` (which reads it back), then rename it; returns its record:
    name, plan digest, bytes, sha256, the samples written and those left out with why. Samples that read back
    wrong are left out and the part written again; a second disagreement is an error naming the file."""
    excluded: dict[str, str] = {}
    for _ in range(2):
        try:
            with atomic_path(path) as tmp:
                samples, failed = write(tmp, excluded)
                record = {"name": part.name, "digest": part.digest(), "bytes": tmp.stat().st_size,
                          "sha256": file_sha256(tmp), "samples": samples, "failed": failed}
            return record
        except BadSamples as bad:
            excluded.update(bad.problems)
    raise FormatError(path, "samples that read back as they were written", f"other disagreements: {excluded}")


def loaded_samples(root: Path, part: Part, rows: list[dict], excluded: dict[str, str], failed: list[dict], *,
                   decode_hdf5: bool = False) -> Iterator[tuple[PlannedSample, dict, dict[str, bytes | np.ndarray]]]:
    """(sample, manifest row, members) of a part's samples; those in `excluded` or whose files cannot be read are
    appended to `failed` with why, and skipped."""
    for sample, row in zip(part.samples, rows, strict=True):
        if sample.key in excluded:
            failed.append({"key": sample.key, "error": excluded[sample.key]})
            continue
        try:
            members = read_members(root, sample.key, sample.sources, row, decode_hdf5=decode_hdf5)
        except (OBToolkitError, OSError, ValueError) as error:
            failed.append({"key": sample.key, "error": f"{type(error).__name__}: {error}"})
            continue
        yield sample, row, members
