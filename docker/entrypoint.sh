#!/bin/sh
# Container roles: web (default), worker [worker.py options], cron, dashboard, migrate; anything else runs as given.
set -eu

# Samples of processes that no longer exist would be summed forever, so the folder starts empty, but only when no
# live process uses it: every role holds a shared lock on it for its whole life (fd 9, kept through exec), and only
# a start that gets the lock exclusively clears it. Roles sharing a folder and starting at once never delete each
# other's files (an `rm -rf` each raced, and one failed on the files another had just created).
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec 9>>"$PROMETHEUS_MULTIPROC_DIR/.in-use"
    if flock --exclusive --nonblock 9; then
        find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 ! -name .in-use -delete
    fi
    flock --shared 9
fi

role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
    web)
        # gunicorn itself reads (and refuses, in its own words) FORWARDED_ALLOW_IPS before its config file runs.
        python -m app.settings --check "pixline web"
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
