"""Waiting requests (event streams and long-polls) bounded per owner, per client address and per web process.

A waiting request costs little (a greenlet, a socket, a query now and then) but not nothing, and a page token is
free: without a bound one visitor holds thousands and the process answers nobody else. Each owner may hold
MAX_WAITING_PER_OWNER, each client address (an IPv6 /64 counts as one) MAX_WAITING_PER_ADDRESS: past either, 429
`rate_limited` with Retry-After. Each process holds at most MAX_WAITING_PER_PROCESS: past it, 503 `unavailable`.

Owner and address counts live in Redis, shared by every web process: a sorted set per owner and per address whose
members are the open requests, each scored with the time its lease ends (its longest possible life plus a margin).
A request gives its slot back when the server closes its response (a stream's: at its end, when its client vanishes
and the next heartbeat fails, or when its greenlet is killed), or at teardown if it ended without one; a slot whose
process died is dropped when its lease ends. With Redis down the owner and address counts fail open (as RATE_LIMIT
does) and the process bound still holds.
"""

import ipaddress
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, make_response, request
from redis.exceptions import RedisError

from app.exceptions import RateLimited, Unavailable
from app.extensions import redis_queue
from app.web.errors import error_response

log = logging.getLogger(__name__)

KEY_PREFIX = "pixline:waiting"
STREAM_ENDPOINT, LONG_POLL_ENDPOINT = "events.stream_events", "api.get_image"
# A slot outlives its request's longest possible life by this much before a crashed process's slot is dropped.
LEASE_MARGIN_SECONDS = 30
# What a refused client is told to wait, at most (the oldest of its requests may end long before its lease does).
MAX_RETRY_AFTER = 30
PROCESS_RETRY_AFTER = 5

# KEYS: the sorted sets to count in; ARGV: now, lease end, member, then each set's cap. Returns {0} when the member
# was added to every set, else {index of the full set, lease end of its oldest member}.
TAKE_SCRIPT = """
local now, lease_end, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then
    return {i, redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]}
  end
end
local ttl = math.ceil(lease_end - now) + 1
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, lease_end, member)
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end
return {0}
"""


@dataclass(frozen=True)
class Slot:
    """One waiting request's place: its member in the shared sets (if they were reached) and in the process."""

    member: str
    keys: tuple[str, ...]


class ProcessCount:
    """The waiting requests of this process, at most cap."""

    def __init__(self, cap: int):
        self.cap, self.count, self.lock = cap, 0, threading.Lock()

    def take(self) -> bool:
        """Count one more, if there is room."""
        with self.lock:
            if self.count >= self.cap:
                return False
            self.count += 1
            return True

    def give_back(self) -> None:
        """Count one fewer."""
        with self.lock:
            self.count = max(0, self.count - 1)


def waiting_seconds() -> int | None:
    """How long this request may wait at most, if it is a waiting one (an event stream, or a long-poll)."""
    config = current_app.config
    if request.endpoint == STREAM_ENDPOINT:
        return config["EVENT_STREAM_MAX_SECONDS"]
    if request.endpoint == LONG_POLL_ENDPOINT:
        try:
            wait = int(request.args.get("wait") or 0)
        except ValueError:
            return None  # the view refuses it with 400
        return min(wait, config["LONG_POLL_MAX_SECONDS"]) if wait > 0 else None
    return None


def client_address() -> str:
    """The client's address as counted: an IPv4 address, or an IPv6 address's /64 (one subscriber's whole network)."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def counted_sets() -> list[tuple[str, int, str]]:
    """(Redis key, cap, what it counts) of this request: its owner's (unless API_AUTH=off) and its address's."""
    config = current_app.config
    sets = []
    principal = g.get("principal")
    # With API_AUTH=off everyone is one owner: only addresses tell clients apart.
    if principal is not None and config["API_AUTH"] != "off":
        sets.append((f"{KEY_PREFIX}:owner:{principal.owner_id}", config["MAX_WAITING_PER_OWNER"], "owner"))
    sets.append((f"{KEY_PREFIX}:address:{client_address()}", config["MAX_WAITING_PER_ADDRESS"], "address"))
    return sets


def take_shared(sets: list[tuple[str, int, str]], lease_seconds: int) -> tuple[Slot, RateLimited | None]:
    """Count this request in the owner's and address's sets; a refusal if one of them is full."""
    member, now = uuid.uuid4().hex, time.time()
    script = current_app.extensions["pixline.waiting_script"]
    try:
        caps = [cap for _, cap, _ in sets]
        result = script(keys=[key for key, _, _ in sets], args=[now, now + lease_seconds, member, *caps])
    except RedisError as error:
        log.warning("waiting requests not counted per owner and address (Redis: %s)", error)
        return Slot(member, ()), None
    if int(result[0]) == 0:
        return Slot(member, tuple(key for key, _, _ in sets)), None
    _, cap, counted = sets[int(result[0]) - 1]
    oldest_ends = float(result[1]) - LEASE_MARGIN_SECONDS
    retry_after = max(1, min(MAX_RETRY_AFTER, math.ceil(oldest_ends - now)))
    message = f"This {counted} holds {cap} event streams and long-polls already; close one or retry in {retry_after} s."
    return Slot(member, ()), RateLimited(message, retry_after=retry_after)


def give_back_shared(connection, slot: Slot) -> None:
    """Remove the request from the sets it was counted in (if Redis fails, its lease ends it)."""
    if not slot.keys:
        return
    try:
        pipeline = connection.pipeline(transaction=False)
        for key in slot.keys:
            pipeline.zrem(key, slot.member)
        pipeline.execute()
    except RedisError as error:
        log.warning("a waiting request's slot was not given back (Redis: %s); its lease will end it", error)


def take_slot():
    """before_request: count a waiting request against its owner, address and process, or refuse it."""
    seconds = waiting_seconds()
    if seconds is None:
        return None
    process: ProcessCount = current_app.extensions["pixline.waiting_process"]
    if not process.take():
        refusal = Unavailable("This server holds as many waiting requests as it can; try again shortly.")
        refusal.retry_after = PROCESS_RETRY_AFTER
        return make_response(error_response(refusal))
    slot, refusal = take_shared(counted_sets(), seconds + LEASE_MARGIN_SECONDS)
    if refusal is not None:
        process.give_back()
        return make_response(error_response(refusal))
    g.waiting_slot = slot
    return None


def give_back_when_closed(response: Response) -> Response:
    """after_request: the slot goes back when the server closes the response: a long-poll's once it is sent, a
    stream's when it ends, when its client vanishes (the next heartbeat fails) or when its greenlet is killed."""
    slot = g.pop("waiting_slot", None)
    if slot is not None:
        response.call_on_close(releaser(slot))
    return response


def give_back_slot(error: BaseException | None = None) -> None:
    """teardown_request: a waiting request that ended without a response (killed in its view) gives its slot back."""
    slot = g.pop("waiting_slot", None)
    if slot is not None:
        releaser(slot)()


def releaser(slot: Slot) -> Callable[[], None]:
    """A function that gives slot back, callable after the request's context is gone."""
    process: ProcessCount = current_app.extensions["pixline.waiting_process"]
    connection = redis_queue.connection

    def release() -> None:
        process.give_back()
        give_back_shared(connection, slot)

    return release


def init_app(app: Flask) -> None:
    """The process count, the Redis script, and the hooks (after authentication: owners are counted)."""
    app.extensions["pixline.waiting_process"] = ProcessCount(app.config["MAX_WAITING_PER_PROCESS"])
    app.extensions["pixline.waiting_script"] = app.extensions["pixline.redis"].register_script(TAKE_SCRIPT)
    app.before_request(take_slot)
    app.after_request(give_back_when_closed)
    app.teardown_request(give_back_slot)
