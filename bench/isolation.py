"""Table 8: a victim beside each noisy neighbour — its upload's answer and its time to done, alone and under attack.

Each scenario starts a `make run` stack of its own on default settings (`API_AUTH=required`, two web processes, two
workers), starts one attack of the noisy-neighbour suite (tests/isolation/) and has the victim, another owner with a
key of its own, upload a photo and follow it to done, `rounds` times. The attacks are the suite's own classes, so the
bench measures exactly what the tests bound.
"""

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.report import Table
from tests.isolation.conftest import VICTIM_PHOTO, Victim, create_key
from tests.isolation.hostile_gifs import HostileGifAttack
from tests.isolation.slow_uploads import SlowUploads
from tests.isolation.stream_flood import StreamFlood, event_stream, page_token
from tests.isolation.webhook_flood import LOOPBACK_RECEIVERS, WebhookFlood
from tests.support.images import corpus_photo
from tests.support.stack import RunningStack

# An attack runs while its context is open; what it yields tells, when asked, what the attacker got.
Outcome = Callable[[], str]
Attack = Callable[[RunningStack], contextlib.AbstractContextManager[Outcome]]


@contextlib.contextmanager
def no_attack(stack: RunningStack) -> Iterator[Outcome]:
    """The victim alone: the reference row."""
    yield lambda: "-"


@contextlib.contextmanager
def slow_uploads(stack: RunningStack) -> Iterator[Outcome]:
    """100 keyed uploads trickling their bodies (they held the database pool before issue 22)."""
    attack = SlowUploads(stack.url, create_key(stack, "slowpoke"), 100).start()
    try:
        yield lambda: "100 bodies trickling (each 408 client_timeout once it stalls)"
    finally:
        attack.stop()


@contextlib.contextmanager
def stream_flood(stack: RunningStack) -> Iterator[Outcome]:
    """3,000 event streams opened with one page token."""
    flood = StreamFlood(stack.url, [(page_token(stack.url), event_stream())], 3000).start()
    try:
        yield lambda: ", ".join(f"{count} × {label}" for label, count in sorted(flood.tally().items()))
    finally:
        flood.stop()


@contextlib.contextmanager
def hostile_gifs(stack: RunningStack) -> Iterator[Outcome]:
    """GIFs whose frames grow their canvas past the header (and past MAX_IMAGE_PIXELS)."""
    attack = HostileGifAttack(stack).start()
    try:
        yield lambda: ", ".join(sorted({f"{upload.status} {upload.code or ''}".strip() for upload in attack.uploads}))
    finally:
        with contextlib.suppress(AssertionError):
            attack.settle(60)


@contextlib.contextmanager
def webhook_flood(stack: RunningStack) -> Iterator[Outcome]:
    """30 `/test` calls to a receiver that accepts and never answers."""
    flood = WebhookFlood(stack, calls=30)
    flood.run()
    try:
        yield lambda: f"{len(flood.refusals())} of {flood.calls} calls refused 429"
    finally:
        flood.stop()


SCENARIOS: tuple[tuple[str, dict[str, str], Attack], ...] = (
    ("alone", {}, no_attack),
    ("100 slow keyed uploads", {}, slow_uploads),
    ("3,000 event streams, one token", {}, stream_flood),
    ("hostile growing GIFs", {}, hostile_gifs),
    ("30 webhook tests, silent receiver", LOOPBACK_RECEIVERS, webhook_flood),
)


def victim_runs(stack: RunningStack, rounds: int) -> list[tuple[float, float]]:
    """The victim's (seconds to 202, seconds to done), rounds times in a row."""
    victim = Victim(stack)
    runs = []
    for _ in range(rounds):
        run = victim.upload_and_follow(corpus_photo(VICTIM_PHOTO))
        runs.append((run.answer_seconds, run.done_seconds if run.done_seconds is not None else float("nan")))
    return runs


def scenario(name: str, settings: dict[str, str], attack: Attack, rounds: int, folder: Path) -> dict:
    """One row: a fresh stack, the attack started, the victim's runs measured under it."""
    stack = RunningStack(folder / f"{name[:12]}.log", INSTANCE_PATH=str(folder / name[:12]), **settings)
    stack.start()
    try:
        with attack(stack) as outcome:
            runs = victim_runs(stack, rounds)
            attacker = outcome()
    finally:
        stack.stop()
    answers, dones = [answer for answer, _ in runs], [done for _, done in runs]
    return {
        "attack": name,
        "victim 202 p50 ms": round(statistics.median(answers) * 1000, 1),
        "victim 202 max ms": round(max(answers) * 1000, 1),
        "victim done p50 s": round(statistics.median(dones), 2),
        "victim done max s": round(max(dones), 2),
        "attacker got": attacker,
    }


def measure(rounds: int, names: tuple[str, ...] | None = None) -> Table:
    """The scenarios of SCENARIOS named (default: all), each on a fresh stack."""
    table = Table(
        "isolation",
        f"8. Noisy neighbours: a victim's upload ({VICTIM_PHOTO}) beside each attack, {rounds} round(s), make run",
        ["attack", "victim 202 p50 ms", "victim 202 max ms", "victim done p50 s", "victim done max s", "attacker got"],
    )
    with tempfile.TemporaryDirectory(prefix="pixline-bench-isolation-") as folder:
        for name, settings, attack in SCENARIOS:
            if names is not None and name not in names:
                continue
            started = time.monotonic()
            table.add(**scenario(name, settings, attack, rounds, Path(folder)))
            table.notes.append(f"{name}: {time.monotonic() - started:.0f} s")
    alone = table.rows[0]["victim done max s"]
    worst = max(row["victim done max s"] for row in table.rows)
    table.judge(
        f"the victim's worst time to done under attack within 3 × alone ({alone} s): {worst} s", worst <= 3 * alone
    )
    return table
