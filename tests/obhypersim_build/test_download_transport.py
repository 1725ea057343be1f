"""The downloader's HTTP layer on loopback: exact ranges, retries, and the errors that must not be retried."""

from __future__ import annotations

import os
import random
import threading

import pytest

from obhypersim_build.download.transport import (
    Cancelled,
    HttpClient,
    PermanentError,
    Retrier,
    RetriesExhausted,
    RetryPolicy,
    TransferStats,
    TransientError,
)

from .archive_server import ArchiveServer, ScriptedFault

DATA = os.urandom(50_000)
FAST = RetryPolicy(retries=8, timeout_s=5, backoff_s=0.001, backoff_max_s=0.01)


@pytest.fixture
def server():
    with ArchiveServer({"/f.bin": DATA}) as running:
        yield running


def test_ranges_are_exact_and_connections_are_reused(server):
    client = HttpClient(FAST)
    for start, end in [(0, 0), (10, 20_000), (49_999, 49_999), (123, 45_678)]:
        with client.open_range(f"{server.url}/f.bin", start, end) as body:
            assert body.read_all() == DATA[start:end + 1]
    tail, size = client.fetch_tail(f"{server.url}/f.bin", 1000)
    assert (tail, size) == (DATA[-1000:], len(DATA))
    assert client.fetch_tail(f"{server.url}/f.bin", 10**6) == (DATA, len(DATA))  # a suffix longer than the file
    assert server.state.connections == 1 and client.stats.requests == 6 == len(server.log)


def test_fetch_range_resumes_after_cut_bodies_from_where_they_stopped(server):
    server.state.script = [ScriptedFault(lambda p, s, e: s == 1000, "truncate", cut=5000),
                           ScriptedFault(lambda p, s, e: s == 6000, "drop", cut=7000)]
    client = HttpClient(FAST)
    assert client.fetch_range(f"{server.url}/f.bin", 1000, 40_000) == DATA[1000:40_001]
    starts = [e.start for e in server.log]
    assert starts[:2] == [1000, 6000]  # the second request asked for exactly what the first did not deliver
    assert starts[2] >= 6000 and starts[-1] <= 40_000 and server.log[-1].end == 40_000
    assert client.stats.retry_kinds["short_read"] >= 1


def test_random_faults_never_change_the_bytes():
    with ArchiveServer({"/f.bin": DATA}, fault_rate=0.4, faults=("drop", "truncate", "503"), seed=1) as server:
        client = HttpClient(FAST)
        rng = random.Random(0)
        for _ in range(30):
            start = rng.randrange(len(DATA))
            end = rng.randrange(start, len(DATA))
            assert client.fetch_range(f"{server.url}/f.bin", start, end) == DATA[start:end + 1]
    assert client.stats.retries > 5


@pytest.mark.parametrize(("option", "message"), [
    ({"ignore_ranges": True}, "ignored the Range header"),
    ({"misreport_range": True}, "got Content-Range 11-21"),
])
def test_servers_that_break_ranges_are_permanent_errors(option, message):
    with ArchiveServer({"/f.bin": DATA}, **option) as server:
        client = HttpClient(FAST)
        with pytest.raises(PermanentError, match=message):
            client.fetch_range(f"{server.url}/f.bin", 10, 20)
        assert len(server.log) == 1  # not retried


def test_missing_files_and_bad_ranges_are_permanent_errors(server):
    client = HttpClient(FAST)
    with pytest.raises(PermanentError, match=r"nothere\.zip.*404"):
        client.fetch_range(f"{server.url}/nothere.zip", 0, 10)
    with pytest.raises(PermanentError, match="416.*not satisfiable"):
        client.fetch_range(f"{server.url}/f.bin", len(DATA) + 10, len(DATA) + 20)
    with pytest.raises(PermanentError, match="http:// or https://"):
        client.fetch_range("ftp://example.org/f.bin", 0, 1)
    with pytest.raises(ValueError, match="bad byte range"):
        client.open_range(f"{server.url}/f.bin", 5, 4)
    assert len(server.log) == 2


def test_persistent_5xx_gives_up_after_the_retries():
    with ArchiveServer({"/f.bin": DATA}, fault_rate=1.0, faults=("503",)) as server:
        client = HttpClient(RetryPolicy(retries=3, backoff_s=0))
        with pytest.raises(RetriesExhausted, match=r"f\.bin.*503.*gave up after 4 attempts"):
            client.fetch_range(f"{server.url}/f.bin", 0, 99)
        assert len(server.log) == 4 and client.stats.retry_kinds == {"http_503": 3}


def test_redirects_are_followed_with_the_range():
    with ArchiveServer({"/mirror/f.bin": DATA}, redirects={"/f.bin": "/mirror/f.bin"}) as server:
        assert HttpClient(FAST).fetch_range(f"{server.url}/f.bin", 5, 9) == DATA[5:10]
        assert [e.status for e in server.log] == [302, 206]


def test_a_stop_request_cancels(server):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        HttpClient(FAST, stop=stop).fetch_range(f"{server.url}/f.bin", 0, 9)


def test_backoff_doubles_with_jitter_and_is_capped():
    policy = RetryPolicy(backoff_s=1.0, backoff_max_s=5.0)
    rng = random.Random(0)
    for failures, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        delays = [policy.delay_s(failures, rng) for _ in range(200)]
        assert base * 0.5 <= min(delays) and max(delays) <= base
        assert max(delays) - min(delays) > 0.3 * base  # jittered, so parallel workers do not retry in lockstep
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=-1)


def test_retrier_counts_failures_in_a_row():
    retrier = Retrier(RetryPolicy(retries=2, backoff_s=0), TransferStats())
    error = TransientError("x", kind="reset")
    retrier.failed(error)
    retrier.failed(error)
    retrier.progressed()  # progress forgives earlier failures
    retrier.failed(error)
    retrier.failed(error)
    with pytest.raises(RetriesExhausted, match="gave up after 3"):
        retrier.failed(error)
    assert retrier.stats.retries == 4
