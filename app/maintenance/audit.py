"""The delivery invariant, checked: what `flask images audit` reports and every fault test asserts.

1. Every image row is terminal (`done`/`failed`) or has a live RQ job; none is stuck `deleting`.
2. Every `done` row has a variant row per configured variant, and every variant row's file is stored.
3. No stored file lacks its row: each original belongs to an image, each variant file to a variant row
   (or to an image still in progress, whose files are written before its rows).
"""

from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app
from rq.job import Job
from sqlalchemy import select

from app.extensions import db, redis_queue
from app.imaging.variants import parse_variant_specs
from app.maintenance.reconcile import diagnose
from app.models import Image, ImageStatus, Variant
from app.pipeline.jobs import job_id_for
from app.storage import get_storage


@dataclass(frozen=True)
class Problem:
    """One broken invariant."""

    kind: str  # "no live job", "unfinished delete", "missing variant", "missing file", "orphan file"
    subject: str  # an image id or a storage key
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}\t{self.subject}\t{self.detail}"


def audit() -> list[Problem]:
    """Every broken invariant, rows first, then files."""
    statuses = dict(db.session.execute(select(Image.id, Image.status)).all())
    in_progress = {image_id for image_id, status in statuses.items() if not ImageStatus(status).is_terminal}
    deleting = {image_id for image_id, status in statuses.items() if status == ImageStatus.DELETING}
    # An upload still awaiting its file waits for the client, not for a job.
    awaiting = {image_id for image_id, status in statuses.items() if status == ImageStatus.AWAITING_UPLOAD}
    problems = list(unfinished_without_job(in_progress - deleting - awaiting))
    problems += unfinished_deletes(deleting)
    problems += done_without_variants({image_id for image_id, s in statuses.items() if s == ImageStatus.DONE})
    problems += files_without_rows(set(statuses), in_progress)
    db.session.rollback()
    return problems


def unfinished_without_job(image_ids: set[str]) -> Iterator[Problem]:
    """Rows queued or processing whose job is missing, dead or over."""
    ordered = sorted(image_ids)
    jobs = Job.fetch_many(
        [job_id_for(image_id) for image_id in ordered],
        connection=redis_queue.connection,
        serializer=redis_queue.queue.serializer,
    )
    abandoned_after = current_app.config["ABANDONED_AFTER_SECONDS"]
    waiting = set(redis_queue.queue.get_job_ids()) if ordered else set()
    for image_id, job in zip(ordered, jobs, strict=True):
        finding = diagnose(job, abandoned_after, waiting)
        if finding is not None:
            yield Problem("no live job", image_id, f"job {finding.value}")


def unfinished_deletes(image_ids: set[str]) -> Iterator[Problem]:
    """Rows a delete marked `deleting` but has not removed yet (their files are accounted for by them)."""
    for image_id in sorted(image_ids):
        yield Problem("unfinished delete", image_id, "deleting: a retried DELETE or the reconciler finishes it")


def done_without_variants(image_ids: set[str]) -> Iterator[Problem]:
    """Done rows missing a configured variant, or whose variant file is not stored."""
    wanted = {spec.name for spec in parse_variant_specs(current_app.config["IMAGE_VARIANTS"])}
    storage = get_storage()
    recorded: dict[str, set[str]] = {image_id: set() for image_id in image_ids}
    for variant in db.session.scalars(select(Variant).where(Variant.image_id.in_(image_ids))) if image_ids else []:
        recorded[variant.image_id].add(variant.name)
        if not storage.exists(variant.key):
            yield Problem("missing file", variant.image_id, f"variant {variant.name}: {variant.key} is not stored")
    for image_id, names in recorded.items():
        for name in sorted(wanted - names):
            yield Problem("missing variant", image_id, f"no {name} variant recorded")


def files_without_rows(image_ids: set[str], in_progress: set[str]) -> Iterator[Problem]:
    """Stored files that no row accounts for."""
    storage = get_storage()
    variant_keys = set(db.session.scalars(select(Variant.key)))
    for key in storage.keys("originals/"):
        image_id = key.removeprefix("originals/").partition(".")[0]
        if image_id not in image_ids:
            yield Problem("orphan file", key, "original of no image")
    for key in storage.keys("variants/"):
        image_id = key.removeprefix("variants/").partition("/")[0]
        if key not in variant_keys and image_id not in in_progress:
            yield Problem("orphan file", key, "variant file no variant row names")
