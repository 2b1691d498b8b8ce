"""Container health: `healthcheck.py` asks the web role's /healthz; `healthcheck.py --worker` asks Redis whether a
worker of this host is registered (and so heartbeating). Exit status 0 means healthy."""

import os
import socket
import sys
import urllib.request


def web_is_healthy() -> bool:
    """The web server answers /healthz with 200."""
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    with urllib.request.urlopen(url, timeout=3) as response:
        return response.status == 200


def worker_is_healthy() -> bool:
    """A live RQ worker registered from this host (its registration expires without heartbeats)."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3, socket_timeout=3)
    hostname = socket.gethostname()
    return any(worker.hostname == hostname for worker in Worker.all(connection=connection))


def main() -> int:
    """Run the check for the role named on the command line."""
    check = worker_is_healthy if "--worker" in sys.argv[1:] else web_is_healthy
    try:
        return 0 if check() else 1
    except Exception as error:  # noqa: BLE001 - any failure is "unhealthy", said in one line
        print(f"unhealthy: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
