"""Limits inside the worker: Pillow's decompression-bomb warning is an error, and JOB_TIMEOUT stops a job."""

import io
import subprocess
import sys
import time

import pytest

from app.exceptions import TooManyPixels
from app.imaging import parse_variant_specs, render_variants, sniff
from tests import imagegen
from tests.conftest import ROOT
from tests.support.polling import wait_for_status

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


@pytest.mark.integration
@pytest.mark.parametrize("worker_class", ["prefork", "fork", "simple"])
def test_job_over_job_timeout_is_stopped_and_fails(make_stack, worker_class):
    stack = make_stack(
        WORKER_CLASS=worker_class,
        JOB_TIMEOUT="1",
        RETRY_MAX="0",
        STORAGE_BACKEND="tests.support.slow_storage:SlowStorage",
        SLOW_READ_SECONDS="60",
    )
    stack.start_worker()
    started = time.monotonic()
    image_id = stack.upload(imagegen.solid_jpeg((8, 8))).get_json()["id"]
    image = wait_for_status(stack.client, image_id, "failed", timeout=45)
    assert time.monotonic() - started < 45
    assert image["error"]["code"] == "processing_error"
    assert "timeout" in image["error"]["message"].lower()
