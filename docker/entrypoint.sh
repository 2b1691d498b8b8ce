#!/bin/sh
# Container roles: web (default), worker [worker.py options], cron, dashboard, migrate; anything else runs as given.
set -eu

# Samples of processes that no longer exist would be summed forever: every container starts with an empty folder.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
    web)
        exec gunicorn --config docker/gunicorn.conf.py "app:create_app()"
        ;;
    worker)
        exec python worker.py "$@"
        ;;
    cron)
        exec python -m app.maintenance.cron "$@"
        ;;
    dashboard)
        : "${DASHBOARD_PASSWORD:?the dashboard needs DASHBOARD_PASSWORD}"
        export RQ_DASHBOARD_REDIS_URL="${REDIS_URL:?the dashboard needs REDIS_URL}"
        export RQ_DASHBOARD_USERNAME="${DASHBOARD_USERNAME:-admin}"
        export RQ_DASHBOARD_PASSWORD="$DASHBOARD_PASSWORD"
        exec rq-dashboard --json --bind 0.0.0.0 --port "${DASHBOARD_PORT:-9181}"
        ;;
    migrate)
        exec flask --app app db upgrade
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
