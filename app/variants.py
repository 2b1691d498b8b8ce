"""Kept for old imports: variant specs now live in app.imaging.variants."""

from app.imaging.variants import *  # noqa: F403
