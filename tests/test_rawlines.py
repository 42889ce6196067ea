"""Reading a dump's lines (pruneplan/rawlines.py): plain or gzip (several members too), the lines,
the file's sha256 and the errors of truncated or corrupt gzip data."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import zlib
from pathlib import Path

import pytest

from pruneplan.rawlines import CHUNK, read_head, read_line_batches


def lines_of(path: Path) -> tuple[list[bytes], str]:
    digest = hashlib.sha256()
    lines = [line for batch in read_line_batches(str(path), digest) for line in batch]
    return lines, digest.hexdigest()


@pytest.fixture()
def big_gzip(tmp_path: Path) -> tuple[Path, list[bytes]]:
    # several chunks of compressed bytes (random text compresses little), two gzip members,
    # lines of uneven length
    noise = random.Random(7)
    lines = [(b'{"n":%d,"pad":"' % n) + noise.randbytes(n % 2500).hex().encode() + b'"}' for n in range(3000)]
    path = tmp_path / "dump.json.gz"
    half = len(lines) // 2
    path.write_bytes(gzip.compress(b"\n".join(lines[:half]) + b"\n") + gzip.compress(b"\n".join(lines[half:]) + b"\n"))
    return path, lines


def test_a_gzip_file_gives_its_lines_and_the_sha256_of_its_raw_bytes(big_gzip) -> None:
    path, expected = big_gzip
    assert path.stat().st_size > CHUNK  # lines cut by chunk boundaries are joined again
    lines, hexdigest = lines_of(path)
    assert lines == expected
    assert hexdigest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_plain_file_gives_its_lines_and_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    content = b"".join(b"line %d %s\n" % (n, b"y" * (n % 3000)) for n in range(2000)) + b"last"
    path.write_bytes(content)
    lines, hexdigest = lines_of(path)
    assert lines == content.split(b"\n")
    assert hexdigest == hashlib.sha256(content).hexdigest()


def test_a_truncated_gzip_raises_eoferror(big_gzip, tmp_path: Path) -> None:
    path, _ = big_gzip
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(EOFError, match="compressed file ended before the end-of-stream marker was reached"):
        lines_of(cut)


def test_a_bad_checksum_raises_zlib_error(big_gzip, tmp_path: Path) -> None:
    path, _ = big_gzip
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # the last member's CRC32
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(zlib.error, match="incorrect data check"):
        lines_of(bad)


def test_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        lines_of(tmp_path / "missing.json.gz")


def test_read_head_gives_the_first_bytes_of_the_content_across_gzip_members(big_gzip, tmp_path: Path) -> None:
    path, expected = big_gzip
    content = b"\n".join(expected) + b"\n"
    size = len(gzip.decompress(path.read_bytes())) // 2 + 7  # reaches into the second member
    assert read_head(str(path), size) == content[:size]
    plain = tmp_path / "plain.json"
    plain.write_bytes(content)
    assert read_head(str(plain), 100) == content[:100]
    assert read_head(str(plain), len(content) + 100) == content  # shorter: all of it


def test_read_head_inflates_only_the_start_of_the_file(tmp_path: Path) -> None:
    # 4 MiB of content whose compressed bytes are garbage after the first 64 KiB: reading the
    # head succeeds only if it stops inflating early
    compressed = bytearray(gzip.compress(os.urandom(1 << 21).hex().encode()))
    compressed[64 * 1024:] = b"\xff" * (len(compressed) - 64 * 1024)
    path = tmp_path / "big.json.gz"
    path.write_bytes(bytes(compressed))
    assert len(read_head(str(path), 80)) == 80
    with pytest.raises((zlib.error, EOFError)):  # the whole file is not readable
        lines_of(path)


def test_a_reader_that_stops_early_ends_the_inflating_thread(big_gzip) -> None:
    import threading

    path, _ = big_gzip
    batches = read_line_batches(str(path))
    assert next(batches)  # the thread has started and runs ahead
    batches.close()
    assert not [t for t in threading.enumerate() if t.name == "pruneplan-inflate"]
