"""The retry schedule: backoff with upward jitter, Retry-After honoured, the setting read and checked."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.monitoring import metrics
from app.pipeline.webhooks.retries import parse_retry_after, retry_wait
from app.pipeline.webhooks.sender import Answer
from config import WEBHOOK_RETRY_SCHEDULE, ConfigError, settings_from_env


def test_the_default_schedule_is_the_standard_one():
    hours = 3600
    assert settings_from_env({})["WEBHOOK_RETRY_SCHEDULE"] == WEBHOOK_RETRY_SCHEDULE
    assert (
        5,
        300,
        1800,
        2 * hours,
        5 * hours,
        10 * hours,
        14 * hours,
        20 * hours,
        24 * hours,
    ) == WEBHOOK_RETRY_SCHEDULE


def test_waits_follow_the_schedule_with_jitter_upwards_only_and_then_stop():
    rng = random.Random(7)
    schedule = WEBHOOK_RETRY_SCHEDULE
    waits = [retry_wait(attempt, schedule, rng=rng) for attempt in range(1, len(schedule) + 1)]
    for wait, planned in zip(waits, schedule, strict=True):
        assert planned <= wait <= planned * 1.2
    assert waits == sorted(waits)
    assert retry_wait(len(schedule) + 1, schedule, rng=rng) is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_throttling_answers_is_honoured_up_to_the_longest_wait(status):
    schedule = (5, 60)
    assert retry_wait(1, schedule, Answer(status, 0.1, retry_after="40")) >= 40
    assert retry_wait(1, schedule, Answer(status, 0.1, retry_after="99999")) <= 60
    assert retry_wait(1, schedule, Answer(500, 0.1, retry_after="40")) <= 6


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("120") == 120
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize("raw", ["5,x", "-1", "1;2"])
def test_a_bad_schedule_is_a_config_error(raw):
    with pytest.raises(ConfigError, match="WEBHOOK_RETRY_SCHEDULE"):
        settings_from_env({"WEBHOOK_RETRY_SCHEDULE": raw})


def test_a_short_schedule_and_none_are_read():
    assert settings_from_env({"WEBHOOK_RETRY_SCHEDULE": "1, 4,16"})["WEBHOOK_RETRY_SCHEDULE"] == (1, 4, 16)
    assert settings_from_env({"WEBHOOK_RETRY_SCHEDULE": "none"})["WEBHOOK_RETRY_SCHEDULE"] == ()


def test_webhook_job_results_are_counted_by_outcome():
    before = metrics.REGISTRY.get_sample_value("pixline_webhook_deliveries_total", {"outcome": "gave_up"}) or 0
    metrics.record_webhook_attempt({"webhook_outcome": "gave_up", "status_code": 500, "seconds": 0.2})
    metrics.record_webhook_attempt({"variants": 4})
    after = metrics.REGISTRY.get_sample_value("pixline_webhook_deliveries_total", {"outcome": "gave_up"})
    assert after == before + 1
