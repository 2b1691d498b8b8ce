"""CLIENT_TIMEOUT: a client that sends nothing for that long in the middle of its request is dropped with a 408."""

from collections.abc import Iterator
from typing import BinaryIO

from werkzeug.exceptions import RequestTimeout


class TimedInput:
    """The request body stream, where a socket timeout becomes a 408 instead of an unhandled error (a 500)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        """Read up to size bytes of the body."""
        return self._guarded(self.stream.read, size)

    def readline(self, size: int = -1) -> bytes:
        """Read one line of the body."""
        return self._guarded(self.stream.readline, size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read the remaining lines of the body."""
        return self._guarded(self.stream.readlines, hint)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    @staticmethod
    def _guarded(read, argument):
        try:
            return read(argument)
        except TimeoutError:
            raise RequestTimeout("The client sent nothing for too long; the request was dropped.") from None


class ClientTimeout:
    """WSGI middleware: give gunicorn's client socket a timeout of seconds for every read and write of a request."""

    def __init__(self, app, seconds: int):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        client = environ.get("gunicorn.socket")
        if client is not None and self.seconds > 0:
            # gunicorn leaves its sockets blocking without a timeout: a stalled body would hold its client forever.
            client.settimeout(self.seconds)
            environ["wsgi.input"] = TimedInput(environ["wsgi.input"])
        return self.app(environ, start_response)
