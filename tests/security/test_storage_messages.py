"""Local storage failures reach clients as a plain sentence; the path and the OS error go to the log."""

import io
import logging

import pytest

from app.exceptions import StorageUnavailable
from app.storage import LocalStorage
from tests.support.images import encoded

PLAIN = "Storage is unavailable; try again shortly."


@pytest.fixture
def blocked_root(tmp_path):
    """A storage root that is a file, so nothing can be written below it."""
    root = tmp_path / "media-root-secret-name"
    root.write_bytes(b"not a folder")
    return root


def test_upload_to_an_unusable_root_names_no_path(make_app, blocked_root, caplog, monkeypatch):
    app = make_app(STORAGE_ROOT=str(blocked_root))
    # Alembic's fileConfig (run by the in-process upgrade) disabled existing loggers and replaced root's handlers.
    logger = logging.getLogger("app.storage")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    with caplog.at_level(logging.WARNING, logger="app.storage"):
        response = app.test_client().post(
            "/api/images", data={"file": (io.BytesIO(encoded(40, 30)), "a.jpg")}, content_type="multipart/form-data"
        )
    assert response.status_code == 503
    assert response.get_json()["error"] == {"code": "unavailable", "message": PLAIN}
    assert "media-root-secret-name" not in response.get_data(as_text=True)
    assert "media-root-secret-name" in caplog.text


@pytest.mark.parametrize("call", ["save", "check"])
def test_storage_errors_carry_only_the_plain_sentence(blocked_root, call):
    storage = LocalStorage(blocked_root)
    with pytest.raises(StorageUnavailable) as raised:
        storage.save("originals/a.jpg", b"x", "image/jpeg") if call == "save" else storage.check()
    assert raised.value.message == PLAIN
