"""The Storage protocol, checked the same way against every backend: local disk and S3."""

import io

import pytest

from app.storage import LocalStorage, delete_image_files


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    """Each backend in turn, empty."""
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    return request.getfixturevalue("s3_storage")


def test_saved_bytes_read_back_with_their_size(storage):
    assert storage.save("variants/a/thumb.webp", b"hello", "image/webp") == 5
    with storage.open("variants/a/thumb.webp") as stored:
        assert stored.read() == b"hello"


def test_save_takes_a_stream_from_its_position(storage):
    stream = io.BytesIO(b"0123456789")
    assert storage.save("originals/a.jpg", stream, "image/jpeg") == 10
    with storage.open("originals/a.jpg") as stored:
        assert stored.read() == b"0123456789"


def test_save_replaces_what_was_there(storage):
    storage.save("variants/a/thumb.webp", b"first", "image/webp")
    storage.save("variants/a/thumb.webp", b"second!", "image/webp")
    with storage.open("variants/a/thumb.webp") as stored:
        assert stored.read() == b"second!"
    assert storage.size("variants/a/thumb.webp") == 7


def test_exists_follows_save_and_delete(storage):
    assert not storage.exists("originals/b.png")
    storage.save("originals/b.png", b"png", "image/png")
    assert storage.exists("originals/b.png")
    storage.delete("originals/b.png")
    assert not storage.exists("originals/b.png")


def test_deleting_a_missing_key_is_not_an_error(storage):
    storage.delete("variants/nothing/here.webp")


def test_opening_a_missing_key_raises_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.open("originals/missing.jpg")


def test_keys_lists_exactly_the_prefix_in_order(storage):
    for key in ["variants/a/small.webp", "variants/a/thumb.webp", "variants/ab/thumb.webp", "originals/a.jpg"]:
        storage.save(key, b"x", "image/webp")
    assert list(storage.keys("variants/a/")) == ["variants/a/small.webp", "variants/a/thumb.webp"]
    assert list(storage.keys("originals/a.")) == ["originals/a.jpg"]
    assert list(storage.keys("variants/zzz/")) == []


def test_delete_image_files_removes_every_file_of_that_image_only(storage):
    for key in ["originals/a.jpg", "variants/a/thumb.webp", "variants/a/large.webp", "originals/b.jpg"]:
        storage.save(key, b"x", "image/jpeg")
    delete_image_files(storage, "a")
    assert list(storage.keys("")) == ["originals/b.jpg"]


def test_check_passes_when_the_storage_answers(storage):
    storage.check()


def test_url_names_the_key(storage):
    assert "variants/a/thumb.webp" in storage.url("variants/a/thumb.webp")
