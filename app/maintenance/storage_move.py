"""Moving to another storage: copy every file the database records from the former storage to the configured one.

`flask storage migrate --from-backend local --from-root OLD_ROOT` runs copy_recorded_files(). A file the target
already has is left alone, so the copy can be run again after an interruption (saves are atomic on both backends:
an interrupted copy leaves no half file) and again after new uploads; it never deletes anything from either side.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.imaging.formats import OUTPUT_FORMATS
from app.models import Image, ImageStatus, Variant, VariantFile
from app.storage import LocalStorage, Storage

# Rows whose files are not where the database says yet (an upload still on its way) or no longer (a delete).
SKIPPED_STATUSES = (ImageStatus.AWAITING_UPLOAD.value, ImageStatus.DELETING.value)


@dataclass
class CopyReport:
    """What a copy did, file by file."""

    copied: int = 0
    present: int = 0
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"copied {self.copied}, already there {self.present}, missing in the source {len(self.missing)}"


def former_storage(backend: str, root: str | None, bucket: str | None, target: Storage) -> Storage:
    """The storage to copy from: a local folder, or another bucket on the configured S3 endpoint and credentials."""
    if backend == "local":
        if not root or not Path(root).is_dir():
            raise ValueError(f"--from-root must name the former STORAGE_ROOT folder, not {root!r}")
        if isinstance(target, LocalStorage) and Path(root).resolve() == target.root:
            raise ValueError(f"--from-root {root} is the configured STORAGE_ROOT: there is nothing to copy")
        return LocalStorage(root)
    if not bucket:
        raise ValueError("--from-backend s3 needs --from-bucket (the former S3_BUCKET)")
    from app.storage.s3 import S3Storage

    if isinstance(target, S3Storage) and bucket == target.bucket:
        raise ValueError(f"--from-bucket {bucket} is the configured S3_BUCKET: there is nothing to copy")
    return S3Storage.from_config({**current_app.config, "S3_BUCKET": bucket, "S3_CREATE_BUCKET": False})


def recorded_files() -> Iterator[tuple[str, str]]:
    """(key, content type) of every file the database records: originals, then each variant's files."""
    live = Image.status.not_in(SKIPPED_STATUSES)
    yield from db.session.execute(select(Image.original_key, Image.content_type).where(live)).all()
    variants = select(Variant.key, Variant.format).join(Image, Variant.image_id == Image.id).where(live)
    for key, output_format in db.session.execute(variants).all():
        kind = OUTPUT_FORMATS.get(output_format)
        yield key, kind.content_type if kind else "application/octet-stream"
    files = select(VariantFile.key, VariantFile.content_type).join(Variant, VariantFile.variant_id == Variant.id)
    yield from db.session.execute(files.join(Image, Variant.image_id == Image.id).where(live)).all()


def copy_file(source: Storage, target: Storage, key: str, content_type: str) -> str:
    """Copy one file unless the target has it: 'copied', 'present' or 'missing' (not in the source either)."""
    if target.exists(key):
        return "present"
    try:
        stream = source.open(key)
    except FileNotFoundError:
        return "missing"
    with stream:
        target.save(key, stream, content_type)
    return "copied"


def recorded_file_list() -> list[tuple[str, str]]:
    """Every recorded file once, as (key, content type), read in one go (the copy then holds no transaction)."""
    files = list(dict(recorded_files()).items())
    db.session.rollback()
    return files


def copy_files(source: Storage, target: Storage, files: Iterable[tuple[str, str]]) -> CopyReport:
    """Copy each (key, content type) from source to target unless the target has it already."""
    report = CopyReport()
    for key, content_type in files:
        outcome = copy_file(source, target, key, content_type)
        if outcome == "missing":
            report.missing.append(key)
        elif outcome == "present":
            report.present += 1
        else:
            report.copied += 1
    return report
