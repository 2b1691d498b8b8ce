"""Where image files live: a small interface, the local-disk backend, and the factory."""

import contextlib
import hashlib
import importlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

from app.exceptions import StorageUnavailable

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# How often a save makes its folder again when a concurrent delete pruned it away.
SAVE_ATTEMPTS = 3
# One segment of a key: letters, digits, '_', '-' and '.', never starting with a dot (no '.', '..', hidden files).
KEY_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
MAX_KEY_CHARS = 512


def check_key(key: str) -> str:
    """The key itself if it is a plain relative name every backend stores as is; KeyError otherwise.

    Every backend's key goes through here, and so does every served key before it is judged public or private:
    a key with '.'/'..' segments, empty segments, a leading '/', backslashes, control or non-ASCII characters
    (encoded or not, they reach us decoded) would name something else on one backend than on another.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise KeyError(key)
    if not all(KEY_SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise KeyError(key)
    return key


def check_prefix(prefix: str) -> str:
    """A key prefix for listing: empty, or a key (a trailing '/' allowed); KeyError otherwise."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


# 64 bits of SHA-256: two renderings of one variant of one image never share a key by accident.
VARIANT_DIGEST_CHARS = 16


def original_key(image_id: str, extension: str) -> str:
    """The key of an image's original file."""
    return f"originals/{image_id}.{extension}"


def variant_key(image_id: str, name: str, extension: str, content: bytes) -> str:
    """The key of one rendering of a variant: its content's digest is in it, so a key never changes content."""
    # Served `immutable` for a year: a new rendering (reprocess, other settings) must get a new URL, and the
    # same bytes the same one. The image id stays the first segment after variants/ (audit and media read it).
    digest = hashlib.sha256(content).hexdigest()[:VARIANT_DIGEST_CHARS]
    return f"variants/{image_id}/{name}.{digest}.{extension}"


def image_prefixes(image_id: str) -> tuple[str, ...]:
    """Every key prefix under which an image's files live (for an image whose original key is not recorded)."""
    return (f"originals/{image_id}.", f"variants/{image_id}/")


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


def build_storage(app: Flask) -> Storage:
    """The storage backend named by STORAGE_BACKEND: 'local', 's3', or 'package.module:Class'."""
    backend = app.config["STORAGE_BACKEND"]
    if backend == "local":
        return LocalStorage(app.config["STORAGE_ROOT"])
    if backend == "s3":
        from app.s3storage import S3Storage

        return S3Storage.from_app(app)
    if ":" in backend:
        # A plug-in backend (the fault-injecting one in the tests uses this seam).
        module_name, _, class_name = backend.partition(":")
        return getattr(importlib.import_module(module_name), class_name).from_app(app)
    raise ValueError(f"STORAGE_BACKEND must be 'local', 's3' or 'module:Class', not {backend!r}")


def init_app(app: Flask) -> None:
    """Attach the configured storage backend to the app."""
    app.extensions["pixline.storage"] = build_storage(app)


def get_storage() -> Storage:
    """The current app's storage backend."""
    return current_app.extensions["pixline.storage"]


def delete_image_files(storage: Storage, image_id: str, original: str | None = None) -> None:
    """Remove every stored file of an image: the original by its recorded key, the variants by their folder."""
    # With the recorded key no listing of originals/ is needed (on local disk that walks every original there is).
    prefixes = image_prefixes(image_id) if original is None else (f"variants/{image_id}/",)
    try:
        if original is not None:
            storage.delete(original)
        for prefix in prefixes:
            for key in list(storage.keys(prefix)):
                storage.delete(key)
    except OSError as error:
        # A disk that refuses (read-only, permissions, I/O error) is storage unavailable, not a bug.
        raise StorageUnavailable(f"Could not delete from storage: {error.strerror or error}") from error
