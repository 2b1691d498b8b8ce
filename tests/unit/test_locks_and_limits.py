"""Locks that expire under a long reconcile pass or a stalled cron process, and variant names the table can hold."""

import logging

import pytest

from app.imaging.variants import MAX_VARIANT_NAME_CHARS, parse_variant_specs
from app.maintenance import cron, reconcile
from app.models import Variant


@pytest.fixture
def reconcile_log(caplog, monkeypatch):
    """The reconciler's warnings (the migrations' logging.fileConfig disables loggers that existed before it)."""
    monkeypatch.setattr(logging.getLogger("app.maintenance.reconcile"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="app.maintenance.reconcile")
    return caplog


def expire_lock_on_first_settle(monkeypatch, fake_redis, images: list[str]) -> list[str]:
    """Make the reconciler find images and lose its lock (as after 300 s) while it settles the first one."""
    settled = []
    monkeypatch.setattr(
        reconcile, "find_unsettled", lambda: [(image_id, reconcile.Finding.MISSING) for image_id in images]
    )

    def settle(image_id, finding):
        settled.append(image_id)
        fake_redis.delete(reconcile.LOCK_KEY)
        return reconcile.Outcome(image_id, finding, "requeued")

    monkeypatch.setattr(reconcile, "settle", settle)
    return settled


def test_reconcile_pass_outliving_its_lock_finishes_and_says_so(app, fake_redis, monkeypatch, reconcile_log):
    settled = expire_lock_on_first_settle(monkeypatch, fake_redis, ["only"])
    with app.app_context():
        outcomes = reconcile.reconcile(wait_seconds=0)
    assert [outcome.image_id for outcome in outcomes] == settled == ["only"]
    assert "outlived its 300 s lock" in reconcile_log.text


def test_reconcile_pass_stops_settling_once_its_lock_is_lost(app, fake_redis, monkeypatch, reconcile_log):
    settled = expire_lock_on_first_settle(monkeypatch, fake_redis, ["first", "second", "third"])
    with app.app_context():
        outcomes = reconcile.reconcile(wait_seconds=0)
    # Another reconciler may hold the lock by now: the rest is left to it rather than settled twice.
    assert settled == ["first"] and [outcome.image_id for outcome in outcomes] == ["first"]
    assert "expired after 1 of 3 images" in reconcile_log.text
    assert not fake_redis.exists(reconcile.LOCK_KEY)


def test_reconcile_pass_keeps_its_lock_alive_while_working(app, fake_redis, monkeypatch):
    ttls = []
    monkeypatch.setattr(reconcile, "find_unsettled", lambda: [("a", reconcile.Finding.MISSING)] * 2)

    def settle(image_id, finding):
        ttls.append(fake_redis.pttl(reconcile.LOCK_KEY))
        fake_redis.pexpire(reconcile.LOCK_KEY, 1000)  # as if most of its 300 s had gone by
        return reconcile.Outcome(image_id, finding, "requeued")

    monkeypatch.setattr(reconcile, "settle", settle)
    with app.app_context():
        reconcile.reconcile(wait_seconds=0)
    assert ttls[1] > 200_000


def test_cron_whose_lease_expired_before_renewal_takes_it_again(fake_redis):
    scheduler = cron.LeasedCronScheduler(fake_redis, name="stalled")
    assert scheduler.holds_lease()
    owned = scheduler.lease.owned

    def owned_then_expired() -> bool:
        answer = owned()
        fake_redis.delete(cron.LEASE_KEY)  # the lease runs out between the check and the renewal
        return answer

    scheduler.lease.owned = owned_then_expired
    assert scheduler.holds_lease()
    assert fake_redis.get(cron.LEASE_KEY) == scheduler.lease.local.token


def test_cron_whose_lease_was_taken_over_stands_by(fake_redis):
    stalled = cron.LeasedCronScheduler(fake_redis, name="stalled")
    assert stalled.holds_lease()
    owned = stalled.lease.owned
    standby = cron.LeasedCronScheduler(fake_redis, name="standby")

    def owned_then_taken() -> bool:
        answer = owned()
        fake_redis.delete(cron.LEASE_KEY)
        assert standby.holds_lease()
        return answer

    stalled.lease.owned = owned_then_taken
    assert not stalled.holds_lease()
    stalled.lease.owned = lambda: True  # still believes it holds the lease on the way out
    stalled.register_birth()
    stalled.register_death()
    assert fake_redis.get(cron.LEASE_KEY) == standby.lease.local.token


def test_variant_name_limit_matches_the_table_column():
    assert Variant.__table__.c.name.type.length == MAX_VARIANT_NAME_CHARS


def test_variant_name_longer_than_the_table_holds_is_refused():
    parse_variant_specs(f"{'a' * MAX_VARIANT_NAME_CHARS}:100")
    with pytest.raises(ValueError, match="41 characters; at most 40"):
        parse_variant_specs(f"{'a' * (MAX_VARIANT_NAME_CHARS + 1)}:100")
