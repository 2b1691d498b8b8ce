"""Old home of the direct-upload cleanup task: periodic jobs enqueued before the package layout name this path."""

from app.pipeline.direct import cleanup_expired_uploads

__all__ = ["cleanup_expired_uploads"]
