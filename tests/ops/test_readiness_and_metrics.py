"""/readyz names what is down; /metrics speaks Prometheus and counts uploads, jobs and queue state."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.stack import free_port
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until


def samples(response) -> dict[tuple, float]:
    """(name, sorted labels) → value of every sample in a Prometheus text response."""
    text = response.get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_stays_cheap(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_each_dependency_with_latency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["down"] == []
    assert set(body["checks"]) == {"database", "redis", "storage"}
    assert all(check["ok"] and check["latency_ms"] >= 0 for check in body["checks"].values())


@pytest.mark.integration
def test_readyz_names_redis_when_it_is_down(make_stack):
    stack = make_stack(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    response = stack.client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["redis"]
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]


def test_metrics_count_refused_uploads_by_code(client):
    before = (
        samples(client.get("/metrics")).get(("pixline_uploads_total", (("code", "no_file"), ("outcome", "refused"))))
        or 0
    )
    client.post("/api/images", data={}, content_type="multipart/form-data")
    after = samples(client.get("/metrics"))
    assert after[("pixline_uploads_total", (("code", "no_file"), ("outcome", "refused")))] == before + 1


@pytest.mark.integration
def test_metrics_show_images_queues_workers_and_job_durations(make_stack, tmp_path, monkeypatch):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stack = make_stack(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    stack.start_worker()
    image_id = stack.upload(encoded()).get_json()["id"]
    wait_for_status(stack.client, image_id, "done")
    photo = encoded(640, 480)
    truncated_id = stack.upload(photo[: len(photo) // 2]).get_json()["id"]
    wait_for_status(stack.client, truncated_id, "failed")
    # The in-process app reads the worker's samples through the shared folder, as gunicorn's processes do.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    duration_count = ("pixline_job_duration_seconds_count", (("outcome", "finished"), ("queue", "images")))
    # The worker counts the job once its work horse has exited, a moment after the row says done.
    values = wait_until(
        lambda: (v := samples(stack.client.get("/metrics"))).get(duration_count) and v, 30, what="job metric"
    )
    failures = ("pixline_processing_failures_total", (("code", "invalid_image"),))
    values = wait_until(lambda: (v := samples(stack.client.get("/metrics"))).get(failures) and v, 30, what="failure")
    assert values[duration_count] == 1
    assert values[failures] == 1
    assert values[("pixline_images", (("status", "done"),))] == 1
    assert values[("pixline_images", (("status", "failed"),))] == 1
    assert values[("pixline_workers", ())] == 1
    assert values[("pixline_queue_jobs", (("queue", "images"), ("registry", "queued")))] == 0
    assert values[("pixline_queue_jobs", (("queue", "images"), ("registry", "finished")))] == 1
