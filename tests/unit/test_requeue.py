"""Retry, reprocess and requeue mark the row first, conditionally, then enqueue: a fast worker's `done` stays done."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue
from rq.job import JobStatus
from rq.registry import FailedJobRegistry

from app.extensions import db, redis_queue
from app.maintenance import failures
from app.models import Image, ImageStatus
from app.pipeline import images as operations
from app.pipeline.jobs import enqueue_processing, process_image
from tests.support.images import encoded
from tests.unit.test_api import post_file, queued_job_ids
from tests.unit.test_pages import csrf_token, set_status


@pytest.fixture
def fast_worker(monkeypatch):
    """Every enqueued image job runs to the end before the enqueue returns: the fastest worker there can be."""
    enqueue_call = Queue.enqueue_call

    def enqueue_and_run(self, func, args=None, *rest, **options):
        job = enqueue_call(self, func, args, *rest, **options)
        if func is process_image:
            process_image(*args)
        return job

    monkeypatch.setattr(Queue, "enqueue_call", enqueue_and_run)


@pytest.fixture
def failed_image_id(app, client, fake_redis):
    """An uploaded image whose processing failed (and whose job Redis has forgotten)."""
    image_id = post_file(client, encoded(320, 240)).get_json()["id"]
    set_status(app, image_id, ImageStatus.FAILED)
    fake_redis.flushall()
    return image_id


def status_of(app, image_id: str) -> str:
    """The row's status."""
    with app.app_context():
        return db.session.get(Image, image_id).status


def test_api_retry_leaves_an_image_a_fast_worker_finished_done(app, client, failed_image_id, fast_worker):
    assert client.post(f"/api/images/{failed_image_id}/retry").status_code == 202
    assert status_of(app, failed_image_id) == "done"
    assert client.get(f"/api/images/{failed_image_id}").get_json()["variants"]


def test_page_retry_leaves_an_image_a_fast_worker_finished_done(app, client, failed_image_id, fast_worker):
    token = csrf_token(client, f"/images/{failed_image_id}")
    assert client.post(f"/images/{failed_image_id}/retry", data={"csrf_token": token}).status_code == 303
    assert status_of(app, failed_image_id) == "done"


def test_reprocess_leaves_an_image_a_fast_worker_finished_done(app, failed_image_id, fast_worker):
    with app.app_context():
        assert operations.reprocess(failed_image_id) == "requeued"
    assert status_of(app, failed_image_id) == "done"


def test_requeue_from_the_failed_registry_leaves_an_image_a_fast_worker_finished_done(
    app, failed_image_id, fake_redis, monkeypatch
):
    with app.app_context():
        job = enqueue_processing(failed_image_id)
        redis_queue.queue.remove(job.id)
        job.set_status(JobStatus.FAILED)
        FailedJobRegistry(queue=redis_queue.queue).add(job, ttl=600)
    enqueue_call = Queue.enqueue_call

    def enqueue_and_run(self, func, args=None, *rest, **options):
        new_job = enqueue_call(self, func, args, *rest, **options)
        process_image(*args)
        return new_job

    monkeypatch.setattr(Queue, "enqueue_call", enqueue_and_run)
    with app.app_context():
        assert failures.requeue(job.id) == "requeued"
    assert status_of(app, failed_image_id) == "done"


def test_retry_of_a_done_image_is_refused_and_enqueues_nothing(app, client, failed_image_id, fake_redis):
    set_status(app, failed_image_id, ImageStatus.DONE)
    fake_redis.flushall()
    response = client.post(f"/api/images/{failed_image_id}/retry")
    assert response.status_code == 409
    assert "done" in response.get_json()["error"]["message"]
    assert queued_job_ids(app, fake_redis) == []
    assert status_of(app, failed_image_id) == "done"


def test_retry_with_redis_down_is_accepted_and_left_queued_for_the_reconciler(
    app, client, failed_image_id, monkeypatch
):
    def redis_down(*args, **kwargs):
        raise RedisConnectionError("injected: Redis is down")

    monkeypatch.setattr(Queue, "enqueue_call", redis_down)
    response = client.post(f"/api/images/{failed_image_id}/retry")
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    assert status_of(app, failed_image_id) == "queued"
