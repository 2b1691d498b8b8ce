"""A fresh copy of this working tree, its own runtime-only `make run`, as a new user meets them."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import corpus_photo
from tests.support.stack import ROOT, RunningStack

# The photo a README reader has at hand as photo.jpg.
READER_PHOTO = "raindrops_1920x1200.jpg"
# `make run` builds the copy's .venv from requirements.txt first: a minute or so with pip's cache, more on a busy CI.
FIRST_START_SECONDS = 900


def copy_working_tree(target: Path) -> Path:
    """Copy tracked and untracked-not-ignored files (uncommitted work included): a clone as a new user has it."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    return target


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A fresh copy of the working tree, without .venv or instance/, and a reader's photo.jpg beside the README."""
    folder = copy_working_tree(tmp_path_factory.mktemp("fresh-clone"))
    assert not (folder / ".venv").exists() and not (folder / "instance").exists()
    shutil.copy(corpus_photo(READER_PHOTO), folder / "photo.jpg")
    return folder


class Stacks:
    """The copy's `make run`, started with a plain environment; restarted with other settings when a test asks."""

    def __init__(self, checkout: Path):
        self.checkout, self.current, self.starts = checkout, None, 0

    def start(self, **settings: str) -> RunningStack:
        """Stop the running stack (if any) and start `make run` with settings on a free port."""
        self.stop()
        self.starts += 1
        log = self.checkout.parent / f"make-run-{self.starts}.log"
        self.current = RunningStack(log, checkout=self.checkout, command=["make", "run"], **settings)
        return self.current.start(timeout=FIRST_START_SECONDS)

    def running(self) -> RunningStack:
        """The running stack, or a plain `make run` started now."""
        return self.current if self.current and self.current.process.poll() is None else self.start()

    def stop(self) -> None:
        """Ctrl-C the running stack."""
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="module")
def stacks(checkout) -> Iterator[Stacks]:
    """The fresh copy's `make run` (plain environment, runtime-only .venv); stopped after the module's tests."""
    handle = Stacks(checkout)
    yield handle
    handle.stop()
