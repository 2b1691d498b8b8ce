"""The bench-only WSGI app: Pixline as production serves it, plus a bare endpoint that only writes bodies to disk.

Never imported by the app: gunicorn loads it only in `make bench` (bench/stack.py), with the same settings
app/stack.py gives the production server, so the two endpoints share one server and its load.
"""

import os
import uuid
from pathlib import Path

from app import create_app

SINK_PATH = "/bench/sink"
CHUNK = 64 * 1024


class WithSink:
    """Dispatch SINK_PATH to the bare endpoint and everything else to the Pixline app."""

    def __init__(self, app, folder: Path):
        self.app, self.folder = app, folder
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != SINK_PATH:
            return self.app(environ, start_response)
        written = self.write_body(environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0))
        body = b'{"bytes": %d}' % written
        start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def write_body(self, stream, length: int) -> int:
        """Stream the request body, unparsed, to a new file in chunks; its size."""
        written = 0
        with open(self.folder / uuid.uuid4().hex, "wb") as target:
            while written < length:
                chunk = stream.read(min(CHUNK, length - written))
                if not chunk:
                    break
                target.write(chunk)
                written += len(chunk)
        return written


def create_bench_app() -> WithSink:
    """The gunicorn entry point: `bench.wsgi:create_bench_app()`."""
    app = create_app()
    return WithSink(app, Path(os.environ.get("BENCH_SINK_ROOT") or Path(app.config["STORAGE_ROOT"]) / "bench-sink"))
