"""Log lines: JSON when LOG_FORMAT=json, each line of a job's work carrying its image id and job id."""

import json
import logging

import pytest

from app import logs
from tests.support.images import encoded
from tests.support.polling import wait_for_status, wait_until


def format_line(log_format: str, message: str, **ids: str) -> str:
    """Format one record the way a configured handler would, with ids bound."""
    handler = logs.build_handler(log_format)
    record = logging.LogRecord("pixline.test", logging.INFO, __file__, 1, message, (), None)
    with logs.bound(**ids):
        handler.filter(record)
        return handler.format(record)


def test_json_line_carries_the_bound_ids():
    entry = json.loads(format_line("json", "rendering", image_id="abc", job_id="image-abc"))
    assert entry["message"] == "rendering" and entry["level"] == "info" and entry["logger"] == "pixline.test"
    assert entry["image_id"] == "abc" and entry["job_id"] == "image-abc"


def test_text_line_names_the_ids():
    assert "[image_id=abc] [job_id=image-abc]: rendering" in format_line(
        "text", "rendering", image_id="abc", job_id="image-abc"
    )


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_token_in_a_logged_url_is_redacted(log_format):
    line = format_line(log_format, "GET /api/events?ids=a&access_token=pxe_SECRET.abc&x=1 failed")
    assert "pxe_SECRET" not in line and "access_token=[redacted]&x=1" in line


def test_ids_are_unbound_after_the_block():
    with logs.bound(image_id="abc"):
        pass
    assert logs.current_context() == {}


@pytest.mark.integration
def test_worker_logs_every_line_of_a_job_with_its_ids_as_json(make_stack):
    stack = make_stack(LOG_FORMAT="json")
    stack.start_worker()
    image_id = stack.upload(encoded()).get_json()["id"]
    wait_for_status(stack.client, image_id, "done")
    job_id = f"image-{image_id}"

    def entries():
        return [json.loads(line) for line in stack.worker_logs().splitlines() if line.startswith("{")]

    wait_until(lambda: any("Job OK" in entry["message"] for entry in entries()), 30, what="the job to be logged done")
    lines = [entry for entry in entries() if entry.get("job_id") == job_id]
    assert lines and all(entry["image_id"] == image_id for entry in lines)
    assert any("Job OK" in entry["message"] for entry in lines)
    # Nothing about this job was logged without its ids, except the line that takes it off the queue.
    unbound = [entry for entry in entries() if job_id in entry["message"] and "job_id" not in entry]
    assert len(unbound) <= 1, unbound
