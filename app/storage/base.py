"""The storage interface: what Pixline needs from a place that keeps files."""

from collections.abc import Iterator
from typing import BinaryIO, Protocol


class Storage(Protocol):
    """What Pixline needs from a place that keeps files."""

    def save(self, key: str, source: BinaryIO | bytes, content_type: str) -> int:
        """Store the bytes under key (atomically) and return their size."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the stored file."""

    def exists(self, key: str) -> bool:
        """Whether a file is stored under key."""

    def delete(self, key: str) -> None:
        """Remove the file under key; a missing file is not an error."""

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key that starts with prefix."""

    def url(self, key: str) -> str:
        """A URL a browser can fetch the file from."""

    def check(self) -> None:
        """Raise StorageUnavailable unless the storage answers."""
