"""The local-disk backend: files under a root folder, written atomically, keys confined to the root."""

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.exceptions import StorageUnavailable
from app.storage.keys import check_key, check_prefix

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# How often a save makes its folder again when a concurrent delete pruned it away.
SAVE_ATTEMPTS = 3


class LocalStorage:
    """Files under a root folder on the local disk, written atomically."""

    def __init__(self, root: str | os.PathLike, url_prefix: str = "/media/"):
        self.root = Path(root).resolve()
        self.url_prefix = url_prefix

    def path(self, key: str) -> Path:
        """The file path of key, refusing any key that is not a plain name or would leave the root."""
        # The resolve check stays behind check_key: a symlink planted under the root must not lead out of it.
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise KeyError(key)
        return path

    def save(self, key: str, source: BinaryIO | bytes, content_type: str) -> int:
        path = self.path(key)
        start = None if isinstance(source, bytes | bytearray | memoryview) else source.tell()
        try:
            for _ in range(SAVE_ATTEMPTS - 1):
                try:
                    return _write_atomically(path, source)
                except FileNotFoundError:
                    # A delete pruned the (then empty) folder between our mkdir and our write: make it again.
                    if start is not None:
                        source.seek(start)
            return _write_atomically(path, source)
        except OSError as error:
            raise unavailable(f"could not write {key}", error) from error

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise
        except OSError as error:
            raise unavailable(f"could not read {key}", error) from error

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        """The stored size of key in bytes."""
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        _remove_quietly(self.path(key))
        self._prune_empty_parents(self.path(key).parent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        # Walk only the folder the prefix points into, not the whole root.
        check_prefix(prefix)
        folder = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if not folder.is_dir() or not folder.resolve().is_relative_to(self.root):
            return
        for path in sorted(folder.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and not path.name.startswith(".tmp-") and key.startswith(prefix):
                yield key

    def url(self, key: str) -> str:
        return self.url_prefix + check_key(key)

    def etag(self, key: str) -> str:
        """A validator that changes when the file does."""
        stat = self.path(key).stat()
        return hashlib.sha1(f"{key}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise unavailable(f"storage root {self.root} is not writable")
        except OSError as error:
            raise unavailable(f"storage root {self.root} cannot be used", error) from error

    def _prune_empty_parents(self, folder: Path) -> None:
        """Remove folders that deleting a file left empty, up to the root."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _write_atomically(path: Path, source: BinaryIO | bytes) -> int:
    """Write beside the target, then rename: readers never see half a file. Returns the size written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as tmp:
            if isinstance(source, bytes | bytearray | memoryview):
                tmp.write(source)
            else:
                shutil.copyfileobj(source, tmp, CHUNK)
            size = tmp.tell()
        os.replace(tmp.name, path)
    except BaseException:
        _remove_quietly(Path(tmp.name) if tmp is not None else None)
        raise
    return size


def unavailable(detail: str, error: OSError | None = None) -> StorageUnavailable:
    """StorageUnavailable with the plain sentence clients see; the detail (paths, OS errors) goes to the log."""
    log.warning("local storage: %s%s", detail, f" ({error})" if error else "")
    return StorageUnavailable()


def _remove_quietly(path: Path | None) -> None:
    """Delete a file if it is there."""
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
