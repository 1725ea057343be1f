"""What produced an output: package version and git commit."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

import obtoolkit

DISTRIBUTION = "ob-hypersim"


def package_version() -> str:
    """The installed distribution's version, or the source tree's when it is not installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return obtoolkit.__version__


def git_sha(directory: str | Path | None = None) -> str | None:
    """The commit of the git checkout holding `directory` (default: this package), with "-dirty" if modified.

    Returns None outside a git checkout or when git is unavailable.
    """
    directory = Path(directory) if directory is not None else Path(obtoolkit.__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha
