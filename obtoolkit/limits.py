"""Size limits on what untrusted files may claim, checked before anything is allocated or decoded.

A 1 KB PNG can claim 100000x100000 pixels, a camera CSV can claim a frame of any size: without a limit the first
allocation fails with a MemoryError (or takes the machine's memory) far from the file that caused it. Image headers
and claimed sizes are therefore checked first, against a limit the caller can raise, and a too-large file is a
`SizeLimitError` that names it, its size and the setting that raises the limit.

Pillow has its own global guard (`PIL.Image.MAX_IMAGE_PIXELS`, an error at twice its value); `open_image` turns
that error into ours too, so a caller that raises our limit past Pillow's still gets a message naming the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from obtoolkit.errors import FormatError, MissingFileError, OBToolkitError

# 64 Mi pixels (8192 x 8192): 85 times a Hypersim frame (1024 x 768); one float32 channel of that size is 256 MiB.
DEFAULT_MAX_IMAGE_PIXELS = 1 << 26


class SizeLimitError(FormatError):
    """A file claims more pixels than allowed; the message names the file, the size, the limit and how to raise it."""


def check_pixels(path: str | Path, width: int, height: int, max_pixels: int, *, what: str,
                 setting: str = "max_image_pixels") -> None:
    """Raise SizeLimitError unless 0 < width, 0 < height and width * height <= max_pixels."""
    if width <= 0 or height <= 0:
        raise FormatError(path, f"a positive image size ({what})", f"{width}x{height}")
    if width * height > max_pixels:
        raise SizeLimitError(path, f"at most {max_pixels} pixels ({what}; raise {setting} to allow more)",
                             f"{width}x{height} = {width * height} pixels")


@contextlib.contextmanager
def open_image(path: str | Path, *, what: str, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
               setting: str = "max_image_pixels") -> Iterator[Image.Image]:
    """Open an image whose header size has been checked against `max_pixels`; nothing is decoded yet.

    Decoding (`load`, `convert`, `np.asarray`) inside the `with` block that fails (truncated or corrupt data) is
    re-raised as a FormatError naming the file.

    Raises:
        MissingFileError: no such file.
        SizeLimitError: the header claims too many pixels.
        FormatError: not an image Pillow can read, or its data do not decode.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, what)
    try:
        with Image.open(path) as image:
            check_pixels(path, image.width, image.height, max_pixels, what=what, setting=setting)
            yield image
    except Image.DecompressionBombError as error:
        raise SizeLimitError(path, f"an image Pillow agrees to decode ({what}; {setting} is above Pillow's limit)",
                             str(error)) from error
    except OBToolkitError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:  # Pillow's ways to say "corrupt"
        raise FormatError(path, f"a readable image ({what})", f"unreadable: {error}") from error
