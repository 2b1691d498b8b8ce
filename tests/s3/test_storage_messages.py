"""What a client reads when object storage is down: a plain sentence and the code, never the internal endpoint."""

import io
import logging

from app.models import Image
from tests.s3.conftest import S3Endpoint
from tests.s3.direct import JPEG, send, start
from tests.support.images import encoded

PLAIN = "Storage is unavailable; try again shortly."


def assert_plain_503(response, endpoint: S3Endpoint, bucket: str) -> None:
    """503 unavailable with the plain sentence, and nothing that names the storage."""
    assert response.status_code == 503
    assert response.get_json()["error"] == {"code": "unavailable", "message": PLAIN}
    text = response.get_data(as_text=True)
    for secret in (endpoint.url, "127.0.0.1", str(endpoint.port), bucket, "Could not connect", "botocore"):
        assert secret not in text


def test_upload_with_storage_down_tells_the_client_nothing_about_the_endpoint(make_s3_app, bucket, caplog, monkeypatch):
    make_s3_app()
    dead = S3Endpoint()
    app = make_s3_app(S3_ENDPOINT_URL=dead.url, S3_MAX_ATTEMPTS=1)
    # Alembic's fileConfig (run by the in-process upgrade) disabled existing loggers and replaced root's handlers.
    logger = logging.getLogger("app.storage.s3_client")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    with caplog.at_level(logging.WARNING, logger="app.storage.s3_client"):
        response = app.test_client().post(
            "/api/images", data={"file": (io.BytesIO(encoded(40, 30)), "a.jpg")}, content_type="multipart/form-data"
        )
    assert_plain_503(response, dead, bucket)
    # The operator still learns what failed, in the log.
    assert dead.url in caplog.text


def test_complete_with_storage_down_tells_the_client_nothing_about_the_endpoint(make_s3_app, s3_endpoint, bucket):
    live = make_s3_app()
    body = start(live.test_client()).get_json()
    send(body["upload"], JPEG)
    dead = S3Endpoint()
    app = make_s3_app(S3_ENDPOINT_URL=dead.url, S3_MAX_ATTEMPTS=1)
    assert_plain_503(app.test_client().post(body["complete_url"]), dead, bucket)


def test_a_job_failing_on_storage_records_no_endpoint_on_the_image(make_s3_app, bucket):
    from app.pipeline.jobs import process_image

    live = make_s3_app()
    created = live.test_client().post(
        "/api/images", data={"file": (io.BytesIO(JPEG), "a.jpg")}, content_type="multipart/form-data"
    )
    dead = S3Endpoint()
    app = make_s3_app(S3_ENDPOINT_URL=dead.url, S3_MAX_ATTEMPTS=1)
    with app.app_context():
        try:
            process_image(created.get_json()["id"])
        except Exception as error:  # noqa: BLE001 - what the failure callback would record
            message = getattr(error, "message", str(error))
        else:
            raise AssertionError("processing with storage down succeeded")
        assert Image.query.count() == 1
    assert message == PLAIN
