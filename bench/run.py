"""Run Pixline's benchmarks: `python -m bench.run [--quick] [--only TABLE,…]` (the tables: TABLES below).

Prints eight tables, each with its references measured in the same run, and writes each as JSON to bench/results/.
"""

import argparse
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py` as well as `python -m bench.run`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import formats, isolation, memory, outputs, report, throughput, upload, waiting, whole_stack  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
TABLES = ("processing", "memory", "upload", "stack", "formats", "outputs", "waiting", "isolation")


@dataclass(frozen=True)
class Plan:
    """How big each benchmark runs: the full suite, or the quick one CI uses to keep it from rotting."""

    photos: int | None
    rounds: int
    big_size: tuple[int, int]
    upload_requests: int
    concurrencies: tuple[int, ...]
    stack_rounds: int
    tiny_jobs: int
    waiting: waiting.Load
    isolation_rounds: int
    isolation_scenarios: tuple[str, ...] | None


FULL = Plan(None, 3, memory.BIG_SIZE, 200, (1, 8, 32), 5, 300, waiting.FULL, 5, None)
# Quick: the victim alone and beside the attack with the most bench code of its own (each stack costs ~20 s).
QUICK = Plan(2, 1, (2350, 1325), 8, (1, 8, 32), 1, 10, waiting.QUICK, 1, ("alone", "hostile growing GIFs"))


def run(names: tuple[str, ...], plan: Plan, corpus: Path, results: Path, worker_classes: tuple[str, ...]) -> list:
    """Run the named benchmarks in order; print and write each table as soon as it is done."""
    photos = throughput.load_corpus(corpus, plan.photos)
    tables = []
    for name in names:
        started = time.monotonic()
        table = _benchmark(name, plan, corpus, photos, results, worker_classes)
        table.notes.append(f"took {time.monotonic() - started:.0f} s")
        context = {"machine": report.machine(), "plan": asdict(plan), "corpus": str(corpus)}
        path = report.write(table, context, results)
        print(
            report.render(table),
            f"\n  (written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})\n",
            flush=True,
        )
        tables.append(table)
    return tables


def _benchmark(name: str, plan: Plan, corpus: Path, photos, results: Path, worker_classes: tuple[str, ...]):
    """One benchmark's table."""
    if name == "processing":
        return throughput.measure(photos, plan.rounds)
    if name == "memory":
        return memory.measure(memory.big_jpeg(_largest_jpeg(corpus), results / "cache", plan.big_size))
    if name == "upload":
        photo = upload.two_megabyte_photo(_largest_jpeg(corpus))
        return upload.measure(photo, plan.upload_requests, plan.concurrencies)
    if name == "formats":
        return formats.measure(corpus, results / "cache", plan.photos is not None)
    if name == "outputs":
        return outputs.measure(photos, plan.rounds)
    if name == "waiting":
        return waiting.measure(upload.two_megabyte_photo(_largest_jpeg(corpus)), plan.waiting)
    if name == "isolation":
        return isolation.measure(plan.isolation_rounds, plan.isolation_scenarios)
    return whole_stack.measure(photos, plan.stack_rounds, plan.tiny_jobs, worker_classes)


def _largest_jpeg(corpus: Path) -> Path:
    """The corpus JPEG with the most bytes: the source of the generated photos."""
    return max(corpus.glob("*.jpg"), key=lambda path: path.stat().st_size)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 photos, 1 round, few requests (CI; no timing asserts).")
    parser.add_argument("--only", default=",".join(TABLES), help=f"Comma-separated subset of {', '.join(TABLES)}.")
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="Folder of photos (default ../shared/corpus)."
    )
    parser.add_argument(
        "--results", type=Path, default=report.RESULTS, help="Where the JSON goes (default bench/results)."
    )
    parser.add_argument("--worker-classes", default="prefork,fork,simple", help="WORKER_CLASS values table 4 compares.")
    args = parser.parse_args(argv)
    names = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = set(names) - set(TABLES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    machine = report.machine()
    print(f"Pixline benchmarks on {machine['cpus']} x {machine['cpu_model']}, load average {machine['load_average']}\n")
    run(names, QUICK if args.quick else FULL, args.corpus, args.results, tuple(args.worker_classes.split(",")))


if __name__ == "__main__":
    main()
