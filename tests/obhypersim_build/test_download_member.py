"""Fetching single members: verification before the rename, partial files, the verification cache, the lock."""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
import zlib

import pytest

from obhypersim_build.download import member
from obhypersim_build.download.member import (
    MemberTask,
    VerificationError,
    VerifiedCache,
    fetch_member,
    file_crc32,
    usable_partial_size,
)
from obhypersim_build.download.transport import DownloadError, HttpClient, PermanentError, RetryPolicy
from obhypersim_build.download.zipindex import read_archive_index

from .archive_server import ArchiveServer

FAST = RetryPolicy(retries=4, timeout_s=5, backoff_s=0.001, backoff_max_s=0.01)
PAYLOADS = {"ai_001_001/a.bin": os.urandom(3000), "ai_001_001/b.txt": b"hello " * 2000, "ai_001_001/e.txt": b"",
            "ai_001_001/t.bin": b"abc"}


@pytest.fixture(scope="module")
def archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as opened:
        for index, (name, data) in enumerate(PAYLOADS.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if index in (0, 3) else zipfile.ZIP_DEFLATED
            # t.bin: a local ZIP64 extra field (20 bytes) that the central entry lacks, longer than the member
            with opened.open(info, "w", force_zip64=name.endswith("t.bin")) as handle:
                handle.write(data)
    return buffer.getvalue()


@pytest.fixture
def served(archive):
    with ArchiveServer({"/s.zip": archive}) as server:
        client = HttpClient(FAST)
        yield server, client, read_archive_index(client, f"{server.url}/s.zip").by_name()


def test_members_arrive_verified_and_atomically(served, tmp_path, archive):
    server, client, index = served
    for name, data in PAYLOADS.items():
        task = MemberTask(f"{server.url}/s.zip", index[name], tmp_path)
        assert fetch_member(client, task) == index[name].compressed_size
        assert task.target.read_bytes() == data and not task.partial.exists()
    assert sorted(p.name for p in (tmp_path / "ai_001_001").iterdir()) == ["a.bin", "b.txt", "e.txt", "t.bin"]
    assert index["ai_001_001/t.bin"].extra_length == 0 and archive.count(b"t.bin\x01\x00\x10\x00") == 1


def test_a_wrong_central_entry_never_produces_a_file(served, tmp_path):
    """Expected CRC or size that the bytes cannot meet (as after a corrupted directory): fail, leave nothing."""
    server, client, index = served
    url = f"{server.url}/s.zip"
    cases = [  # the local header's CRC already disagrees; then the inflated size does
        ("ai_001_001/a.bin", {"crc32": index["ai_001_001/a.bin"].crc32 ^ 1}, DownloadError, "CRC-32"),
        ("ai_001_001/b.txt", {"crc32": 0}, DownloadError, "CRC-32"),
        ("ai_001_001/b.txt", {"uncompressed_size": 100}, VerificationError, "expected 100 bytes.*5 downloads"),
    ]
    for name, change, error, message in cases:
        task = MemberTask(url, dataclasses.replace(index[name], **change), tmp_path)
        with pytest.raises(error, match=rf"s\.zip.*ai_001_001/.*{message}"):
            fetch_member(client, task)
        assert not task.target.exists() and not task.partial.exists()
        assert not list(tmp_path.rglob("*.obh-tmp.*"))
    unsupported = MemberTask(url, dataclasses.replace(index["ai_001_001/a.bin"], method=12), tmp_path)
    with pytest.raises(PermanentError, match="compression method 12"):
        fetch_member(client, unsupported)


def test_a_partial_file_is_continued_and_an_oversized_one_discarded(served, tmp_path, archive):
    server, client, index = served
    entry = index["ai_001_001/b.txt"]
    task = MemberTask(f"{server.url}/s.zip", entry, tmp_path)
    task.partial.parent.mkdir(parents=True)
    compressed = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    stream = compressed.compress(PAYLOADS[entry.name]) + compressed.flush()
    assert len(stream) == entry.compressed_size  # zipfile's deflate, reproduced: the partial holds real bytes
    task.partial.write_bytes(stream[:10])
    assert fetch_member(client, task) == entry.compressed_size - 10
    assert task.target.read_bytes() == PAYLOADS[entry.name]
    task.partial.write_bytes(b"x" * (entry.compressed_size + 1))
    assert usable_partial_size(task.partial, entry.compressed_size) == 0 and not task.partial.exists()


def test_file_crc32_matches_zlib(tmp_path):
    path = tmp_path / "f"
    data = os.urandom(3 * member.READ_BYTES + 17)
    path.write_bytes(data)
    assert file_crc32(path) == (len(data), zlib.crc32(data))


def test_verified_cache_skips_hashing_until_the_file_changes(served, tmp_path, monkeypatch):
    server, client, index = served
    task = MemberTask(f"{server.url}/s.zip", index["ai_001_001/a.bin"], tmp_path)
    fetch_member(client, task)
    cache = VerifiedCache(tmp_path)
    cache.remember("ai_001_001", task)
    cache.save()
    hashed = []
    monkeypatch.setattr(member, "file_crc32", lambda path: hashed.append(path) or file_crc32(path))
    assert VerifiedCache(tmp_path).is_verified("ai_001_001", task) and not hashed  # from the saved cache
    assert VerifiedCache(tmp_path, rehash=True).is_verified("ai_001_001", task) and len(hashed) == 1
    task.target.write_bytes(b"y" * len(PAYLOADS["ai_001_001/a.bin"]))  # same size, new mtime, wrong content
    assert not VerifiedCache(tmp_path).is_verified("ai_001_001", task) and len(hashed) == 2
    (tmp_path / ".obh_download" / "ai_001_001.verified.json").write_text("{not json")
    assert not VerifiedCache(tmp_path).is_verified("ai_001_001", task)  # a broken cache is ignored


def test_one_downloader_per_root(tmp_path):
    from obtoolkit.treelock import TreeLockedError, lock_tree

    with lock_tree(tmp_path, "obh download"):
        with pytest.raises(TreeLockedError, match="another obh command is writing here.*obh download"):
            with lock_tree(tmp_path):
                pass
    with lock_tree(tmp_path):  # released
        pass
