"""Moving from the local disk to a bucket with `flask storage migrate`: a real S3 HTTP endpoint (moto's server)."""

import pytest
import requests

from tests.conftest import authorize, dispose_app
from tests.s3.conftest import s3_settings
from tests.support.images import encoded
from tests.support.polling import wait_for_status

pytestmark = pytest.mark.integration


def test_local_images_moved_to_a_bucket_are_served_from_it_and_audit_clean(make_stack, s3_endpoint, bucket, tmp_path,
                                                                           bucket_client):  # fmt: skip
    stack = make_stack()
    stack.start_worker()
    image_id = stack.upload(encoded(640, 480)).get_json()["id"]
    assert wait_for_status(stack.client, image_id, {"done", "failed"})["status"] == "done", stack.worker_logs()
    stack.stop()
    local_keys = {path.relative_to(tmp_path / "media").as_posix() for path in (tmp_path / "media").rglob("*.*")}

    # The operator switches to the bucket under the same database: every URL would 404 until the files move.
    stack.env.update(s3_settings(s3_endpoint, bucket))
    dispose_app(stack.app)
    stack.app = stack._build_app()
    client = authorize(stack.app.test_client(), stack.api_key)
    runner = stack.app.test_cli_runner()
    assert runner.invoke(args=["storage", "check"]).exit_code == 1
    moved = runner.invoke(
        args=["storage", "migrate", "--from-backend", "local", "--from-root", str(tmp_path / "media")]
    )
    assert moved.exit_code == 0, moved.output
    assert f"copied {len(local_keys)}, already there 0, missing in the source 0" in moved.output
    assert "audit: clean" in moved.output
    assert {entry["Key"] for entry in bucket_client.list_objects_v2(Bucket=bucket)["Contents"]} == local_keys
    assert runner.invoke(args=["storage", "check"]).exit_code == 0
    image = client.get(f"/api/images/{image_id}").get_json()
    for source in image["variants"]["thumb"]["sources"]:
        assert requests.get(source["url"], timeout=10).status_code == 200
