"""Work split across forked processes, for the big nightly jobs (claim building, 837 writing).

Python runs one thread at a time per process, so a job that keeps Python busy uses one core
however many threads it starts. A forked process has its own interpreter: the build and the
837 writer hand it part of the work (members, transaction sets) and take its result back.

Rules:
* Only outside a transaction on PostgreSQL (``can_fork``): another process cannot see into the
  caller's transaction, and it opens its own database connection (the caller's are closed
  before the fork, as a shared socket would corrupt both).
* The child's result, or the error it raised, comes back pickled through a file; ``join``
  returns the one or raises the other. A child that dies without one is an error too.
* A child whose parent is gone stops at its next ``check_parent`` (a killed worker leaves no
  process working for nobody); a parent that fails kills and reaps its children (``stop``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from django.db import connection, connections

T = TypeVar("T")

_parent_pid: int | None = None  # set in a forked child: the process that forked it


class ParentGone(SystemExit):
    """Raised in a child whose parent process has ended."""


def can_fork() -> bool:
    return hasattr(os, "fork") and connection.vendor == "postgresql" and not connection.in_atomic_block


def check_parent() -> None:
    """In a forked child: stop if the parent is gone. Elsewhere: nothing."""
    if _parent_pid is not None and os.getppid() != _parent_pid:
        raise ParentGone("the parent process is gone")


class Forked(Generic[T]):
    """``work()`` running in a forked child process (see the module docstring)."""

    def __init__(self, work: Callable[[], T]) -> None:
        global _parent_pid  # noqa: PLW0603 - the child's own copy
        self._dir = tempfile.mkdtemp(prefix="forked-")
        self._result = Path(self._dir, "result")
        connections.close_all()
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid:
            return
        _parent_pid = parent
        status = 1
        try:
            outcome: tuple[bool, object] = (True, work())
            status = 0
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
            outcome = (False, exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}"))
        try:
            with open(self._result, "wb") as fh:
                pickle.dump(outcome, fh)
            connections.close_all()
        finally:
            os._exit(status)

    def join(self) -> T:
        """Wait for the child; its result, or raise its error."""
        _pid, status = os.waitpid(self.pid, 0)
        self.pid = 0
        try:
            with open(self._result, "rb") as fh:
                ok, value = pickle.load(fh)  # noqa: S301 - our own child wrote it
        except FileNotFoundError:
            raise RuntimeError(
                f"a worker process ended without finishing its part ({_status(status)})"
            ) from None
        finally:
            self._cleanup()
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    def stop(self) -> None:
        """Kill and reap the child if it is still running."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
        self._cleanup()

    def _cleanup(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._result.unlink()
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)


def run_split(works: list[Callable[[], T]]) -> list[T]:
    """Run ``works[1:]`` in forked children and ``works[0]`` here, side by side; their results
    in order. If any fails, the others are stopped and the first error is raised."""
    children = [Forked(work) for work in works[1:]]
    try:
        results = [works[0]()]
        results += [child.join() for child in children]
    finally:
        for child in children:
            child.stop()
    return results


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - round trip of our own object
    except Exception:  # noqa: BLE001
        return False
    return True


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"
