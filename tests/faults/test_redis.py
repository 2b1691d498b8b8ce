"""Redis going away: down during uploads, emptied, restarted without persistence. The database remembers."""

import pytest

from tests.support.images import encoded
from tests.support.polling import wait_for_status

pytestmark = pytest.mark.faults


def upload_many(stack, count: int) -> list[str]:
    """Upload count small distinct images; every one must be accepted."""
    ids = []
    for number in range(count):
        created = stack.upload(encoded(320 + number, 240), f"many-{number}.jpg")
        assert created.status_code == 202, created.get_json()
        assert created.get_json()["status"] == "queued"
        ids.append(created.get_json()["id"])
    return ids


def wait_all_done(stack, image_ids: list[str], timeout: float = 90) -> None:
    """Every image reaches done."""
    for image_id in image_ids:
        image = wait_for_status(stack.client, image_id, {"done", "failed"}, timeout=timeout)
        assert image["status"] == "done", image["error"]


def test_uploads_accepted_while_redis_is_down_reach_done_once_it_is_back(make_fault_stack, own_redis):
    stack = make_fault_stack(own_redis.url)
    stack.start_cron()
    stack.start_worker()
    stack.restart_workers = True
    own_redis.stop()

    image_ids = upload_many(stack, 5)
    own_redis.start()
    wait_all_done(stack, image_ids)


def test_flushall_with_50_images_queued_loses_none(fault_stack):
    image_ids = upload_many(fault_stack, 50)
    assert fault_stack.redis.llen("rq:queue:images") == 50
    fault_stack.redis.flushall()

    fault_stack.start_worker()
    fault_stack.start_worker()
    wait_all_done(fault_stack, image_ids, timeout=120)


def test_redis_restarted_without_persistence_loses_no_queued_image(make_fault_stack, own_redis):
    stack = make_fault_stack(own_redis.url)
    image_ids = upload_many(stack, 10)
    own_redis.stop()
    own_redis.start()
    assert stack.redis.dbsize() == 0

    stack.start_cron()
    stack.start_worker()
    wait_all_done(stack, image_ids)
