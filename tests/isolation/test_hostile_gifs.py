"""Noisy neighbour: an owner uploading GIFs whose frames grow their canvas does not starve another owner's upload.

Before frame sizes were checked, the within-the-limit GIFs (100 frames composited on a 7000x7000 canvas) each held a
worker for minutes at ~0.9 GB, so the victim's photo waited behind them; the past-the-limit ones (9000x9000) were
accepted too, and took 1.35 GB each.
"""

import pytest

from tests.isolation.hostile_gifs import HostileGifAttack, PeakMemory

pytestmark = pytest.mark.integration

# The costliest photo `make run` accepts (a 50 MP RGBA PNG) peaks at ~470 MB in a worker; the attack must cost less.
WORKER_PEAK_MB = 640
# How long the accepted hostile GIFs may take, all of them, to reach a final status.
ATTACK_SETTLED_SECONDS = 60


def test_growing_gifs_are_refused_or_cheap_and_the_victim_is_unharmed(start_stack, victim_of):
    stack = start_stack()
    victim = victim_of(stack)
    with PeakMemory(stack) as memory:
        attack = HostileGifAttack(stack).start()
        run = victim.assert_unharmed()
        uploads = attack.settle(ATTACK_SETTLED_SECONDS)
    refused = [(upload.status, upload.code) for upload in uploads if upload.image_id is None]
    accepted = [upload.final for upload in uploads if upload.final]
    finals = [(image["status"], image["variants"]["large"]["animated"]) for image in accepted]
    assert refused == [(422, "too_many_pixels")] * attack.rounds
    assert finals == [("done", False)] * attack.rounds
    print(f"victim: 202 in {run.answer_seconds:.2f} s, done in {run.done_seconds:.1f} s", end="; ")
    print(f"worker peak {memory.peak_mb:.0f} MB")
    assert memory.peak_mb < WORKER_PEAK_MB, f"a worker process peaked at {memory.peak_mb:.0f} MB"
