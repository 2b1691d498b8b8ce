"""Limits inside the worker: Pillow's bomb warning is an error, JOB_TIMEOUT and WORKER_MEMORY_LIMIT_MB end a job for
good, and deleting an image stops its running job: with each WORKER_CLASS."""

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from app.exceptions import TooManyPixels
from app.imaging import parse_variant_specs, render_variants, sniff
from tests import framegen, imagegen
from tests.conftest import ROOT
from tests.support.polling import wait_for_status, wait_until

# 10000 x 10000 = 100 MP: over Pillow's own warning threshold (~89 MP), under twice it (its hard error).
PAST_PILLOW_WARNING = (10000, 10000)
NO_LIMIT = 10**12


def test_pillow_bomb_warning_is_refused_by_render_even_when_our_limit_allows_it():
    with pytest.raises(TooManyPixels):
        render_variants(
            imagegen.png_bomb_header(*PAST_PILLOW_WARNING), parse_variant_specs("a:16"), max_pixels=NO_LIMIT
        )


def test_pillow_bomb_warning_is_refused_by_sniff_even_when_our_limit_allows_it():
    with pytest.raises(TooManyPixels):
        sniff(io.BytesIO(imagegen.png_bomb_header(*PAST_PILLOW_WARNING)), max_pixels=NO_LIMIT)


WORKER_PROCESS_CHECK = """
import warnings
import worker  # noqa: F401 - what `python worker.py` imports, outside pytest's warning filters
from PIL import Image
try:
    warnings.warn("probe", Image.DecompressionBombWarning)
except Image.DecompressionBombWarning:
    print("error")
"""


def test_bomb_warning_is_an_error_in_a_worker_process():
    result = subprocess.run(
        [sys.executable, "-c", WORKER_PROCESS_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "error", result.stderr


WORKER_CLASSES = ["prefork", "fork", "simple"]
SLOW = "tests.support.slow_storage:SlowStorage"


@pytest.mark.integration
@pytest.mark.parametrize("worker_class", WORKER_CLASSES)
def test_job_over_job_timeout_is_stopped_retried_once_and_fails_for_good(make_stack, worker_class):
    stack = make_stack(
        WORKER_CLASS=worker_class, JOB_TIMEOUT="1", RETRY_MAX="3", STORAGE_BACKEND=SLOW, SLOW_READ_SECONDS="60"
    )
    stack.start_worker()
    started = time.monotonic()
    image_id = stack.upload(imagegen.solid_jpeg((8, 8))).get_json()["id"]
    image = wait_for_status(stack.client, image_id, "failed", timeout=45)
    assert time.monotonic() - started < 45
    assert (image["error"]["code"], image["attempts"]) == ("processing_timeout", 2)
    assert "longer than the 1 s a job may take (JOB_TIMEOUT)" in image["error"]["message"]


@pytest.mark.integration
def test_stored_gif_whose_frames_grow_past_the_limit_fails_for_good_in_the_worker(make_stack):
    stack = make_stack(RETRY_MAX="3")
    accepted, hostile = framegen.growing_gif(reach=(7000, 7000)), framegen.growing_gif(reach=(9000, 9000))
    assert len(accepted) == len(hostile)
    image_id = stack.upload(accepted, "growing.gif").get_json()["id"]
    # What a swapped object leaves: bytes of the recorded size that the upload check never saw.
    (Path(stack.env["STORAGE_ROOT"]) / "originals" / f"{image_id}.gif").write_bytes(hostile)
    stack.start_worker()
    image = wait_for_status(stack.client, image_id, "failed", timeout=60)
    assert (image["error"]["code"], image["attempts"]) == ("too_many_pixels", 1)
    assert "Frame 2 of the GIF (1x1 at (8999, 8999)) grows its 100x100 canvas to 9000x9000" in image["error"]["message"]


# The smallest limit the tests use: an idle work horse holds ~90 MB, a small image's job ~20 MB more.
SMALL_MEMORY_LIMIT_MB = 256


@pytest.fixture(scope="module")
def forty_megapixel_png() -> bytes:
    """An RGBA PNG of 40 MP with real transparency: decoding and premultiplying it takes ~380 MB."""
    return imagegen.encode(imagegen.gradient("RGBA", (8000, 5000)), "PNG", compress_level=1)


@pytest.fixture(scope="module")
def forty_megapixel_webp() -> bytes:
    """A lossy WebP of 40 MP: libwebp's decoder takes ~650 MB of canvases for it (it fails as "no decoder")."""
    return imagegen.encode(imagegen.gradient("RGB", (8000, 5000)), "WEBP", quality=50, method=0)


LIMITED_RENDER = """
import resource, sys
from app.imaging import PixlineError, parse_variant_specs, render_variants
data = sys.stdin.buffer.read()
resource.setrlimit(resource.RLIMIT_DATA, (int(sys.argv[1]) * 1024 * 1024, resource.RLIM_INFINITY))
try:
    render_variants(data, parse_variant_specs("large:2048"), output_format=("avif", "webp"))
except PixlineError as error:
    print(error.code)
"""


@pytest.mark.parametrize("source", ["forty_megapixel_png", "forty_megapixel_webp"])
def test_render_past_the_memory_limit_is_too_large_to_process_whatever_the_codec_says(request, source):
    data = request.getfixturevalue(source)
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_RENDER, str(SMALL_MEMORY_LIMIT_MB)],
        input=data,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.stdout.decode().strip() == "too_large_to_process", result.stderr.decode()[-2000:]


@pytest.mark.integration
@pytest.mark.parametrize("worker_class", WORKER_CLASSES)
def test_job_past_the_memory_limit_fails_for_good_and_the_worker_goes_on(make_stack, worker_class, forty_megapixel_png):
    stack = make_stack(WORKER_CLASS=worker_class, WORKER_MEMORY_LIMIT_MB=str(SMALL_MEMORY_LIMIT_MB), RETRY_MAX="3")
    stack.start_worker()
    large = stack.upload(forty_megapixel_png, "large.png").get_json()["id"]
    small = stack.upload(imagegen.solid_jpeg((64, 48)), "small.jpg").get_json()["id"]
    image = wait_for_status(stack.client, large, "failed", timeout=60)
    assert (image["error"]["code"], image["attempts"]) == ("too_large_to_process", 1), stack.worker_logs()[-3000:]
    assert f"more than the {SMALL_MEMORY_LIMIT_MB} MB of memory a job may use" in image["error"]["message"]
    assert wait_for_status(stack.client, small, "done", timeout=60)["variants"]


@pytest.mark.integration
@pytest.mark.parametrize("worker_class", WORKER_CLASSES)
def test_deleting_an_image_stops_its_running_job_and_frees_the_worker(make_stack, worker_class):
    # The job would hold the worker for a minute (a slow read of the original) and JOB_TIMEOUT is the default 120 s.
    stack = make_stack(WORKER_CLASS=worker_class, STORAGE_BACKEND=SLOW, SLOW_READ_SECONDS="60")
    stack.start_worker()
    image_id = stack.upload(imagegen.solid_jpeg((8, 8))).get_json()["id"]
    wait_for_status(stack.client, image_id, "processing", timeout=30)
    job = Job.fetch(f"image-{image_id}", connection=stack.redis, serializer=JSONSerializer)

    assert stack.client.delete(f"/api/images/{image_id}").status_code == 204
    wait_until(lambda: job.get_status(refresh=True) == "stopped", 15, what="the job to be stopped")
    wait_until(lambda: Worker.all(connection=stack.redis)[0].get_state() == "idle", 15, what="the worker to be idle")
    assert stack.client.get(f"/api/images/{image_id}").status_code == 404
