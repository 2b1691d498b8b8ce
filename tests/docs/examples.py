"""Run a Markdown file's examples as its reader would, against a live `make run` of a fresh copy.

What the reader does, the runner does:
- A ```sh block runs in bash (`set -euo pipefail`) in the copy's folder, in a plain environment (a second terminal:
  none of the stack's settings), and must exit 0. Variables a block sets on a line of their own (`PIXLINE=…`,
  `KEY=$(cat instance/api_key)`) stay set for the blocks after it, as in one terminal. `127.0.0.1:5000` is the
  running stack's address and `127.0.0.1:5001` the receiver's: the runner puts the real (free) ports there, as a
  reader whose ports differ would.
- `<id>`, `<job id>`, `<key id>`, `<endpoint id>`, `<delivery id>` and `whsec_…` are the values a reader copies from
  an earlier answer: the runner fills them (PLACEHOLDERS); a block naming any other `<…>` fails.
- Every `curl` must answer below 400, and exactly the status its comment names (`# 202 …`, on its line or the
  comment lines right below it). A `curl -N` stream is ended after a few seconds, as the reader's Ctrl-C ends it.
- A block that is only `[NAME=value …] make run` (re)starts the stack with those settings.
- A ```python block is a program a reader starts in a second terminal: saved as the file its first line names
  (`# receiver.py …`), run with the copy's Python and kept running for the blocks after it (one that names the
  receiver's port must listen there within a minute; any other must exit 0).
- A block right after `<!-- not run: reason -->` is skipped, counted and listed with its reason.
Blocks in other languages (yaml, …) are not shell examples and are left alone.
"""

import re
import shlex
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.stack import free_port
from tests.support.polling import wait_until
from tests.support.stack import RunningStack, plain_environment

RUN_LANGUAGES = ("sh", "python")
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.*?)\s*-->", re.S)
FENCE = re.compile(r"^```(?P<language>\S*)\s*$")
ASSIGNMENT = re.compile(r"""^[A-Za-z_]\w*=(\$\([^)]*\)|"[^"]*"|'[^']*'|\S+)\s*(#.*)?$""")
STACK_START = re.compile(r"^(?P<settings>(?:[A-Z_][A-Z0-9_]*=\S+\s+)*)make run\s*(#.*)?$")
PLACEHOLDER = re.compile(r"<[a-z][a-z ]*>|whsec_…")
COMMENT = re.compile(r"(?:^|\s)#")
STATUS_COMMENT = re.compile(r"(?:^|\s)#\s*(\d{3})\b")
STACK_PORT, RECEIVER_PORT = "5000", "5001"
# A reader's Ctrl-C on a stream; curl ends it with exit status 28, which is the reader's ordinary way out.
STREAM_SECONDS = 4
# Every curl reports its status on stderr (a line a reader never sees), so the runner can check each one.
WRITE_OUT = r"--write-out '%{stderr}\ncurl-status %{http_code}\n'"
CURL_WRAPPER = f"""curl() {{
  if [[ " $* " == *" -N "* ]]; then
    command curl --max-time {STREAM_SECONDS} {WRITE_OUT} "$@" || [[ $? == 28 ]]
  else
    command curl {WRITE_OUT} "$@"
  fi
}}
"""


@dataclass
class Block:
    """One fenced code block: where it is, its language and text, and why it is not run (if it is not)."""

    path: Path
    line: int
    language: str
    text: str
    not_run: str | None = None

    @property
    def where(self) -> str:
        """file:line, for messages."""
        return f"{self.path.name}:{self.line}"


def blocks_in(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with the `not run` reason written right before it."""
    lines, blocks, index = path.read_text().splitlines(), [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = NOT_RUN.search(before)
        text = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(path, index + 1, fence["language"], text, marker and marker["reason"]))
        index = end + 1
    return blocks


def commands_of(text: str) -> list[tuple[str, list[str]]]:
    """The block's commands (continuation lines joined), each with the comment lines right below it."""
    commands: list[tuple[str, list[str]]] = []
    pending = ""
    for line in text.splitlines():
        if pending:
            pending += " " + line.strip()
        elif line.strip().startswith("#"):
            if commands:
                commands[-1][1].append(line.strip())
            continue
        elif line.strip():
            pending = line.strip()
        if pending and not pending.endswith("\\"):
            commands.append((pending, []))
            pending = ""
        elif pending:
            pending = pending[:-1].rstrip()
    return commands


def expected_statuses(text: str) -> list[int | None]:
    """For each curl of the block, in order, the HTTP status its comment names (None: any status below 400)."""
    expected = []
    for command, comments in commands_of(text):
        if command.split()[0] == "curl":
            found = [STATUS_COMMENT.search(part) for part in (command, *comments)]
            expected.append(next((int(match[1]) for match in found if match), None))
    return expected


def stack_settings_of(text: str) -> dict[str, str] | None:
    """The settings of a block that only (re)starts `make run` (`NAME=value … make run`), else None."""
    commands = commands_of(text)
    if len(commands) != 1 or not (match := STACK_START.match(commands[0][0])):
        return None
    return dict(part.split("=", 1) for part in shlex.split(match["settings"]))


@dataclass
class Report:
    """What one Markdown file's run did: blocks run, blocks skipped with reasons, programs started."""

    ran: list[Block] = field(default_factory=list)
    skipped: list[Block] = field(default_factory=list)
    programs: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The counts, and every skipped block with its reason."""
        lines = [f"{len(self.ran)} blocks run, {len(self.skipped)} not run:"]
        return "\n".join(lines + [f"  {block.where}: {block.not_run}" for block in self.skipped])


class ExampleRunner:
    """Runs the blocks of Markdown files in order against the copy's stacks, as one reader in one terminal."""

    def __init__(self, stacks, fillers: dict[str, Callable[["ExampleRunner"], str]], log_folder: Path):
        self.stacks, self.fillers, self.log_folder = stacks, fillers, log_folder
        self.assignments: list[str] = []
        self.outputs: list[str] = []
        self.receiver_port = str(free_port())
        self.programs: list[subprocess.Popen] = []

    @property
    def stack(self) -> RunningStack:
        """The stack the blocks talk to (a plain `make run` until a block starts another)."""
        return self.stacks.running()

    def run_file(self, path: Path) -> Report:
        """Run every block of the file; fail at the first block that does not do what it says."""
        report = Report()
        for block in blocks_in(path):
            if block.language not in RUN_LANGUAGES:
                continue
            if block.not_run is not None:
                assert block.not_run.strip(), f"{block.where}: a `not run` marker needs its reason"
                report.skipped.append(block)
                continue
            self.run_block(block, report)
            report.ran.append(block)
        return report

    def run_block(self, block: Block, report: Report) -> None:
        """One block, by its kind."""
        settings = stack_settings_of(block.text) if block.language == "sh" else None
        if settings is not None:
            self.stacks.start(**settings)
        elif block.language == "python":
            report.programs[block.where] = self.start_program(block)
        else:
            self.run_shell(block)

    def filled(self, block: Block) -> str:
        """The block's text as the reader runs it: ports and copied values put in (comments are left as they are)."""
        text = self.with_ports(block.text)
        code = "\n".join(COMMENT.split(line, maxsplit=1)[0] for line in text.splitlines())
        values: dict[str, str] = {}
        for name in dict.fromkeys(PLACEHOLDER.findall(code)):
            assert name in self.fillers, f"{block.where}: no value for the placeholder {name} (add it to PLACEHOLDERS)"
            values[name] = str(self.fillers[name](self))
        return PLACEHOLDER.sub(lambda match: values.get(match[0], match[0]), text)

    def with_ports(self, text: str) -> str:
        """The stack's and the receiver's real ports where the text has the documented ones."""
        text = text.replace(f"127.0.0.1:{STACK_PORT}", f"127.0.0.1:{self.stack.port}")
        return re.sub(rf"\b{RECEIVER_PORT}\b", self.receiver_port, text)

    def run_shell(self, block: Block) -> None:
        """Run a sh block; exit 0 and every curl's status as its comment says, or fail with what it printed."""
        assignments = self.with_ports("\n".join(self.assignments))
        script = "\n".join([CURL_WRAPPER, assignments, "set -euo pipefail", self.filled(block)])
        done = subprocess.run(["bash", "-c", script], cwd=self.stack.folder, env=plain_environment(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        printed = f"{block.where} printed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == 0, f"{block.where} exited {done.returncode}\n{printed}"
        statuses = [int(code) for code in re.findall(r"^curl-status (\d{3})$", done.stderr, re.M)]
        expected = expected_statuses(block.text)
        assert len(statuses) == len(expected), f"{block.where}: {len(expected)} curls, {len(statuses)} ran\n{printed}"
        for status, wanted in zip(statuses, expected, strict=True):
            assert status == wanted if wanted else status < 400, f"{block.where}: {status}, not {wanted}\n{printed}"
        self.outputs.append(done.stdout)
        self.assignments += [line for line in block.text.splitlines() if ASSIGNMENT.match(line)]

    def start_program(self, block: Block) -> Path:
        """Save a python block under the name its first line gives and start it, as a second terminal would."""
        name = block.text.splitlines()[0].lstrip("# ").split()[0].rstrip(":")
        assert name.endswith(".py"), f"{block.where}: a python block starts with `# <file>.py`"
        (self.stack.folder / name).write_text(self.filled(block))
        log_path = self.log_folder / f"{name}.log"
        with open(log_path, "ab") as log:
            program = subprocess.Popen([str(self.stack.python), name], cwd=self.stack.folder, env=plain_environment(),
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.programs.append(program)
        if re.search(rf"\b{RECEIVER_PORT}\b", block.text):
            wait_until(lambda: self._listens(program, log_path), 60, interval=0.2, what=f"{name} to listen")
        else:
            assert program.wait(120) == 0, f"{block.where} exited {program.returncode}:\n{log_path.read_text()}"
        return log_path

    def _listens(self, program: subprocess.Popen, log_path: Path) -> bool:
        """Whether the program accepts connections on the receiver's port (fails at once if it exited)."""
        assert program.poll() is None, f"{log_path.name} exited {program.returncode}:\n{log_path.read_text()}"
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", int(self.receiver_port))) == 0

    def last_seen(self, pattern: str) -> str:
        """The last match of pattern in what the blocks printed (what a reader copies from an answer)."""
        found = [match for output in self.outputs for match in re.findall(pattern, output)]
        assert found, f"no earlier block printed anything matching {pattern}"
        return found[-1]

    def stop(self) -> None:
        """Stop the programs the blocks started (Ctrl-C in their terminals)."""
        for program in self.programs:
            if program.poll() is None:
                program.send_signal(signal.SIGINT)
                try:
                    program.wait(10)
                except subprocess.TimeoutExpired:
                    program.kill()
                    program.wait()


def wait_for_line(path: Path, pattern: str, timeout: float = 120) -> str:
    """Wait until a program's log has a line matching pattern; that line."""

    def found() -> str:
        return next((line for line in path.read_text().splitlines() if re.search(pattern, line)), "")

    return wait_until(found, timeout, interval=0.3, what=f"{path.name} to print {pattern!r}")
