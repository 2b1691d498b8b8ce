"""Webhook fixtures: an app whose requests act as a chosen principal, and a way to register endpoints."""

import pytest
from flask import g

from app.pipeline.access import DEFAULT_SCOPES, WEBHOOKS, Principal


@pytest.fixture
def acting_as(app):
    """Make the app's requests act as a principal (a test-only stand-in for app.web.auth's Bearer keys)."""
    holder = {"principal": Principal("alice", frozenset({*DEFAULT_SCOPES, WEBHOOKS}), "key_alice")}

    @app.before_request
    def set_principal():
        g.principal = holder["principal"]

    def act_as(owner_id: str, scopes=frozenset({*DEFAULT_SCOPES, WEBHOOKS})) -> Principal:
        holder["principal"] = Principal(owner_id, frozenset(scopes), f"key_{owner_id}")
        return holder["principal"]

    return act_as
