"""`obh download`: fetch exactly the Hypersim files a build needs from the per-scene ZIP archives.

Partial (HTTP range requests read each archive's central directory and only the selected members), resumable
(partial files continue with a range from where they stopped) and verified (size and CRC-32 from the central
directory before an atomic rename into the official layout). See docs/download.md.
"""

from obhypersim_build.download.driver import (
    DEFAULT_BASE_URL,
    DEFAULT_METADATA_URL,
    METADATA_FILES,
    REPORT_NAME,
    DownloadPlan,
    DownloadReport,
    DownloadRequest,
    FileResult,
    PlannedFile,
    download,
    metadata_state,
    preview,
)
from obhypersim_build.download.member import MemberTask, VerificationError, fetch_member, partial_path
from obhypersim_build.download.selection import (
    BUILD_DETAIL_FILES,
    DEFAULT_MODALITIES,
    DETAIL_SETS,
    KNOWN_MODALITIES,
    Selection,
    select_members,
)
from obhypersim_build.download.transport import (
    Cancelled,
    DownloadError,
    HttpClient,
    PermanentError,
    RetriesExhausted,
    RetryPolicy,
    TransientError,
)
from obhypersim_build.download.zipindex import ArchiveIndex, ZipMember, read_archive_index

__all__ = [
    "BUILD_DETAIL_FILES", "DEFAULT_BASE_URL", "DEFAULT_METADATA_URL", "DEFAULT_MODALITIES", "DETAIL_SETS",
    "KNOWN_MODALITIES", "METADATA_FILES", "REPORT_NAME", "ArchiveIndex", "Cancelled", "DownloadError",
    "DownloadPlan", "DownloadReport", "DownloadRequest", "FileResult", "HttpClient", "MemberTask", "PermanentError",
    "PlannedFile", "RetriesExhausted", "RetryPolicy", "Selection", "TransientError", "VerificationError",
    "ZipMember", "download", "fetch_member", "metadata_state", "partial_path", "preview", "read_archive_index",
    "select_members",
]
