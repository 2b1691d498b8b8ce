"""The format a negotiated variant URL answers in, by Accept header (pure: no app, no files)."""

import pytest
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from app.web.negotiation import choose_format

CHROMIUM_IMG = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
OLD_SAFARI_IMG = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"


def accept(header: str | None) -> MIMEAccept:
    """Accept as Werkzeug parses it from a request."""
    return parse_accept_header(header, MIMEAccept) if header is not None else MIMEAccept()


@pytest.mark.parametrize(
    ("header", "stored", "chosen"),
    [
        (CHROMIUM_IMG, ["avif", "webp"], "avif"),
        ("image/avif", ["avif", "webp"], "avif"),
        ("image/webp,*/*", ["avif", "webp"], "webp"),
        ("image/avif;q=0,image/webp", ["avif", "webp"], "webp"),
        ("*/*", ["avif", "webp"], "webp"),
        ("*/*", ["avif", "webp", "jpeg"], "jpeg"),
        (None, ["avif", "webp", "jpeg"], "jpeg"),
        (None, ["avif", "webp"], "webp"),
        (OLD_SAFARI_IMG, ["avif", "webp", "png"], "png"),
        ("image/webp", ["webp", "avif"], "webp"),
        ("image/avif", ["webp"], "webp"),
        ("image/webp;q=0,*/*", ["avif", "webp"], "avif"),
        ("image/jpeg;q=0,image/png", ["jpeg", "png"], "png"),
    ],
)
def test_the_best_format_accept_allows_is_chosen(header, stored, chosen):
    assert choose_format(stored, accept(header)) == chosen
