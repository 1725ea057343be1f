"""Import open3d (the `raycast` extra) so that it works on a machine without the system libusb.

open3d's shared library links `libusb-1.0.so.0`, which base images often lack. The `libusb-package` wheel ships
that library; loading it with RTLD_GLOBAL before `import open3d` satisfies the link. The preload must run in every
process that imports open3d (joblib/loky workers are fresh processes), so always go through `import_open3d()`.
"""

from __future__ import annotations

import ctypes
import functools
from types import ModuleType

INSTALL_HINT = "install the raycast extra: pip install -c constraints.txt -e '.[raycast]'"


@functools.cache
def import_open3d() -> ModuleType:
    """Return the open3d module, preloading libusb from `libusb-package` when it is installed."""
    try:
        import libusb_package

        library = libusb_package.get_library_path()
        if library is not None:
            ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    except ImportError:
        pass  # rely on a system libusb
    try:
        import open3d
    except ImportError as error:
        raise ImportError(f"open3d is needed for ray casting ({INSTALL_HINT}): {error}") from error
    return open3d


def open3d_available() -> bool:
    """True when `import_open3d()` succeeds."""
    try:
        import_open3d()
    except ImportError:
        return False
    return True
