"""Table 4: whole-stack throughput, upload to done with two workers, next to the raw function in two processes."""

import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.pipelines import pixline
from bench.report import Table
from bench.stack import BenchStack, Upload, post_all, tiny_jpeg

WORKERS = 2
UPLOAD_CONCURRENCY = 4
TARGET_SHARE = 0.85
TARGET_TINY_JOBS = 50.0


def raw_two_processes(sources: list[bytes]) -> float:
    """Images/s of render_variants alone, mapped over the sources by two processes."""
    with ProcessPoolExecutor(WORKERS) as pool:
        list(pool.map(pixline, sources[:WORKERS]))  # warm both processes
        started = time.perf_counter()
        list(pool.map(pixline, sources, chunksize=1))
        return len(sources) / (time.perf_counter() - started)


def through_stack(workloads: list[list[Upload]], worker_class: str, timeout: float) -> list[dict]:
    """Upload each workload in turn to one fresh stack with two workers; rates from first upload to last finished."""
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="pixline-bench-") as folder,
        BenchStack(Path(folder), worker_class) as stack,
    ):
        stack.start_workers(WORKERS)
        stack.wait_for_workers(WORKERS, timeout=60)
        for uploads in workloads:
            already, failed_before = stack.finished()
            started = time.monotonic()
            _, upload_seconds, statuses = post_all(stack.port, "/api/images", uploads, UPLOAD_CONCURRENCY)
            finished = stack.wait_until_finished(already + len(uploads), timeout)
            results.append(
                {
                    "images/s": round(len(uploads) / (finished - started), 2),
                    "uploads/s": round(len(uploads) / upload_seconds, 1),
                    "failed": stack.finished()[1] - failed_before + sum(status != 202 for status in statuses),
                }
            )
    return results


def measure(
    photos: list[tuple[str, bytes, float]], rounds: int, tiny_jobs: int, worker_classes: tuple[str, ...]
) -> Table:
    """Corpus through the stack vs raw, then tiny images through the same stack, for each worker class."""
    table = Table(
        "stack",
        f"4. Whole stack, {WORKERS} workers: {len(photos) * rounds} corpus photos, {tiny_jobs} tiny 64x64 jobs",
        ["workload", "worker class", "images/s", "reference images/s", "share of reference", "uploads/s", "failed"],
    )
    sources = [source for _ in range(rounds) for _, source, _ in photos]
    corpus = [Upload.of(source, name) for _ in range(rounds) for name, source, _ in photos]
    tiny = [Upload.of(tiny_jpeg(), "tiny.jpg")] * tiny_jobs
    for worker_class in worker_classes:
        raw_before = raw_two_processes(sources)
        stack, small = through_stack([corpus, tiny], worker_class, timeout=600)
        reference = (raw_before + raw_two_processes(sources)) / 2
        share = stack["images/s"] / reference
        table.add(
            workload="corpus, upload to done",
            **{"worker class": worker_class, "images/s": stack["images/s"], "reference images/s": round(reference, 2)},
            **{"share of reference": f"{100 * share:.0f}%", "uploads/s": stack["uploads/s"], "failed": stack["failed"]},
        )
        table.judge(
            f"{worker_class}: stack >= {TARGET_SHARE:.0%} of raw 2-process throughput ({share:.0%})",
            share >= TARGET_SHARE,
        )
        table.add(
            workload="tiny 64x64, upload to done",
            **{"worker class": worker_class, "images/s": small["images/s"], "reference images/s": TARGET_TINY_JOBS},
            **{
                "share of reference": f"{100 * small['images/s'] / TARGET_TINY_JOBS:.0f}%",
                "uploads/s": small["uploads/s"],
            },
            failed=small["failed"],
        )
        table.judge(
            f"{worker_class}: >= {TARGET_TINY_JOBS:.0f} tiny jobs/s ({small['images/s']:.1f})",
            small["images/s"] >= TARGET_TINY_JOBS,
        )
    table.notes.append("reference for the corpus: render_variants in a 2-process pool (mean of runs before and after)")
    table.notes.append(
        "reference for tiny jobs: the 50 jobs/s target; uploads/s is how fast the web tier accepted them"
    )
    return table
