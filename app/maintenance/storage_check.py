"""Whether the database's images are in the configured storage: a cheap look at start, so a switched storage warns.

Switching STORAGE_BACKEND (or STORAGE_ROOT, or S3_BUCKET) under an existing database leaves every recorded file
behind: the API lists images whose URLs 404. Web, workers and `make run` call warn_if_storage_moved() at start; it
looks up the originals of the few newest done images (one query, a few HEADs) and says what to do.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.exceptions import StorageUnavailable
from app.extensions import db
from app.models import Image, ImageStatus
from app.storage import get_storage

log = logging.getLogger("pixline.storage")

# Enough to tell "moved" from a one-off missing file, cheap enough for every start (a HEAD each on s3).
SAMPLE = 3


@dataclass(frozen=True)
class Misplaced:
    """Done images whose original the configured storage does not have."""

    missing: int
    sampled: int
    storage: str

    def __str__(self) -> str:
        return (
            f"{self.missing} of the {self.sampled} newest done images have no original in the configured storage "
            f"({self.storage}): their URLs will 404. If STORAGE_BACKEND, STORAGE_ROOT or S3_BUCKET changed under "
            "this database, copy the files with `flask storage migrate --from-backend local --from-root OLD_ROOT` "
            "(README: Moving storage) or switch back; `flask images audit` lists every missing file."
        )


def describe_storage(config: Mapping[str, Any]) -> str:
    """The configured storage in a few words: 'local folder /srv/media' or 's3 bucket pixline at http://…'."""
    backend = config["STORAGE_BACKEND"]
    if backend == "local":
        return f"local folder {config['STORAGE_ROOT']}"
    if backend == "s3":
        endpoint = config["S3_ENDPOINT_URL"]
        return f"s3 bucket {config['S3_BUCKET']}" + (f" at {endpoint}" if endpoint else "")
    return f"plug-in backend {backend}"


def check_storage(sample: int = SAMPLE) -> Misplaced | None:
    """Look for the originals of the newest done images; Misplaced when any is not in the configured storage."""
    newest = select(Image.original_key).where(Image.status == ImageStatus.DONE.value)
    keys = db.session.scalars(newest.order_by(Image.created_at.desc()).limit(sample)).all()
    storage = get_storage()
    missing = sum(1 for key in keys if not storage.exists(key))
    return Misplaced(missing, len(keys), describe_storage(current_app.config)) if missing else None


def warn_if_storage_moved() -> Misplaced | None:
    """Log one warning when the newest done images' files are not in the configured storage (in an app context)."""
    try:
        finding = check_storage()
    except (SQLAlchemyError, StorageUnavailable, OSError) as error:
        # No schema yet, or storage down: nothing to compare; the processes say so themselves when it matters.
        log.info("could not compare the database with the storage at start: %s", error)
        return None
    finally:
        db.session.remove()
    if finding is not None:
        log.warning("%s", finding)
    return finding
