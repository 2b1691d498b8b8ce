"""LocalStorage.save against a delete that prunes the folder it is writing into, interleaved by hand (no timing)."""

import io
import os
import shutil
import tempfile

import pytest

from app.exceptions import StorageUnavailable
from app.storage import LocalStorage
from app.storage import local as storage_module


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    """An empty local storage."""
    return LocalStorage(tmp_path / "media")


def read(storage: LocalStorage, key: str) -> bytes:
    """The stored bytes of key."""
    with storage.open(key) as stored:
        return stored.read()


def test_save_survives_a_delete_that_prunes_its_folder_before_the_write(storage, monkeypatch):
    storage.save("variants/a/small.webp", b"small", "image/webp")
    real_temporary_file = tempfile.NamedTemporaryFile
    interleaved = []

    def delete_the_last_sibling_first(*args, **kwargs):
        if not interleaved:
            # save has made (found) variants/a/; the delete of its only file now removes the folder.
            interleaved.append(True)
            storage.delete("variants/a/small.webp")
            assert not (storage.root / "variants").exists()
        return real_temporary_file(*args, **kwargs)

    monkeypatch.setattr(storage_module.tempfile, "NamedTemporaryFile", delete_the_last_sibling_first)
    assert storage.save("variants/a/thumb.webp", b"thumb", "image/webp") == 5
    assert read(storage, "variants/a/thumb.webp") == b"thumb"
    assert list(storage.keys("")) == ["variants/a/thumb.webp"]


def test_save_of_a_stream_rewrites_it_whole_when_the_folder_vanished_before_the_rename(storage, monkeypatch):
    real_replace = os.replace
    vanished = []

    def folder_gone_first(source, target):
        if not vanished:
            vanished.append(True)
            shutil.rmtree(os.path.dirname(target))
        return real_replace(source, target)

    monkeypatch.setattr(storage_module.os, "replace", folder_gone_first)
    stream = io.BytesIO(b"header:0123456789")
    stream.seek(7)
    assert storage.save("originals/a.jpg", stream, "image/jpeg") == 10
    assert read(storage, "originals/a.jpg") == b"0123456789"
    assert [path.name for path in storage.root.rglob(".tmp-*")] == []


def test_a_folder_that_keeps_vanishing_is_storage_unavailable(storage, monkeypatch):
    def always_gone(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(storage_module.tempfile, "NamedTemporaryFile", always_gone)
    with pytest.raises(StorageUnavailable):
        storage.save("variants/a/thumb.webp", b"thumb", "image/webp")
