"""Clients that keep a web server waiting: long-polls that never see a change, uploads trickled a few bytes a second.

Run as `python -m bench.idle_clients PORT IMAGE_ID --polls N --slow M --ramp R --seconds S` (bench/waiting.py
does): loopback only, it prints `ready` once every client has sent its first bytes, stops at S seconds or when
its stdin closes, and prints one JSON line of counts.
"""

import argparse
import asyncio
import contextlib
import json
import sys
import time

from app.web_server import raise_open_files_limit

CONNECT_BATCH = 100
TRICKLE_BYTES_PER_SECOND = 4


class Counts:
    """What the clients saw, printed at the end."""

    def __init__(self):
        self.polls_answered = self.polls_late = self.polls_failed = 0
        self.slow_dropped = self.slow_reconnects = 0
        self.slow_hold_seconds: list[float] = []

    def as_dict(self) -> dict:
        """The counts as JSON-ready values."""
        holds = sorted(self.slow_hold_seconds)
        return {
            "polls_answered": self.polls_answered,
            "polls_late": self.polls_late,
            "polls_failed": self.polls_failed,
            "slow_dropped": self.slow_dropped,
            "slow_median_hold_s": round(holds[len(holds) // 2], 1) if holds else None,
        }


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def long_poll(port: int, image_id: str, wait: int, status: str, counts: Counts, stop: asyncio.Event) -> None:
    """Long-poll one image over a kept-alive connection until stopped; reconnect if the server closes it."""
    request = f"GET /api/images/{image_id}?wait={wait}&status={status} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts.polls_failed += 1
            await asyncio.sleep(1)
            continue
        try:
            while not stop.is_set():
                started = time.monotonic()
                writer.write(request)
                await writer.drain()
                await asyncio.wait_for(read_response(reader), wait + 30)
                counts.polls_answered += 1
                counts.polls_late += time.monotonic() - started > wait + 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            counts.polls_failed += not stop.is_set()
        finally:
            writer.close()


async def slow_upload(port: int, in_headers: bool, counts: Counts, stop: asyncio.Event) -> None:
    """Send an upload a few bytes a second, in its headers or in its body; reconnect when the server drops it."""
    head = b"POST /api/images HTTP/1.1\r\nHost: bench\r\n"
    if not in_headers:
        head += b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000\r\n\r\n"
    while not stop.is_set():
        connected = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(1)
            continue
        try:
            writer.write(head + (b"X-Slow: " if in_headers else b"--b\r\n"))
            while not stop.is_set():
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1024), 1 / TRICKLE_BYTES_PER_SECOND)
                    break  # the server answered or closed: either way it let go of us
                except TimeoutError:
                    writer.write(b"a")
        except OSError:
            pass
        finally:
            writer.close()
        if not stop.is_set():
            counts.slow_dropped += 1
            counts.slow_hold_seconds.append(time.monotonic() - connected)


async def run(args: argparse.Namespace) -> Counts:
    """Start every client in batches, say `ready`, and stop them all at the deadline or when stdin closes."""
    counts, stop = Counts(), asyncio.Event()
    tasks = []
    total = args.polls + args.slow
    # Starts spread over --ramp seconds: waiting clients then re-poll at a steady rate, as independent ones do,
    # instead of all at the same instant every --wait seconds.
    pause = max(0.05, args.ramp / max(1, total / CONNECT_BATCH))
    for number in range(total):
        if number < args.polls:
            client = long_poll(args.port, args.image_id, args.wait, args.status, counts, stop)
        else:
            client = slow_upload(args.port, (number - args.polls) % 2 == 0, counts, stop)
        tasks.append(asyncio.create_task(client))
        if number % CONNECT_BATCH == CONNECT_BATCH - 1:
            await asyncio.sleep(pause)
    await asyncio.sleep(0.5)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(stdin_closed), args.seconds)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts


def main() -> None:
    """Parse the command line, run the clients, print their counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("image_id")
    parser.add_argument("--polls", type=int, default=100)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--wait", type=int, default=20)
    parser.add_argument("--status", default="done")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--ramp", type=float, default=0, help="spread the clients' starts over this many seconds")
    args = parser.parse_args()
    raise_open_files_limit()
    counts = asyncio.run(run(args))
    print(json.dumps(counts.as_dict()), flush=True)


if __name__ == "__main__":
    main()
