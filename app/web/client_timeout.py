"""The request body as gunicorn delivers it: a stall of CLIENT_TIMEOUT is a 408, a malformed chunked body a 400.

A body that broke off (stalled, cut short, or chunked with a bad size line) leaves the connection in an unknown
state, so gunicorn is told to close it after the answer instead of reading the rest as the next request.
"""

from collections.abc import Iterator
from typing import BinaryIO

from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import RequestTimeout

from app.exceptions import BadRequest


class TimedInput:
    """The request body stream, where a socket timeout becomes a 408 and a malformed body a 400 (never a 500)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.is_broken = False

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

    def _guarded(self, read, argument):
        try:
            return read(argument)
        except TimeoutError:
            self.is_broken = True
            raise RequestTimeout("The client sent nothing for too long; the request was dropped.") from None
        except (ParseException, NoMoreData) as error:
            # gunicorn's InvalidChunkSize, ChunkMissingTerminator, …, or a body cut short by the client.
            self.is_broken = True
            raise BadRequest(f"The request body is malformed ({type(error).__name__}).") from None


def close_after_answer(start_response) -> None:
    """Have gunicorn close the connection once this answer is sent (its start_response is a Response method)."""
    response = getattr(start_response, "__self__", None)
    if callable(getattr(response, "force_close", None)):
        response.force_close()


class ClientTimeout:
    """WSGI middleware: give gunicorn's client socket a timeout of seconds for every read and write of a request."""

    def __init__(self, app, seconds: int):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        client = environ.get("gunicorn.socket")
        if client is None:
            return self.app(environ, start_response)
        if self.seconds > 0:
            # gunicorn leaves its sockets blocking without a timeout: a stalled body would hold its client forever.
            client.settimeout(self.seconds)
        body = environ["wsgi.input"] = TimedInput(environ["wsgi.input"])

        def answer(status, headers, exc_info=None):
            if body.is_broken:
                close_after_answer(start_response)
            return start_response(status, headers, exc_info)

        return self.app(environ, answer)
