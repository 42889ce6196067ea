"""One gzip member (RFC 1952) assembled from pieces deflated apart, each in its own time.

A piece is deflated by a compressor of its own and ends with a full flush: it starts on a byte
boundary, refers to no byte before it, and carries no final-block mark. Pieces laid one after
another therefore form one valid deflate stream (RFC 1951), which `GzipJoiner.close` ends with
a final block. The member's CRC-32 is combined from the pieces' own CRCs and sizes, so no piece
is read again. The dump writer uses this to deflate each kind's objects while they are still
being listed, instead of all of them once the last list is done.
"""

from __future__ import annotations

import shutil
import zlib
from typing import IO, Protocol

# ID1 ID2, deflate, no flags, no modification time, no extra flags, OS unknown: what gzip.GzipFile
# writes for filename="" and mtime=0 at a level other than 1 or 9, so nothing in it varies
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_RAW_DEFLATE = -zlib.MAX_WBITS  # no zlib header or trailer: gzip's own frame holds the checks
_ZEROS = bytes(1 << 20)


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> object: ...


def crc32_combine(crc_first: int, crc_second: int, second_size: int) -> int:
    """The CRC-32 of two byte strings laid end to end, from each one's CRC and the second's size.

    CRC-32 with zlib's start and final XOR is affine in (start value, data) over GF(2):
    crc(B, start) = crc(B, 0) ^ crc(zeros, start) ^ crc(zeros, 0) for zeros as long as B, and
    crc(A + B) is crc(B, crc(A)). The zeros cost one pass of zlib's crc32 over their length."""
    with_start, without = crc_first, 0
    left = second_size
    while left:
        chunk = memoryview(_ZEROS)[:min(left, len(_ZEROS))]
        with_start = zlib.crc32(chunk, with_start)
        without = zlib.crc32(chunk, without)
        left -= len(chunk)
    return crc_second ^ with_start ^ without


class Piece:
    """Deflates what is written into `sink`, keeping the CRC-32 and size of the input."""

    def __init__(self, sink: BinarySink, level: int) -> None:
        self._sink = sink
        self._level = level
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, _RAW_DEFLATE)
        self.crc = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._sink.write(self._compressor.compress(data))

    def end(self) -> None:
        """Flush: the piece now ends on a byte boundary and the next one may follow it."""
        self._sink.write(self._compressor.flush(zlib.Z_FULL_FLUSH))

    def restart(self) -> None:
        """Forget what was written: the caller empties the sink (a list that starts over)."""
        self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, _RAW_DEFLATE)
        self.crc = 0
        self.size = 0


class GzipJoiner:
    """Writes one gzip member to `out`: bytes of its own, and pieces deflated elsewhere."""

    def __init__(self, out: BinarySink, level: int) -> None:
        self._out = out
        self._own = Piece(out, level)  # never restarted: a full flush ends each run of own bytes
        self._crc = 0
        self._size = 0
        out.write(GZIP_HEADER)

    def write(self, data: bytes) -> None:
        self._own.write(data)

    def _end_own(self) -> None:
        """Close the current run of own bytes and fold it into the member's CRC."""
        if self._own.size:
            self._own.end()
            self._crc = crc32_combine(self._crc, self._own.crc, self._own.size)
            self._size += self._own.size
            self._own.crc = self._own.size = 0

    def add_piece(self, deflated: IO[bytes], crc: int, size: int) -> None:
        """A piece that ended (`Piece.end`): its deflated bytes, read from the start of
        `deflated`, and the CRC-32 and size of what it holds."""
        self._end_own()
        shutil.copyfileobj(deflated, self._out)
        self._crc = crc32_combine(self._crc, crc, size)
        self._size += size

    def close(self) -> None:
        """The final block and the trailer: CRC-32 and size (modulo 2**32), little-endian."""
        self._end_own()
        self._out.write(zlib.compressobj(0, zlib.DEFLATED, _RAW_DEFLATE).flush(zlib.Z_FINISH))
        self._out.write(self._crc.to_bytes(4, "little") + (self._size & 0xFFFFFFFF).to_bytes(4, "little"))
