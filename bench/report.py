"""Tables: what every benchmark returns, printed as text and written as JSON beside the machine it ran on."""

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Target:
    """A ratio goal and whether this run met it."""

    text: str
    is_met: bool


@dataclass
class Table:
    """One benchmark's rows, each a dict over the same columns, and the targets judged from them."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, **row) -> dict:
        """Append a row and return it."""
        self.rows.append(row)
        return row

    def judge(self, text: str, is_met: bool) -> None:
        """Record a target and whether it was met."""
        self.targets.append(Target(text, bool(is_met)))


def machine() -> dict:
    """The machine and its load right now: the context every number needs."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def render(table: Table) -> str:
    """The table as aligned plain text, with its targets and notes under it."""
    cells = [[_format(row.get(column)) for column in table.columns] for row in table.rows]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(table.columns)]
    header = "  ".join(column.ljust(width) for column, width in zip(table.columns, widths, strict=True))
    lines = [f"== {table.title}", header]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines += [f"  target: {target.text} -> {'met' if target.is_met else 'NOT MET'}" for target in table.targets]
    lines += [f"  note: {note}" for note in table.notes]
    return "\n".join(lines)


def write(table: Table, context: dict, folder: Path = RESULTS) -> Path:
    """Write the table as bench/results/<name>.json and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table.name}.json"
    payload = {"table": asdict(table), "context": context, "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def percentile(values: list[float], share: float) -> float:
    """The share-th percentile (0..1) by linear interpolation."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, min(998, round(share * 1000) - 1))]


def _format(value) -> str:
    """A cell: floats with three significant-ish digits, the rest as they are."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)
