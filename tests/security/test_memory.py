"""Memory budget: a real worker (`python worker.py --burst`) working through a stream of 50-megapixel uploads.

The figure is the peak resident set of the largest process involved (the worker or one of its work horses),
read from getrusage(RUSAGE_CHILDREN) in a wrapper process, so nothing else on the machine is counted.
"""

import io
import subprocess
import sys

import pytest
from PIL import Image

from tests.conftest import ROOT
from tests.support.polling import wait_for_status

pytestmark = pytest.mark.integration

FIFTY_MEGAPIXELS = (8660, 5773)  # 49,994,180 pixels: just under MAX_IMAGE_PIXELS
# Measured on the 2-core dev box: ~120 MB for the JPEGs (decoded at 1/4 scale), ~470 MB for the RGBA PNGs (full
# decode, 200 MB, plus its premultiplied copy), ~860 MB for the WebPs (libwebp's animation decoder, which Pillow uses
# for every WebP, keeps two canvases besides Pillow's). The budget leaves room for noise, not for a regression; each
# stream must also get through under the default WORKER_MEMORY_LIMIT_MB.
BUDGET_MB = {"JPEG": 256, "PNG": 640, "WEBP": 1024}
RSS_PROBE = """
import resource, subprocess, sys
subprocess.run([sys.executable, "worker.py", "--burst"], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def fifty_megapixel_photo(fmt: str) -> bytes:
    """A 50 MP RGB JPEG or WebP with some texture, or a 50 MP RGBA PNG with real transparency."""
    grey = Image.linear_gradient("L").resize(FIFTY_MEGAPIXELS)
    flipped = grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    if fmt in ("JPEG", "WEBP"):
        texture = Image.effect_noise((FIFTY_MEGAPIXELS[0] // 8, FIFTY_MEGAPIXELS[1] // 8), 40).resize(FIFTY_MEGAPIXELS)
        options = {"quality": 85} if fmt == "JPEG" else {"quality": 80, "method": 0}
        Image.merge("RGB", (grey, texture, flipped)).save(buffer, fmt, **options)
    else:
        Image.merge("RGBA", (grey, grey.transpose(Image.Transpose.ROTATE_180), grey, flipped)).save(buffer, "PNG")
    return buffer.getvalue()


def peak_rss_mb(stack) -> int:
    """Run one burst worker over the queue; the peak RSS of its largest process, in MB."""
    result = subprocess.run(
        [sys.executable, "-c", RSS_PROBE], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("fmt", "count"), [("JPEG", 5), ("PNG", 2), ("WEBP", 2)])
def test_worker_stays_within_its_memory_budget_over_a_stream_of_50_mp_images(make_stack, fmt, count):
    stack = make_stack()
    data = fifty_megapixel_photo(fmt)
    ids = [stack.upload(data, f"big-{n}.{fmt.lower()}").get_json()["id"] for n in range(count)]
    peak = peak_rss_mb(stack)
    for image_id in ids:
        assert wait_for_status(stack.client, image_id, {"done", "failed"}, 30)["status"] == "done"
    print(f"peak RSS over {count} x 50 MP {fmt}: {peak} MB")
    assert peak < BUDGET_MB[fmt]
