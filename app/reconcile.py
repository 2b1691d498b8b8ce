"""Old home of the reconcile task: periodic jobs enqueued before the package layout name this path."""

from app.maintenance.reconcile import reconcile_all

__all__ = ["reconcile_all"]
