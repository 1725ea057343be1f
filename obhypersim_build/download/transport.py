"""HTTP for the downloader: byte-range GETs over per-thread keep-alive connections, with retries and backoff.

Standard library only (`http.client`). A ranged request must come back as 206 with a Content-Range that matches the
request exactly; a server that ignores ranges (200) or refuses one (416) is a permanent error, because fetching a
whole 4-20 GB archive to read a few files is never what the user asked for. Timeouts, connection resets, 5xx, 408
and 429 replies and bodies that end early are transient: `Retrier` waits (exponential backoff with jitter) and the
caller tries again, resuming from the bytes it already has.
"""

from __future__ import annotations

import http.client
import random
import re
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

from obtoolkit.errors import OBToolkitError

CHUNK_BYTES = 1 << 16
MAX_REDIRECTS = 5
USER_AGENT = "obh-download (ob-hypersim)"
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_REDIRECT_STATUS = {301, 302, 303, 307, 308}
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
T = TypeVar("T")


class DownloadError(OBToolkitError):
    """A download step failed; the message names the URL (or file) and what was expected."""


class TransientError(DownloadError):
    """Worth retrying: timeout, reset or dropped connection, 5xx / 408 / 429, or a body that ended early."""

    def __init__(self, message: str, *, kind: str = "network", retry_after_s: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after_s = retry_after_s


class PermanentError(DownloadError):
    """Retrying cannot help: 4xx (404, 416), a server that ignores Range, a malformed reply or archive."""


class RetriesExhausted(DownloadError):
    """Transient failures went on longer than the retry policy allows; the message holds the last one."""


class Cancelled(DownloadError):
    """The run was interrupted (Ctrl-C); partial files are kept for the next run."""


@dataclass(frozen=True)
class RetryPolicy:
    """When to give up and how long to wait.

    Attributes:
        retries: failed attempts in a row that are tolerated (an attempt that made progress resets the count).
        timeout_s: socket timeout for connecting and for each read.
        backoff_s: wait before the first retry; it doubles after each further failure, with jitter.
        backoff_max_s: cap of one wait (also caps a server's Retry-After).
    """

    retries: int = 5
    timeout_s: float = 60.0
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.timeout_s <= 0 or self.backoff_s < 0 or self.backoff_max_s < 0:
            raise ValueError(f"RetryPolicy: retries >= 0, timeout_s > 0 and backoffs >= 0 expected, got {self}")

    def delay_s(self, failures: int, rng: random.Random) -> float:
        """Wait after the `failures`-th failure in a row: backoff_s * 2^(failures-1), capped, times U(0.5, 1)."""
        return min(self.backoff_max_s, self.backoff_s * 2.0 ** (failures - 1)) * rng.uniform(0.5, 1.0)


@dataclass
class TransferStats:
    """Counters shared by all threads of one run (requests, retries by kind, bytes received)."""

    requests: int = 0
    retries: int = 0
    bytes_received: int = 0
    retry_kinds: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, bytes_received: int = 0, retry_kind: str | None = None) -> None:
        with self._lock:
            self.requests += requests
            self.bytes_received += bytes_received
            if retry_kind is not None:
                self.retries += 1
                self.retry_kinds[retry_kind] += 1

    def as_dict(self) -> dict:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries, "bytes_received": self.bytes_received,
                    "retry_kinds": dict(sorted(self.retry_kinds.items()))}


class Retrier:
    """Counts failures in a row for one piece of work and sleeps between attempts; re-raises when out of retries."""

    def __init__(self, policy: RetryPolicy, stats: TransferStats, stop: threading.Event | None = None):
        self.policy = policy
        self.stats = stats
        self.stop = stop or threading.Event()
        self.failures = 0
        self._rng = random.Random()

    def failed(self, error: TransientError) -> None:
        """Record a failure; sleep before the next attempt, or raise RetriesExhausted when the retries are spent."""
        self.failures += 1
        if self.failures > self.policy.retries:
            raise RetriesExhausted(f"{error} (gave up after {self.failures} attempts in a row)") from error
        self.stats.add(retry_kind=error.kind)
        delay = self.policy.delay_s(self.failures, self._rng)
        if error.retry_after_s is not None:
            delay = max(delay, min(error.retry_after_s, self.policy.backoff_max_s))
        if self.stop.wait(delay):
            raise Cancelled("interrupted")

    def progressed(self) -> None:
        """The last attempt moved forward (bytes were kept): start counting failures afresh."""
        self.failures = 0


def read_until_agreement(client: HttpClient, read: Callable[[], T], what: str) -> T:
    """Call `read` until two calls in a row return equal values, and return that value.

    For what has no checksum to verify against (a ZIP central directory, the metadata CSVs): a byte corrupted in
    transit then cannot pass unnoticed. A read that raises TransientError (e.g. bytes that do not parse) starts
    over; disagreements and such failures count against the retry policy.
    """
    retrier, previous = client.retrier(), None
    while True:
        try:
            value = read()
        except TransientError as error:
            previous = None
            retrier.failed(error)
            continue
        if previous is not None and value == previous:
            return value
        if previous is not None:
            retrier.failed(TransientError(f"{what}: two reads differ", kind="disagreement"))
        previous = value


class Body:
    """A response body of known length: `read` returns chunks, raising TransientError if it ends early."""

    def __init__(self, client: HttpClient, key: tuple[str, str], response: http.client.HTTPResponse, url: str,
                 start: int, length: int | None):
        self._client, self._key, self._response = client, key, response
        self.url, self.start, self.length = url, start, length
        self.received = 0

    @property
    def remaining(self) -> int | None:
        """Bytes of the body not read yet (None when the server did not announce a length)."""
        return None if self.length is None else self.length - self.received

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Up to `size` bytes (fewer when the body ends); b"" only at the announced end of the body."""
        if self.remaining is not None:
            size = min(size, self.remaining)
        if size == 0:
            return b""
        try:
            data = self._response.read1(size)
        except (OSError, http.client.HTTPException) as error:
            raise _network_error(self.url, error) from error
        if not data and self.remaining is not None:
            raise TransientError(f"{self.url}: body ended after {self.received} of {self.length} bytes "
                                 f"(from byte {self.start})", kind="short_read")
        self.received += len(data)
        self._client.stats.add(bytes_received=len(data))
        return data

    def read_exact(self, size: int) -> bytes:
        """Exactly `size` bytes (TransientError if the body ends first)."""
        parts, got = [], 0
        while got < size:
            data = self.read(size - got)
            if not data:
                raise TransientError(f"{self.url}: body ended after {self.received} bytes", kind="short_read")
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def read_all(self) -> bytes:
        """The rest of the body."""
        parts = []
        while data := self.read():
            parts.append(data)
        return b"".join(parts)

    def close(self) -> None:
        """Give the connection back for reuse when the body was read to its announced end; otherwise close it."""
        if self.remaining == 0 and not self._response.length:  # nothing unread, by our count and by http.client's
            self._response.close()
        else:
            self._client.drop_connection(self._key)

    def __enter__(self) -> Body:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HttpClient:
    """GET whole files or byte ranges; one keep-alive connection per thread and host."""

    def __init__(self, policy: RetryPolicy | None = None, stats: TransferStats | None = None,
                 stop: threading.Event | None = None):
        self.policy = policy or RetryPolicy()
        self.stats = stats or TransferStats()
        self.stop = stop or threading.Event()
        self._local = threading.local()

    def retrier(self) -> Retrier:
        """A fresh failure counter for one piece of work, sharing this client's policy, stats and stop flag."""
        return Retrier(self.policy, self.stats, self.stop)

    def open_range(self, url: str, start: int, end: int) -> Body:
        """One attempt at bytes [start, end] (inclusive) of `url`; the reply must be 206 with that exact range."""
        if not 0 <= start <= end:
            raise ValueError(f"{url}: bad byte range {start}-{end}")
        key, response, final_url = self._get(url, {"Range": f"bytes={start}-{end}"})
        body_start, length, _ = self._check_partial(final_url, key, response, start=start, end=end)
        return Body(self, key, response, final_url, body_start, length)

    def open_tail(self, url: str, size: int) -> tuple[Body, int]:
        """One attempt at the last `size` bytes of `url` (suffix range); returns the body and the file's size."""
        key, response, final_url = self._get(url, {"Range": f"bytes=-{size}"})
        body_start, length, total = self._check_partial(final_url, key, response, suffix=size)
        return Body(self, key, response, final_url, body_start, length), total

    def open_whole(self, url: str) -> Body:
        """One attempt at the whole of `url` (200); the length is checked when the server announces it."""
        key, response, final_url = self._get(url, {})
        if response.status != 200:
            self._fail_status(final_url, key, response, "200 OK")
        length = response.getheader("Content-Length")
        return Body(self, key, response, final_url, 0, int(length) if length and length.isdigit() else None)

    def fetch_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes [start, end] of `url`, retrying transient failures and resuming from what was received."""
        return self._with_retries(lambda have: self.open_range(url, start + have, end), end - start + 1)

    def fetch_tail(self, url: str, size: int) -> tuple[bytes, int]:
        """The last `size` bytes of `url` (fewer if the file is shorter) and the file's size, with retries."""
        retrier = self.retrier()
        while True:
            try:
                body, total = self.open_tail(url, size)
                with body:
                    return body.read_all(), total
            except TransientError as error:
                retrier.failed(error)

    def fetch_whole(self, url: str) -> bytes:
        """All of `url`, retrying transient failures (from the start: whole files here are small tables)."""
        retrier = self.retrier()
        while True:
            try:
                with self.open_whole(url) as body:
                    return body.read_all()
            except TransientError as error:
                retrier.failed(error)

    def _with_retries(self, open_at: Callable[[int], Body], size: int) -> bytes:
        """Read `size` bytes, reopening at the first missing byte after each transient failure."""
        retrier, parts, have = self.retrier(), [], 0
        while have < size:
            before = have
            try:
                with open_at(have) as body:
                    while data := body.read():
                        parts.append(data)
                        have += len(data)
            except TransientError as error:
                if have > before:
                    retrier.progressed()
                retrier.failed(error)
        return b"".join(parts)

    # -- connections -----------------------------------------------------------------------------------------------

    def _connections(self) -> dict[tuple[str, str], http.client.HTTPConnection]:
        """This thread's open connections by (scheme, host:port)."""
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        return self._local.connections

    def _connection(self, key: tuple[str, str]) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection to a host, and whether it was open already (kept alive)."""
        connections = self._connections()
        if key in connections:
            return connections[key], True
        scheme, netloc = key
        if scheme == "https":
            connection = http.client.HTTPSConnection(netloc, timeout=self.policy.timeout_s)
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self.policy.timeout_s)
        connections[key] = connection
        return connection, False

    def drop_connection(self, key: tuple[str, str]) -> None:
        """Close this thread's connection to a host (after an error, or a body left unread)."""
        connection = self._connections().pop(key, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Close this thread's connections."""
        for key in list(self._connections()):
            self.drop_connection(key)

    def _get(self, url: str, headers: dict[str, str]) -> tuple[tuple[str, str], http.client.HTTPResponse, str]:
        """Send a GET (following redirects); returns the connection key, the response and the final URL."""
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        for _ in range(MAX_REDIRECTS + 1):
            if self.stop.is_set():
                raise Cancelled("interrupted")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise PermanentError(f"{url}: expected an http:// or https:// URL")
            key = (parts.scheme, parts.netloc)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            response = self._send(key, target, headers, url)
            if response.status not in _REDIRECT_STATUS:
                return key, response, url
            location = response.getheader("Location")
            try:
                response.read()
            except (OSError, http.client.HTTPException) as error:
                self.drop_connection(key)
                raise _network_error(url, error) from error
            if not location:
                raise PermanentError(f"{url}: redirect {response.status} without a Location header")
            url = urljoin(url, location)
        raise PermanentError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _send(self, key: tuple[str, str], target: str, headers: dict[str, str],
              url: str) -> http.client.HTTPResponse:
        """One request; a kept-alive connection that the server had closed is reopened once, silently."""
        for fresh_retry in (False, True):
            connection, reused = self._connection(key)
            try:
                self.stats.add(requests=1)
                connection.request("GET", target, headers=headers)
                return connection.getresponse()
            except ssl.SSLCertVerificationError as error:
                self.drop_connection(key)
                raise PermanentError(f"{url}: TLS certificate not accepted: {error}") from error
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.drop_connection(key)
                if not reused or fresh_retry:
                    raise _network_error(url, error) from error
            except (OSError, http.client.HTTPException) as error:
                self.drop_connection(key)
                raise _network_error(url, error) from error
        raise AssertionError("unreachable")

    # -- reply checks ----------------------------------------------------------------------------------------------

    def _check_partial(self, url: str, key: tuple[str, str], response: http.client.HTTPResponse, *,
                       start: int | None = None, end: int | None = None,
                       suffix: int | None = None) -> tuple[int, int, int]:
        """Check a 206 reply against the request; returns (first byte, length, file size)."""
        wanted = f"bytes {start}-{end}" if suffix is None else f"the last {suffix} bytes"
        if response.status == 200:
            self.drop_connection(key)
            raise PermanentError(f"{url}: the server ignored the Range header (200 instead of 206 for {wanted}); "
                                 "a mirror must support HTTP range requests")
        if response.status != 206:
            self._fail_status(url, key, response, f"206 Partial Content for {wanted}")
        match = _CONTENT_RANGE.match(response.getheader("Content-Range") or "")
        encoding = (response.getheader("Content-Encoding") or "identity").lower()
        if match is None or match.group(3) == "*" or encoding != "identity":
            self.drop_connection(key)
            raise PermanentError(f"{url}: expected Content-Range 'bytes a-b/size' and no Content-Encoding for "
                                 f"{wanted}, got {response.getheader('Content-Range')!r}, encoding {encoding!r}")
        first, last, total = (int(g) for g in match.groups())
        expected_last = total - 1 if suffix is not None else end
        expected_first = max(0, total - suffix) if suffix is not None else start
        if (first, last) != (expected_first, expected_last):
            self.drop_connection(key)
            raise PermanentError(f"{url}: asked for {wanted}, got Content-Range {first}-{last}/{total}")
        return first, last - first + 1, total

    def _fail_status(self, url: str, key: tuple[str, str], response: http.client.HTTPResponse, expected: str):
        status, reason = response.status, response.reason
        self.drop_connection(key)
        message = f"{url}: expected {expected}, got HTTP {status} {reason}"
        if status in _TRANSIENT_STATUS or 500 <= status < 600:
            raise TransientError(message, kind=f"http_{status}", retry_after_s=_retry_after(response))
        if status == 416:
            message += " (range not satisfiable: the archive is shorter than its central directory says)"
        raise PermanentError(message)


def _retry_after(response: http.client.HTTPResponse) -> float | None:
    value = response.getheader("Retry-After")
    return float(value) if value and value.strip().isdigit() else None


def _network_error(url: str, error: BaseException) -> TransientError:
    kind = "timeout" if isinstance(error, TimeoutError) else (
        "reset" if isinstance(error, (ConnectionError, http.client.RemoteDisconnected)) else "network")
    return TransientError(f"{url}: {type(error).__name__}: {error}", kind=kind)
