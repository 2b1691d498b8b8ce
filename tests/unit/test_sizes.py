"""Sizes as the page shows them: binary units as the README states them, the same text from Python and the script."""

import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from app.stack import announce
from app.web.sizes import filesize
from tests.support.images import encoded

README = Path(__file__).resolve().parents[2] / "README.md"
UPLOAD_JS = Path(__file__).resolve().parents[2] / "app" / "static" / "upload.js"
SAMPLES = [0, 1, 999, 1000, 1023, 1024, 1075, 1076, 1250, 14_540, 1_048_524, 1_048_525, 1_048_576, 1_000_000,
           25 * 1024 * 1024, 26_214_399, 2_500_000_000, 7 * 10**15]  # fmt: skip


@pytest.mark.parametrize(
    ("count", "text"),
    [(812, "812 B"), (1023, "1023 B"), (1024, "1 KiB"), (14_540, "14.2 KiB"), (1_048_576, "1 MiB"),
     (26_214_400, "25 MiB"), (1_048_524, "1023.9 KiB"), (1_048_525, "1 MiB"), (3_328_599_655, "3.1 GiB")],
)  # fmt: skip
def test_sizes_are_binary_as_the_readme_states_limits(count, text):
    assert filesize(count) == text


def browser_filesize(counts: list[int]) -> list[str]:
    """What upload.js's filesize() prints for each count (run by node)."""
    source = UPLOAD_JS.read_text()
    function = re.search(r"^  function filesize\(count\) \{\n.*?^  \}$", source, re.M | re.S).group(0)
    script = f"{function}\nconsole.log(JSON.stringify({json.dumps(counts)}.map(filesize)));"
    return json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)


def test_page_script_formats_sizes_exactly_as_the_server():
    assert browser_filesize(SAMPLES) == [filesize(count) for count in SAMPLES]


def test_upload_page_states_the_default_limit_as_the_readme_does(app, client):
    assert app.config["MAX_UPLOAD_BYTES"] == 25 * 1024 * 1024
    assert "up to 25 MiB" in client.get("/").get_data(as_text=True)
    assert "`26214400` (25 MiB)" in README.read_text()


def test_oversized_upload_is_told_the_limit(app, client):
    app.config["MAX_UPLOAD_BYTES"] = 10_000
    app.config["MAX_CONTENT_LENGTH"] = 10_000 + 64 * 1024
    data = encoded(fmt="PNG") + b"\0" * 100_000
    response = client.post(
        "/api/images", data={"file": (io.BytesIO(data), "a.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert "9.8 KiB (10,000 bytes)" in response.get_json()["error"]["message"]


def test_too_many_form_parts_are_told_the_limit(client):
    form = {f"field{i}": "x" for i in range(50)}
    form["file"] = (io.BytesIO(encoded()), "a.jpg")
    response = client.post("/api/images", data=form, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "at most 20 parts" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(("workers", "text"), [(1, "1 worker,"), (2, "2 workers,")])
def test_banner_counts_workers_in_words(workers, text, monkeypatch, capsys):
    monkeypatch.setenv("DASHBOARD_USERNAME", "admin")
    monkeypatch.setenv("DASHBOARD_PASSWORD", "x")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    announce("127.0.0.1", 5000, workers, "pxl_0123_secret", Path("instance/api_key"))
    out = capsys.readouterr().out
    assert text in out
    # The local key is shown beside the dashboard password, with a curl line that reads it from its file.
    assert "pxl_0123_secret" in out and "Bearer $(cat instance/api_key)" in out
