"""Test helpers for `obh download`: Hypersim-layout ZIP archives of synthetic scenes, and a loopback HTTP server.

The server speaks HTTP/1.1 with keep-alive, answers single byte ranges (`a-b`, `a-`, `-n`) with 206 and
Content-Range, logs every request, and injects faults on a seeded random share of requests:
  "drop"     headers and part of the body, then a reset connection (RST);
  "truncate" headers with the full Content-Length, part of the body, then a clean close;
  "503"      Service Unavailable;
  "flip"     the full body with one byte inverted;
  "stall"    nothing until the client times out (only when asked for: it makes tests slow).
Scripted faults (`script`) hit chosen requests deterministically. Misbehaviours on request: ignoring Range
(`ignore_ranges`), a Content-Range one byte off (`misreport_range`), 302 redirects (`redirects`).
"""

from __future__ import annotations

import io
import random
import re
import socket
import struct
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

RANDOM_FAULTS = ("drop", "truncate", "503", "flip")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class LoggedRequest:
    """One GET as the server saw it; `start`/`end` are the resolved inclusive byte range (None: whole file)."""

    path: str
    start: int | None
    end: int | None
    suffix: bool
    status: int
    fault: str | None = None
    sent: int = 0


@dataclass
class ScriptedFault:
    """Inject `fault` on the first request for which `match(path, start, end)` holds (cut at `cut` body bytes)."""

    match: Callable[[str, int | None, int | None], bool]
    fault: str
    cut: int | None = None
    used: bool = False


@dataclass
class ServerState:
    files: dict[str, bytes]
    fault_rate: float = 0.0
    faults: tuple[str, ...] = RANDOM_FAULTS
    seed: int = 0
    ignore_ranges: bool = False
    misreport_range: bool = False
    redirects: dict[str, str] = field(default_factory=dict)
    chunk_delay_s: float = 0.0
    stall_s: float = 5.0
    script: list[ScriptedFault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    connections: int = 0

    def decide(self, path: str, start: int | None, end: int | None) -> tuple[str | None, random.Random, int | None]:
        """(fault or None, a seeded Random for this request, a scripted cut point or None)."""
        with self.lock:
            self.counter += 1
            rng = random.Random(f"{self.seed}:{self.counter}")
            for scripted in self.script:
                if not scripted.used and scripted.match(path, start, end):
                    scripted.used = True
                    return scripted.fault, rng, scripted.cut
        if self.fault_rate and rng.random() < self.fault_rate:
            return rng.choice(self.faults), rng, None
        return None, rng, None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small throttled chunks go out at once
    state: ServerState

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections += 1

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path in self.state.redirects:
            return self._empty(302, LoggedRequest(path, None, None, False, 302),
                               {"Location": self.state.redirects[path]})
        data = self.state.files.get(path)
        if data is None:
            return self._empty(404, LoggedRequest(path, None, None, False, 404))
        header = self.headers.get("Range")
        whole = header is None or self.state.ignore_ranges
        parsed = None if whole else _parse_range(header, len(data))
        if not whole and parsed is None:
            return self._empty(416, LoggedRequest(path, None, None, False, 416),
                               {"Content-Range": f"bytes */{len(data)}"})
        start, end, suffix = (0, len(data) - 1, False) if whole else parsed
        fault, rng, cut = self.state.decide(path, start, end)
        entry = LoggedRequest(path, None if whole else start, None if whole else end, suffix, 200 if whole else 206,
                              fault)
        if fault == "503":
            entry.status = 503
            return self._empty(503, entry, {"Retry-After": "0"})
        if fault == "stall":
            self._append(entry)
            time.sleep(self.state.stall_s)
            self.close_connection = True
            return None
        body = data[start:end + 1]
        if fault == "flip" and body:
            position = rng.randrange(len(body))
            body = body[:position] + bytes([body[position] ^ 0xFF]) + body[position + 1:]
        self._append(entry)  # before anything is sent, so a client that saw the reply finds it in the log
        self.send_response(entry.status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if not whole:
            shift = int(self.state.misreport_range)
            self.send_header("Content-Range", f"bytes {start + shift}-{end + shift}/{len(data)}")
        self.end_headers()
        if fault in ("drop", "truncate"):
            cut = rng.randrange(max(1, len(body))) if cut is None else cut
            self._write(body[:cut], entry)
            self._cut_connection(hard=fault == "drop")
            return None
        self._write(body, entry)
        return None

    def _append(self, entry: LoggedRequest) -> None:
        with self.state.lock:
            self.state.log.append(entry)

    def _empty(self, status: int, entry: LoggedRequest, headers: dict[str, str] | None = None) -> None:
        self._append(entry)
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _write(self, body: bytes, entry: LoggedRequest) -> None:
        step = 1024 if self.state.chunk_delay_s else len(body) or 1
        try:
            for offset in range(0, len(body), step):
                self.wfile.write(body[offset:offset + step])
                self.wfile.flush()
                entry.sent += len(body[offset:offset + step])
                if self.state.chunk_delay_s:
                    time.sleep(self.state.chunk_delay_s)
        except OSError:
            self.close_connection = True

    def _cut_connection(self, *, hard: bool) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            if hard:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass


def _parse_range(header: str, size: int) -> tuple[int, int, bool] | None:
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    if not match.group(1):
        length = int(match.group(2))
        return (max(0, size - length), size - 1, True) if length > 0 and size > 0 else None
    start = int(match.group(1))
    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    return (start, end, False) if start <= end else None


class ArchiveServer:
    """A threaded loopback server for `files` (URL path -> bytes); use as a context manager."""

    def __init__(self, files: dict[str, bytes], **options):
        self.state = ServerState(dict(files), **options)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def log(self) -> list[LoggedRequest]:
        with self.state.lock:
            return list(self.state.log)

    def clear_log(self) -> None:
        with self.state.lock:
            self.state.log.clear()

    def __enter__(self) -> ArchiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- archives ------------------------------------------------------------------------------------------------------

SCENES_PATH = "/scenes"
METADATA_PATH = "/meta"
METADATA_LOCATIONS = {
    "metadata_camera_parameters.csv": "contrib/mikeroberts3000/metadata_camera_parameters.csv",
    "metadata_images_split_scene_v1.csv": "evermotion_dataset/analysis/metadata_images_split_scene_v1.csv",
}


def zip_scene(root: Path, scene: str, *, source_scene: str | None = None, zip64: bool = False,
              stored: Callable[[int, str], bool] | None = None) -> bytes:
    """A Hypersim-style archive of `root/<source_scene>/` with members named `<scene>/...`.

    Members alternate between stored and deflated (or as `stored(index, name)` says); `zip64=True` writes a real
    ZIP64 archive (ZIP64 end records and extra fields) by lowering zipfile's 4 GiB limit while writing.
    """
    source = root / (source_scene or scene)
    stored = stored or (lambda index, name: index % 2 == 1)
    buffer = io.BytesIO()
    limit = 200 if zip64 else zipfile.ZIP64_LIMIT
    with mock.patch.object(zipfile, "ZIP64_LIMIT", limit), zipfile.ZipFile(buffer, "w") as archive:
        for index, path in enumerate(sorted(p for p in source.rglob("*") if p.is_file())):
            name = f"{scene}/{path.relative_to(source).as_posix()}"
            method = zipfile.ZIP_STORED if stored(index, name) else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def served_files(root: Path, archives: dict[str, bytes]) -> dict[str, bytes]:
    """URL path -> bytes for the archives and the two metadata CSVs at the tree's root."""
    files = {f"{SCENES_PATH}/{scene}.zip": data for scene, data in archives.items()}
    for name, location in METADATA_LOCATIONS.items():
        files[f"{METADATA_PATH}/{location}"] = (root / name).read_bytes()
    return files


def member_spans(archive: bytes) -> dict[str, tuple[int, int]]:
    """Member name -> [local header offset, next member's offset or the central directory) in the archive."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        infos = sorted(opened.infolist(), key=lambda i: i.header_offset)
        ends = [i.header_offset for i in infos[1:]] + [opened.start_dir]
    return {info.filename: (info.header_offset, end) for info, end in zip(infos, ends, strict=True)}


def data_offset(archive: bytes, name: str) -> int:
    """Where a member's data start (after its local header)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        offset = opened.getinfo(name).header_offset
    name_length, extra_length = struct.unpack_from("<HH", archive, offset + 26)
    return offset + 30 + name_length + extra_length


def requests_per_member(log: Iterable[LoggedRequest], path: str, spans: dict[str, tuple[int, int]]) -> Counter:
    """How many ranged (non-suffix) requests for `path` overlapped each member's span."""
    counts: Counter = Counter()
    for entry in log:
        if entry.path != path or entry.start is None or entry.suffix:
            continue
        for name, (begin, end) in spans.items():
            if entry.start < end and entry.end >= begin:
                counts[name] += 1
    return counts
