"""Noisy neighbour: quotas hold against cookie-less visits and parallel uploads, and another owner is unharmed."""

import pytest

from tests.isolation.conftest import create_key
from tests.isolation.database import database_settings
from tests.isolation.quota_race import ParallelUploads
from tests.isolation.quota_visits import CookielessVisits
from tests.support.images import corpus_photo

RACER_PHOTO = "wood_2560x1920.jpg"  # 525 kB: twelve of them are twice a 3 MB quota

pytestmark = pytest.mark.integration


def test_cookie_less_visits_share_one_daily_quota_and_another_owner_is_unharmed(start_stack, victim_of):
    stack = start_stack(QUOTA_UPLOADS_PER_DAY="4", **database_settings())
    victim = victim_of(stack)
    visits = CookielessVisits(stack, corpus_photo(RACER_PHOTO), visits=5, per_visit=2).run()
    victim.assert_unharmed()
    assert visits.accepted() == 4, visits.answers
    assert set(visits.refusals()) == {(429, "rate_limited")}


def test_parallel_uploads_never_pass_the_byte_quota_and_another_owner_is_unharmed(start_stack, victim_of):
    quota = 3_000_000
    stack = start_stack(QUOTA_BYTES=str(quota), **database_settings())
    victim = victim_of(stack)
    racer = create_key(stack, "racer")
    race = ParallelUploads(stack, racer, corpus_photo(RACER_PHOTO), uploads=12).run()
    victim.assert_unharmed()
    usage = stack.request("GET", "/api/usage", racer).json()
    assert usage["original_bytes"] <= quota, f"{usage['original_bytes']} bytes stored under a quota of {quota}"
    assert race.accepted() <= quota // corpus_photo(RACER_PHOTO).stat().st_size
    assert race.refusals() and set(race.refusals()) == {(403, "quota_exceeded")}


def test_parallel_uploads_never_pass_the_daily_quota(start_stack, victim_of):
    stack = start_stack(QUOTA_UPLOADS_PER_DAY="4", **database_settings())
    victim = victim_of(stack)
    racer = create_key(stack, "racer")
    race = ParallelUploads(stack, racer, corpus_photo(RACER_PHOTO), uploads=12).run()
    victim.assert_unharmed()
    assert race.accepted() == 4, race.answers
    assert set(race.refusals()) == {(429, "rate_limited")}
    assert stack.request("GET", "/api/usage", racer).json()["uploads_today"] == 4
