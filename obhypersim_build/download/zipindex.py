"""Reading a remote ZIP's table of contents with byte-range requests (PKWARE APPNOTE 6.3, ZIP64 included).

A ZIP ends with the end-of-central-directory record (EOCD, 22 bytes + a comment of up to 64 KiB). When a count,
size or offset does not fit its 16/32-bit field (Hypersim's archives reach 20 GB), a ZIP64 locator just before the
EOCD points to a ZIP64 EOCD record with 64-bit values, and each central-directory entry carries the large values in
its ZIP64 extra field (id 0x0001). The central directory lists every member with its compression method, sizes,
CRC-32 and the offset of its local header; the member's data start after that local header, whose name and extra
field lengths may differ from the central entry's, so the local header is read too (see `parse_local_header`).

The parsers here are pure functions of bytes. The central directory carries no checksum of its own, so
`read_archive_index` reads it until two reads agree: a byte flipped in transit can then not silently change a
member's expected CRC-32 or offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from obhypersim_build.download.transport import HttpClient, PermanentError, TransientError, read_until_agreement

EOCD = struct.Struct("<IHHHHIIH")  # signature, disk, cd disk, entries here, entries, cd size, cd offset, comment len
ZIP64_LOCATOR = struct.Struct("<IIQI")  # signature, disk with zip64 EOCD, zip64 EOCD offset, disks
ZIP64_EOCD = struct.Struct("<IQHHIIQQQQ")  # signature, size, 2 versions, 2 disks, 2 entry counts, cd size, offset
CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
EOCD_SIGNATURE = 0x06054B50
ZIP64_LOCATOR_SIGNATURE = 0x07064B50
ZIP64_EOCD_SIGNATURE = 0x06064B50
CENTRAL_SIGNATURE = 0x02014B50
LOCAL_SIGNATURE = 0x04034B50
ZIP64_EXTRA_ID = 0x0001
STORED, DEFLATED = 0, 8
FLAG_ENCRYPTED, FLAG_DATA_DESCRIPTOR, FLAG_UTF8 = 0x1, 0x8, 0x800
MAX_COMMENT = 0xFFFF
# The whole region where an EOCD (with the longest comment) and a ZIP64 locator and record can sit.
TAIL_BYTES = EOCD.size + MAX_COMMENT + ZIP64_LOCATOR.size + ZIP64_EOCD.size
_MAGIC = {name: struct.pack("<I", value) for name, value in (
    ("eocd", EOCD_SIGNATURE), ("locator", ZIP64_LOCATOR_SIGNATURE), ("zip64", ZIP64_EOCD_SIGNATURE))}


class ZipFormatError(TransientError):
    """The bytes read do not form a valid ZIP structure.

    Transient, because a byte corrupted in transit looks exactly like this; a truly broken archive fails the same way
    on every read and is reported once the retries are spent.
    """

    def __init__(self, where: str, expected: str, found: str):
        super().__init__(f"{where}: expected {expected}, found {found}", kind="zip_format")


@dataclass(frozen=True)
class ZipMember:
    """One central-directory entry.

    Attributes:
        name: the member's path inside the archive ('/'-separated), e.g. `ai_001_001/_detail/metadata_scene.csv`.
        method: 0 stored, 8 deflated (others are reported as unsupported when selected).
        flags: general-purpose bit flags (bit 0 encrypted, bit 3 data descriptor, bit 11 UTF-8 name).
        crc32: CRC-32 of the uncompressed bytes.
        compressed_size / uncompressed_size: bytes.
        header_offset: where the member's local header starts in the archive.
        name_bytes / extra_length: the encoded name and the central entry's extra-field length (the local header's
            extra field is usually, not always, as long: it gives the first guess of where the data start).
    """

    name: str
    method: int
    flags: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int
    name_bytes: bytes
    extra_length: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def guessed_data_offset(self) -> int:
        """Where the data start if the local header's extra field is as long as the central one."""
        return self.header_offset + LOCAL_HEADER.size + len(self.name_bytes) + self.extra_length


@dataclass(frozen=True)
class ArchiveIndex:
    """A remote archive's size and members, in central-directory order."""

    url: str
    size: int
    members: tuple[ZipMember, ...]

    def by_name(self) -> dict[str, ZipMember]:
        return {m.name: m for m in self.members}


@dataclass(frozen=True)
class EndRecord:
    """Where the central directory is: its offset, size and entry count (64-bit values after ZIP64 resolution)."""

    cd_offset: int
    cd_size: int
    entries: int
    eocd_offset: int
    zip64_eocd_offset: int | None


def parse_end_record(tail: bytes, tail_offset: int, where: str) -> EndRecord:
    """Find the EOCD in the last bytes of an archive (`tail` starts at archive offset `tail_offset`).

    The EOCD is the last occurrence of its signature whose comment length reaches exactly the end of the file.
    When a ZIP64 locator precedes it, `zip64_eocd_offset` says where the ZIP64 record is, and the 16/32-bit values
    are left to `apply_zip64_end_record`.
    """
    position = tail.rfind(_MAGIC["eocd"])
    while position >= 0:
        if position + EOCD.size <= len(tail):
            fields = EOCD.unpack_from(tail, position)
            if position + EOCD.size + fields[7] == len(tail):
                break
        position = tail.rfind(_MAGIC["eocd"], 0, position)
    if position < 0:
        raise ZipFormatError(where, "an end-of-central-directory record in the last bytes", "none")
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = EOCD.unpack_from(tail, position)
    zip64_offset = None
    locator_at = position - ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at:locator_at + 4] == _MAGIC["locator"]:
        _, _, zip64_offset, disks = ZIP64_LOCATOR.unpack_from(tail, locator_at)
        if disks > 1:
            raise PermanentError(f"{where}: multi-disk (split) archives are not supported")
    elif disk or cd_disk:
        raise PermanentError(f"{where}: multi-disk (split) archives are not supported")
    elif entries == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        raise ZipFormatError(where, "a ZIP64 locator before an EOCD with saturated fields", "none")
    return EndRecord(cd_offset, cd_size, entries, tail_offset + position, zip64_offset)


def apply_zip64_end_record(record: bytes, end: EndRecord, where: str) -> EndRecord:
    """Replace the EOCD's values with the 64-bit ones of the ZIP64 EOCD record (`record` starts at its signature)."""
    if len(record) < ZIP64_EOCD.size or record[:4] != _MAGIC["zip64"]:
        raise ZipFormatError(where, f"a ZIP64 end record at offset {end.zip64_eocd_offset}", "another signature")
    _, _, _, _, disk, cd_disk, _, entries, cd_size, cd_offset = ZIP64_EOCD.unpack_from(record)
    if disk or cd_disk:
        raise PermanentError(f"{where}: multi-disk (split) archives are not supported")
    return EndRecord(cd_offset, cd_size, entries, end.eocd_offset, end.zip64_eocd_offset)


def parse_central_directory(data: bytes, entries: int, where: str) -> list[ZipMember]:
    """Parse `entries` central-directory headers that fill `data` exactly."""
    members, position = [], 0
    for index in range(entries):
        if position + CENTRAL_HEADER.size > len(data):
            raise ZipFormatError(where, f"{entries} central-directory entries", f"only {index}")
        fields = CENTRAL_HEADER.unpack_from(data, position)
        if fields[0] != CENTRAL_SIGNATURE:
            raise ZipFormatError(where, f"a central-directory entry at byte {position} of the directory",
                                 f"signature {fields[0]:#010x}")
        flags, method, crc = fields[3], fields[4], fields[7]
        compressed, uncompressed = fields[8], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        header_offset = fields[16]
        start = position + CENTRAL_HEADER.size
        name_bytes = data[start:start + name_length]
        extra = data[start + name_length:start + name_length + extra_length]
        position = start + name_length + extra_length + comment_length
        if position > len(data):
            raise ZipFormatError(where, "entries inside the central directory", f"entry {index} runs past its end")
        uncompressed, compressed, header_offset = _apply_zip64_extra(
            extra, uncompressed, compressed, header_offset, f"{where} entry {index}")
        name = name_bytes.decode("utf-8" if flags & FLAG_UTF8 else "cp437")
        members.append(ZipMember(name, method, flags, crc, compressed, uncompressed, header_offset, name_bytes,
                                 extra_length))
    if position != len(data):
        raise ZipFormatError(where, f"a central directory of {len(data)} bytes", f"{position} bytes of entries")
    return members


def _apply_zip64_extra(extra: bytes, uncompressed: int, compressed: int, offset: int,
                       where: str) -> tuple[int, int, int]:
    """Take the 64-bit values from a ZIP64 extra field for the fields that are saturated (0xFFFFFFFF)."""
    position = 0
    while position + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, position)
        if field_id == ZIP64_EXTRA_ID:
            values = list(struct.unpack_from(f"<{size // 8}Q", extra, position + 4))
            result = []
            for value in (uncompressed, compressed, offset):
                if value == 0xFFFFFFFF:
                    if not values:
                        raise ZipFormatError(where, "a ZIP64 extra field with the saturated values", "too few")
                    value = values.pop(0)
                result.append(value)
            return result[0], result[1], result[2]
        position += 4 + size
    if 0xFFFFFFFF in (uncompressed, compressed, offset):
        raise ZipFormatError(where, "a ZIP64 extra field (saturated size or offset)", "none")
    return uncompressed, compressed, offset


def local_header_lengths(header: bytes, member: ZipMember, where: str) -> int:
    """From the 30 fixed bytes of a member's local header, the length of the name + extra field that follow."""
    if len(header) < LOCAL_HEADER.size:
        raise ZipFormatError(where, f"a {LOCAL_HEADER.size}-byte local header", f"{len(header)} bytes")
    fields = LOCAL_HEADER.unpack_from(header)
    if fields[0] != LOCAL_SIGNATURE:
        raise ZipFormatError(where, f"the local header of {member.name} at offset {member.header_offset}",
                             f"signature {fields[0]:#010x}")
    return fields[9] + fields[10]


def parse_local_header(header: bytes, member: ZipMember, where: str) -> int:
    """Check a member's full local header (fixed part, name, extra) against its central entry; return its data offset.

    The name must match; so must the method and, when the local header records one (no data descriptor), the CRC-32.
    """
    variable = local_header_lengths(header, member, where)
    if len(header) < LOCAL_HEADER.size + variable:
        raise ZipFormatError(where, f"the local header of {member.name} with its name and extra field",
                             f"{len(header)} bytes")
    fields = LOCAL_HEADER.unpack_from(header)
    flags, method, crc, name_length = fields[2], fields[3], fields[6], fields[9]
    name = header[LOCAL_HEADER.size:LOCAL_HEADER.size + name_length]
    if name != member.name_bytes or method != member.method:
        raise ZipFormatError(where, f"the local header of {member.name} (method {member.method})",
                             f"name {name!r}, method {method}")
    if not flags & FLAG_DATA_DESCRIPTOR and crc not in (0, member.crc32):
        raise ZipFormatError(where, f"CRC-32 {member.crc32:08x} in the local header of {member.name}",
                             f"{crc:08x}")
    return member.header_offset + LOCAL_HEADER.size + variable


def read_archive_index(client: HttpClient, url: str, *, tail_bytes: int = TAIL_BYTES) -> ArchiveIndex:
    """Read a remote archive's central directory until two reads agree; raises DownloadError with the URL.

    `tail_bytes` is the first suffix read (the default holds an EOCD with the longest comment plus the ZIP64
    records); a smaller one is widened to the default when the EOCD is not in it.
    """
    return read_until_agreement(client, lambda: _read_index_once(client, url, tail_bytes),
                                f"{url} (central directory)")


def _read_index_once(client: HttpClient, url: str, tail_bytes: int) -> ArchiveIndex:
    tail, size = client.fetch_tail(url, tail_bytes)
    tail_offset = size - len(tail)
    try:
        end = parse_end_record(tail, tail_offset, url)
    except ZipFormatError:
        if len(tail) >= min(size, TAIL_BYTES):
            raise
        tail, size = client.fetch_tail(url, TAIL_BYTES)
        tail_offset = size - len(tail)
        end = parse_end_record(tail, tail_offset, url)
    if end.zip64_eocd_offset is not None:
        record = _slice_or_fetch(client, url, tail, tail_offset, end.zip64_eocd_offset, ZIP64_EOCD.size)
        end = apply_zip64_end_record(record, end, url)
    directory_end = end.eocd_offset if end.zip64_eocd_offset is None else end.zip64_eocd_offset
    if end.cd_offset + end.cd_size > directory_end:
        raise ZipFormatError(url, f"a central directory ending before byte {directory_end}",
                             f"offset {end.cd_offset} + size {end.cd_size}")
    directory = _slice_or_fetch(client, url, tail, tail_offset, end.cd_offset, end.cd_size)
    members = parse_central_directory(directory, end.entries, f"{url} (central directory)")
    for member in members:
        if member.header_offset + LOCAL_HEADER.size + member.compressed_size > end.cd_offset:
            raise ZipFormatError(url, f"{member.name} to lie before the central directory",
                                 f"offset {member.header_offset} + {member.compressed_size} bytes")
    return ArchiveIndex(url, size, tuple(members))


def _slice_or_fetch(client: HttpClient, url: str, tail: bytes, tail_offset: int, offset: int, size: int) -> bytes:
    if size == 0:
        return b""
    if offset >= tail_offset and offset + size <= tail_offset + len(tail):
        return tail[offset - tail_offset:offset - tail_offset + size]
    return client.fetch_range(url, offset, offset + size - 1)
