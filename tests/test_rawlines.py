"""Reading a dump's lines: in one process, with a thread inflating, or with a forked process
inflating, the lines, the file's sha256 and the errors are the same."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import pytest

from pruneplan import rawlines
from pruneplan.rawlines import FileDigest, read_line_batches

MODES = ["inline", "thread", "process"]


def lines_of(path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes], str]:
    monkeypatch.setattr(rawlines, "fork_is_safe", lambda: mode == "process")
    digest = FileDigest()
    lines = [line for batch in read_line_batches(str(path), digest, background=mode != "inline") for line in batch]
    return lines, digest.hexdigest()


@pytest.fixture()
def big_gzip(tmp_path: Path) -> tuple[Path, list[bytes]]:
    # several pipe-fulls, two gzip members, lines of uneven length
    lines = [(b'{"n":%d,"pad":"' % n) + b"x" * (n % 5000) + b'"}' for n in range(3000)]
    path = tmp_path / "dump.json.gz"
    half = len(lines) // 2
    path.write_bytes(gzip.compress(b"\n".join(lines[:half]) + b"\n") + gzip.compress(b"\n".join(lines[half:]) + b"\n"))
    return path, lines


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_reads_the_same_lines_and_hash(big_gzip, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected = big_gzip
    lines, hexdigest = lines_of(path, mode, monkeypatch)
    assert lines == expected
    assert hexdigest == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", MODES)
def test_a_truncated_gzip_raises_eoferror_in_every_mode(big_gzip, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = big_gzip
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(EOFError, match="compressed file ended before the end-of-stream marker was reached"):
        lines_of(cut, mode, monkeypatch)


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_checksum_raises_zlib_error_in_every_mode(big_gzip, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = big_gzip
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # the last member's CRC32
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(zlib.error, match="incorrect data check"):
        lines_of(bad, mode, monkeypatch)


def test_stopping_early_ends_the_inflating_process(big_gzip, monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected = big_gzip
    monkeypatch.setattr(rawlines, "fork_is_safe", lambda: True)
    batches = read_line_batches(str(path), FileDigest(), background=True)
    assert next(batches)[0] == expected[0]
    batches.close()
    with pytest.raises(ChildProcessError):  # reaped: no child left, not even a zombie
        os.waitpid(-1, os.WNOHANG)


def test_read_head_gives_the_first_bytes_of_the_content_across_gzip_members(big_gzip, tmp_path: Path) -> None:
    path, expected = big_gzip
    content = b"\n".join(expected) + b"\n"
    size = len(gzip.decompress(path.read_bytes())) // 2 + 7  # reaches into the second member
    assert rawlines.read_head(str(path), size) == content[:size]
    plain = tmp_path / "plain.json"
    plain.write_bytes(content)
    assert rawlines.read_head(str(plain), 100) == content[:100]
    assert rawlines.read_head(str(plain), len(content) + 100) == content  # shorter: all of it


def test_read_head_inflates_only_what_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(os.urandom(1 << 21).hex().encode()))  # 4 MiB of content, 2 MiB compressed
    inflated: list[int] = []
    real = rawlines._inflated_chunks

    def counting(*args, **kwargs):
        for data in real(*args, **kwargs):
            inflated.append(len(data))
            yield data

    monkeypatch.setattr(rawlines, "_inflated_chunks", counting)
    assert len(rawlines.read_head(str(path), 80)) == 80
    assert sum(inflated) < 64 * 1024
