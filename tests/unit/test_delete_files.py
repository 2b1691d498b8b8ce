"""Deleting an image touches its own files only: the original by its recorded key, the variants by their folder."""

import pytest

from app.exceptions import StorageUnavailable
from app.storage import LocalStorage, delete_image_files, get_storage
from tests.support.images import encoded
from tests.unit.test_api import post_file, stored_files


class ListingSpy:
    """Wraps the app's storage and records every prefix listed."""

    def __init__(self, storage):
        self.storage, self.listed = storage, []

    def keys(self, prefix: str = ""):
        self.listed.append(prefix)
        return self.storage.keys(prefix)

    def __getattr__(self, name):
        return getattr(self.storage, name)


@pytest.fixture
def spy(app, monkeypatch):
    """The app's storage, spied on."""
    spy = ListingSpy(app.extensions["pixline.storage"])
    monkeypatch.setitem(app.extensions, "pixline.storage", spy)
    return spy


def test_deleting_an_image_never_lists_the_originals_folder(app, client, spy):
    kept = post_file(client, encoded()).get_json()["id"]
    image_id = post_file(client, encoded()).get_json()["id"]
    with app.app_context():
        get_storage().save(f"variants/{image_id}/thumb.webp", b"webp", "image/webp")

    assert client.delete(f"/api/images/{image_id}").status_code == 204
    assert not [prefix for prefix in spy.listed if prefix.startswith("originals")]
    assert spy.listed == [f"variants/{image_id}/"]
    assert [key for key in stored_files(app) if image_id in key] == []
    assert [key for key in stored_files(app) if kept in key] != []


def refuse_unlink(self, *args, **kwargs):
    """Path.unlink on a disk that refuses (a read-only mount, a folder that lost its permissions)."""
    raise PermissionError(13, "Permission denied")


def test_a_disk_error_while_deleting_is_storage_unavailable(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    storage.save("originals/a.jpg", b"jpeg", "image/jpeg")
    monkeypatch.setattr("pathlib.Path.unlink", refuse_unlink)
    with pytest.raises(StorageUnavailable):
        delete_image_files(storage, "a", "originals/a.jpg")


def test_api_delete_on_a_refusing_disk_is_503_then_a_retry_removes_everything(app, client, monkeypatch):
    image_id = post_file(client, encoded()).get_json()["id"]
    with monkeypatch.context() as patch:
        patch.setattr("pathlib.Path.unlink", refuse_unlink)
        refused = client.delete(f"/api/images/{image_id}")
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "unavailable"
    assert client.get(f"/api/images/{image_id}").status_code == 404
    assert client.delete(f"/api/images/{image_id}").status_code == 204
    assert stored_files(app) == []
