"""Error types shared by the library. Every error names the file (or frame) and what was expected."""

from __future__ import annotations

import errno
from pathlib import Path

_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_DISK_FULL_TEXTS = ("No space left on device", "Disk quota exceeded")


class OBToolkitError(Exception):
    """Base class of every error raised on purpose by this project."""


class FormatError(OBToolkitError, ValueError):
    """A file exists but its content is not what was expected.

    The message always starts with the path, then says what was expected and what was found.
    """

    def __init__(self, path: str | Path, expected: str, found: str | None = None):
        self.path = Path(path)
        self.expected = expected
        self.found = found
        message = f"{self.path}: expected {expected}"
        if found is not None:
            message += f", found {found}"
        super().__init__(message)


class MissingFileError(OBToolkitError, FileNotFoundError):
    """A file the caller needs does not exist."""

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        super().__init__(f"{self.path}: missing ({what})")


class EmptyFrameError(OBToolkitError, ValueError):
    """A frame has no valid geometry at all (for example Hypersim's all-NaN ai_012_007/cam_01/frame.0000)."""


class ConfigError(OBToolkitError, ValueError):
    """A configuration file or override is malformed: unknown key, missing key or a value of the wrong type."""


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` (or an error it was raised from) says that the disk or the quota is full.

    h5py and pyarrow report ENOSPC in the message of an OSError without setting its errno, hence the text check.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and (error.errno in _DISK_FULL_ERRNOS
                                           or any(text in str(error) for text in _DISK_FULL_TEXTS)):
            return True
        error = error.__cause__ or error.__context__
    return False
