"""A seekable stream over a remote object that fetches only the bytes read: enough to sniff a header cheaply."""

import io
from collections.abc import Callable

# How much one fetch asks for at least: enough for the header of any image we accept.
READ_AHEAD = 64 * 1024


class RangeReader(io.RawIOBase):
    """A seekable view of an object that fetches its prefix on demand, at least READ_AHEAD bytes at a time."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int):
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._prefix = bytearray()
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        self._fill(end)
        chunk = bytes(self._prefix[self._position : end])
        self._position += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def _fill(self, end: int) -> None:
        """Fetch the object up to end, if not fetched yet."""
        start = len(self._prefix)
        if end <= start:
            return
        stop = min(self._size, max(end, start + READ_AHEAD))
        self._prefix += self._fetch(start, stop - 1)
