"""Kept for old imports: the image handling now lives in app.imaging."""

from app.imaging import *  # noqa: F403
