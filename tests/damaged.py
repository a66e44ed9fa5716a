"""Damaged distributions, made from good ones the way disks, networks and attackers damage them."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

from tests.distributions import SampleProject, core_metadata

LOCAL_HEADER = struct.Struct("<4s5H3L2H")
"""A zip local file header: signature, version, flags, method, time, date, crc, sizes, lengths."""
CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
"""A zip central directory header."""


def payload(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes, the same for the same seed."""
    return random.Random(seed).randbytes(size)


def cut(path: Path, fraction: float = 0.5) -> Path:
    """The file cut short, as an interrupted download or copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def flip_byte(path: Path, offset: int) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def member_data_offset(path: Path, name: str) -> int:
    """Where the (compressed) data of a zip member starts in the file."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = path.read_bytes()
    name_length, extra_length = LOCAL_HEADER.unpack_from(data, info.header_offset)[9:]
    return int(info.header_offset + LOCAL_HEADER.size + name_length + extra_length)


def corrupt_member(path: Path, name: str) -> Path:
    """One byte of a member's data changed: its CRC no longer matches."""
    return flip_byte(path, member_data_offset(path, name) + 2)


def patch_zip_member(path: Path, name: str, *, flags: int = 0, method: int | None = None) -> Path:
    """Set flag bits (1: encrypted) or the compression method of a member, in both headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        offsets = _central_offsets(data, len(archive.infolist()))
    local = info.header_offset
    central = offsets[name]
    for at, flag_at, method_at in ((local, 6, 8), (central, 8, 10)):
        old_flags = struct.unpack_from("<H", data, at + flag_at)[0]
        struct.pack_into("<H", data, at + flag_at, old_flags | flags)
        if method is not None:
            struct.pack_into("<H", data, at + method_at, method)
    path.write_bytes(bytes(data))
    return path


def _central_offsets(data: bytearray, count: int) -> dict[str, int]:
    end = data.rindex(b"PK\x05\x06")
    offset = struct.unpack_from("<L", data, end + 16)[0]
    found = {}
    for _ in range(count):
        fields = CENTRAL_HEADER.unpack_from(data, offset)
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        start = offset + CENTRAL_HEADER.size
        found[data[start : start + name_length].decode()] = offset
        offset = start + name_length + extra_length + comment_length
    return found


def metadata_bomb(root: Path, size: int) -> Path:
    """A small wheel whose METADATA inflates to `size` bytes (a long description of spaces)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "bomb-1.0-py3-none-any.whl"
    head = core_metadata("bomb", "1.0").encode() + b"\n"
    chunk = b" " * (1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bomb/__init__.py", b"")
        with archive.open("bomb-1.0.dist-info/METADATA", "w") as member:
            member.write(head)
            written = len(head)
            while written < size:
                member.write(chunk[: size - written])
                written += min(len(chunk), size - written)
        archive.writestr("bomb-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n")
        archive.writestr("bomb-1.0.dist-info/RECORD", b"")
    return path


def member_bomb(root: Path, size: int) -> Path:
    """A valid small wheel with one member that inflates to `size` bytes of zeros."""
    path = SampleProject("zeros", root).wheel("1.0")
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("zeros/data.bin", "w") as member,
    ):
        chunk = bytes(1024 * 1024)
        for _ in range(size // len(chunk)):
            member.write(chunk)
    return path


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def overlapping_zip(path: Path, metadata: bytes, metadata_name: str) -> Path:
    """A zip whose second member's header and data lie inside the first member's data: the
    trick that lets a small zip expand far beyond 1000:1 (each entry reads the same bytes)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("hello_world/inner.py", b"x = 1\n" * 100)
    inner_bytes = inner.getvalue()
    inner_cd_start = struct.unpack_from("<L", inner_bytes, inner_bytes.rindex(b"PK\x05\x06") + 16)[
        0
    ]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(metadata_name, metadata)
        archive.writestr("hello_world/outer.py", inner_bytes[:inner_cd_start])
    data = bytearray(path.read_bytes())
    inner_offset = member_data_offset(path, "hello_world/outer.py")
    end = data.rindex(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack_from("<HLL", data, end + 10)
    entry = bytearray(inner_bytes[inner_cd_start : inner_bytes.rindex(b"PK\x05\x06")])
    struct.pack_into("<L", entry, 42, inner_offset)  # the entry's local header offset
    cd = data[cd_offset:end] + entry
    eocd = bytearray(data[end:])
    struct.pack_into("<HHLL", eocd, 8, count + 1, count + 1, cd_size + len(entry), cd_offset)
    path.write_bytes(bytes(data[:cd_offset] + cd + eocd))
    return path
