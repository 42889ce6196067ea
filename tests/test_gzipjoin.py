"""pruneplan.gzipjoin: pieces deflated apart, each by its own compressor, laid end to end into
one gzip member that every gzip reader takes whole, with the right CRC-32 and size."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import zlib

import pytest

from pruneplan.gzipjoin import GzipJoiner, Piece, crc32_combine


def deflated(data: bytes) -> tuple[io.BytesIO, Piece]:
    sink = io.BytesIO()
    piece = Piece(sink, 6)
    for at in range(0, len(data), 1000):  # in writes of its own size, as a spool makes them
        piece.write(data[at:at + 1000])
    piece.end()
    sink.seek(0)
    return sink, piece


def joined(own_and_pieces: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    joiner = GzipJoiner(out, 6)
    for what, data in own_and_pieces:
        if what == "own":
            joiner.write(data)
        else:
            sink, piece = deflated(data)
            joiner.add_piece(sink, piece.crc, piece.size)
    joiner.close()
    return out.getvalue()


# repetitive text, so that a piece would refer back into the bytes before it if it could
PARTS = [("own", b'{"objects":{\n"a":['), ("piece", b'\n{"name":"x"},' * 5000), ("own", b'\n],\n"b":['),
         ("piece", b""), ("own", b'\n],\n"c":['), ("piece", os.urandom(70000) + b'{"name":"x"}' * 3000), ("own", b"\n]}}\n")]
CONTENT = b"".join(data for _, data in PARTS)


def test_pieces_and_own_bytes_form_one_gzip_member_holding_them_in_order():
    member = joined(PARTS)
    reader = zlib.decompressobj(wbits=31)  # gzip framing, one member only: its CRC and size are checked
    assert reader.decompress(member) == CONTENT
    assert reader.eof and reader.unused_data == b""
    assert gzip.decompress(member) == CONTENT


def test_the_gzip_command_accepts_the_joined_member(tmp_path):
    path = tmp_path / "joined.gz"
    path.write_bytes(joined(PARTS))
    checked = subprocess.run(["gzip", "-t", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert subprocess.run(["gzip", "-dc", str(path)], capture_output=True).stdout == CONTENT


def test_the_member_header_names_no_file_and_no_time():
    member = joined(PARTS)
    assert member[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def test_the_same_parts_give_the_same_bytes():
    assert joined(PARTS) == joined(PARTS)


@pytest.mark.parametrize("first, second", [(b"", b""), (b"abc", b""), (b"", b"abc"), (b"x" * 7, os.urandom(1 << 20 | 3))])
def test_crc32_combine_is_the_crc_of_the_two_strings_end_to_end(first, second):
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


def test_a_restarted_piece_holds_only_what_was_written_after_the_restart():
    sink = io.BytesIO()
    piece = Piece(sink, 6)
    piece.write(b"thrown away " * 1000)
    sink.seek(0)
    sink.truncate()
    piece.restart()
    piece.write(b"kept")
    piece.end()
    sink.seek(0)
    out = io.BytesIO()
    joiner = GzipJoiner(out, 6)
    joiner.add_piece(sink, piece.crc, piece.size)
    joiner.close()
    assert gzip.decompress(out.getvalue()) == b"kept"
