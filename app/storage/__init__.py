"""Where image files live: one interface, the local and S3 backends side by side, and the factory."""

import importlib

from flask import Flask, current_app

from app.exceptions import StorageUnavailable
from app.storage.base import Storage
from app.storage.keys import check_key, check_prefix, image_prefixes, original_key, upload_key, variant_key
from app.storage.local import LocalStorage

__all__ = [
    "LocalStorage",
    "Storage",
    "build_storage",
    "check_key",
    "check_prefix",
    "delete_image_files",
    "get_storage",
    "image_prefixes",
    "init_app",
    "original_key",
    "upload_key",
    "variant_key",
]


def build_storage(app: Flask) -> Storage:
    """The storage backend named by STORAGE_BACKEND: 'local', 's3', or 'package.module:Class'."""
    backend = app.config["STORAGE_BACKEND"]
    if backend == "local":
        return LocalStorage(app.config["STORAGE_ROOT"])
    if backend == "s3":
        from app.storage.s3 import S3Storage

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
            # A direct upload not yet completed (or refused) may still sit at its upload key.
            storage.delete(upload_key(original))
            storage.delete(original)
        for prefix in prefixes:
            for key in list(storage.keys(prefix)):
                storage.delete(key)
    except OSError as error:
        # A disk that refuses (read-only, permissions, I/O error) is storage unavailable, not a bug.
        raise StorageUnavailable(f"Could not delete from storage: {error.strerror or error}") from error
