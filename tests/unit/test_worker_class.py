"""WORKER_CLASS picks the worker: prefork by default, fork and simple on request, anything else refused."""

import pytest

from worker import PixlinePreforkWorker, PixlineSimpleWorker, PixlineWorker, build_worker


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(None, PixlinePreforkWorker), ("fork", PixlineWorker), ("simple", PixlineSimpleWorker)],
)
def test_worker_class_setting_picks_the_worker(app, kind, expected):
    if kind is not None:
        app.config["WORKER_CLASS"] = kind
    else:
        app.config.pop("WORKER_CLASS", None)
    with app.app_context():
        assert type(build_worker(app)) is expected


def test_default_worker_class_setting_is_prefork():
    from config import settings_from_env

    assert settings_from_env({})["WORKER_CLASS"] == "prefork"


def test_unknown_worker_class_is_refused_naming_the_choices(app):
    app.config["WORKER_CLASS"] = "threads"
    with app.app_context(), pytest.raises(ValueError, match="prefork, fork, simple"):
        build_worker(app)
