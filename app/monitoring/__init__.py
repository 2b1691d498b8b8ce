"""Read-only views for operators: health, metrics, queue statistics, and the dashboard guard."""
