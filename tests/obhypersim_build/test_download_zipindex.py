"""The ZIP central-directory reader against Python's zipfile (the reference), on plain and ZIP64 archives."""

from __future__ import annotations

import dataclasses
import io
import os
import random
import struct
import zipfile

import pytest

from obhypersim_build.download.transport import HttpClient, RetriesExhausted, RetryPolicy
from obhypersim_build.download.zipindex import (
    ZIP64_EOCD_SIGNATURE,
    ZipFormatError,
    local_header_lengths,
    parse_central_directory,
    parse_end_record,
    parse_local_header,
    read_archive_index,
)

from .archive_server import ArchiveServer, data_offset

FAST = RetryPolicy(retries=8, timeout_s=5, backoff_s=0.001, backoff_max_s=0.01)


def make_archive(*, zip64: bool = False, comment: bytes = b"", n: int = 7, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    buffer = io.BytesIO()
    limit = 200 if zip64 else zipfile.ZIP64_LIMIT
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipfile, "ZIP64_LIMIT", limit)
        with zipfile.ZipFile(buffer, "w") as archive:
            for index in range(n):
                info = zipfile.ZipInfo(f"ai_001_001/images/f{index}_ü.bin", date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED if index % 2 else zipfile.ZIP_DEFLATED
                payload = bytes(rng.randrange(4) for _ in range(rng.randrange(0, 700)))
                archive.writestr(info, payload)
            archive.comment = comment
    return buffer.getvalue()


def reference_members(data: bytes) -> list[tuple]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, i.compress_type, i.CRC, i.compress_size, i.file_size, i.header_offset)
                for i in archive.infolist()]


def parse_all(data: bytes):
    end = parse_end_record(data, 0, "test.zip")
    if end.zip64_eocd_offset is not None:
        from obhypersim_build.download.zipindex import apply_zip64_end_record

        end = apply_zip64_end_record(data[end.zip64_eocd_offset:], end, "test.zip")
    directory = data[end.cd_offset:end.cd_offset + end.cd_size]
    return parse_central_directory(directory, end.entries, "test.zip")


def as_tuples(members) -> list[tuple]:
    return [(m.name, m.method, m.crc32, m.compressed_size, m.uncompressed_size, m.header_offset) for m in members]


@pytest.mark.parametrize("zip64", [False, True])
@pytest.mark.parametrize("comment", [b"", b"an archive comment"])
def test_central_directory_matches_zipfile(zip64, comment):
    data = make_archive(zip64=zip64, comment=comment)
    if zip64:
        assert struct.pack("<I", ZIP64_EOCD_SIGNATURE) in data  # really a ZIP64 archive
    assert as_tuples(parse_all(data)) == reference_members(data)


def test_a_comment_that_contains_the_eocd_signature_is_skipped():
    """The EOCD is the record whose comment reaches the end of the file, not the last signature seen."""
    plain = b"x" * 40
    tricky = b"see PK\x05\x06" + b"\0" * 18 + b" and more"
    tricky += b"y" * (len(plain) - len(tricky))
    data = make_archive(comment=plain)
    expected = reference_members(data)  # zipfile itself would take the signature in the comment
    assert as_tuples(parse_all(data.replace(plain, tricky))) == expected


def test_zip64_extra_fields_carry_large_values():
    data = make_archive(zip64=True)
    members = parse_all(data)
    assert any(m.extra_length > 0 for m in members)  # sizes/offsets above the (lowered) limit came from ZIP64 extras
    assert as_tuples(members) == reference_members(data)


def test_local_header_gives_the_data_offset_even_when_its_extra_differs():
    data = make_archive(zip64=True)
    for member in parse_all(data):
        header = data[member.header_offset:member.header_offset + 30]
        full = data[member.header_offset:member.header_offset + 30 + local_header_lengths(header, member, "t")]
        assert parse_local_header(full, member, "t") == data_offset(data, member.name)


def test_local_header_mismatch_is_a_format_error():
    data = make_archive()
    first, second = parse_all(data)[:2]
    header = data[second.header_offset:second.header_offset + 200]
    with pytest.raises(ZipFormatError, match="local header of"):
        parse_local_header(header, first, "test.zip")
    with pytest.raises(ZipFormatError, match="signature"):
        parse_local_header(b"\0" * 64, first, "test.zip")
    header = data[first.header_offset:first.header_offset + 200]
    with pytest.raises(ZipFormatError, match="CRC-32"):  # a corrupted directory entry shows up here already
        parse_local_header(header, dataclasses.replace(first, crc32=first.crc32 ^ 4), "test.zip")


def test_corrupt_structures_are_format_errors():
    data = make_archive()
    with pytest.raises(ZipFormatError, match="end-of-central-directory"):
        parse_end_record(data[:-30], 0, "test.zip")
    end = parse_end_record(data, 0, "test.zip")
    directory = bytearray(data[end.cd_offset:end.cd_offset + end.cd_size])
    with pytest.raises(ZipFormatError, match="entries"):
        parse_central_directory(bytes(directory), end.entries + 1, "test.zip")
    directory[0] ^= 0xFF
    with pytest.raises(ZipFormatError, match="signature"):
        parse_central_directory(bytes(directory), end.entries, "test.zip")


@pytest.mark.parametrize("tail_bytes", [64, 100_000])
@pytest.mark.parametrize("zip64", [False, True])
def test_remote_index_from_ranges(tail_bytes, zip64):
    """A small first tail makes the reader fetch the EOCD region again and the directory with its own range."""
    data = make_archive(zip64=zip64, n=40)
    with ArchiveServer({"/a.zip": data}) as server:
        index = read_archive_index(HttpClient(FAST), f"{server.url}/a.zip", tail_bytes=tail_bytes)
        suffix_requests = [e for e in server.log if e.suffix]
        ranged = [e for e in server.log if not e.suffix]
    assert index.size == len(data)
    assert as_tuples(index.members) == reference_members(data)
    assert len(suffix_requests) >= 2  # the directory is read twice and must agree
    assert bool(ranged) == (tail_bytes < len(data))


def test_remote_index_survives_corrupted_and_dropped_replies():
    data = make_archive(n=60, seed=3)
    with ArchiveServer({"/a.zip": data}, fault_rate=0.5, seed=11) as server:
        for _ in range(5):
            index = read_archive_index(HttpClient(FAST), f"{server.url}/a.zip", tail_bytes=128)
            assert as_tuples(index.members) == reference_members(data)
        faults = {e.fault for e in server.log}
    assert {"flip", "drop", "truncate", "503"} <= faults


def test_a_broken_archive_fails_with_its_url():
    data = os.urandom(5000)
    with ArchiveServer({"/a.zip": data}) as server:
        with pytest.raises(RetriesExhausted, match=r"a\.zip.*end-of-central-directory.*gave up after 2"):
            read_archive_index(HttpClient(RetryPolicy(retries=1, backoff_s=0)), f"{server.url}/a.zip")
