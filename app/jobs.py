"""Old home of the image job: RQ keeps `app.pipeline.jobs.process_image` in jobs queued before the package layout.

Queued jobs, scheduled retries and the failed registry name this path (and the failure callback's) for up to
FAILURE_TTL after an upgrade; keep it importable until then. New jobs name app.pipeline.jobs.
"""

from app.pipeline.jobs import on_processing_failure, process_image

__all__ = ["on_processing_failure", "process_image"]
