"""Running untrusted-media work in separate processes under a per-request budget.

Decoding a photo or demuxing a video is CPU spent on bytes a caller chose. Every check
runs in a worker process (started from a forkserver, so it shares no locks, threads or
sockets with the API process). Each task gets a CPU limit enforced by the kernel
(RLIMIT_CPU: past it the worker is killed) and a wall-clock timeout after which the parent
kills it; a killed worker is replaced on the next task. One `UploadBudget` is made per
request: its seconds and pixels are shared by every file of that request. At most
`MAX_PARALLEL` checks run at once per API process, so a burst of uploads cannot take
every core; a check waiting for a slot spends its request's time.

Workers never read settings or the database: everything a task needs comes in its
arguments (a worker's environment is the one the forkserver started with).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.errors import DomainError

log = logging.getLogger("patron.media")
MAX_PARALLEL = max(1, os.cpu_count() or 1)
TASKS_PER_WORKER = 200  # then a fresh process: no memory creep from decoders
_slots = threading.BoundedSemaphore(MAX_PARALLEL)
_idle: list[_Worker] = []
_idle_lock = threading.Lock()
_context = multiprocessing.get_context("forkserver")
# "__main__" first: the forkserver loads the main module once, so workers do not re-run it.
_context.set_forkserver_preload(["__main__", "domain.reviews.photos", "domain.reviews.video_probe"])


class MediaRejected(DomainError):
    code = "MEDIA_REJECTED"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, "media", code=reason)


def budget_exceeded(what: str) -> MediaRejected:
    return MediaRejected(f"The upload needs more {what} than one request may use; send fewer or smaller files",
                         "MEDIA_BUDGET_EXCEEDED")


@dataclass
class UploadBudget:
    """What one request may still spend on checking its files."""

    seconds: float
    pixels: int
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise budget_exceeded("time")
        return left

    def spend_pixels(self, pixels: int) -> None:
        self.pixels -= pixels


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limit_cpu(total_seconds: int) -> None:
    """Soft CPU limit for this worker's lifetime so far + this task (the hard limit is left
    as the system set it: an unprivileged process cannot raise it again)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = total_seconds if hard == resource.RLIM_INFINITY else min(total_seconds, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _serve(conn: Any) -> None:
    """A worker: run tasks until the pipe closes. Each task may use `cpu_seconds` more CPU;
    past that the kernel sends SIGXCPU, which ends the worker (the parent sees EOF)."""
    while True:
        try:
            func, args, cpu_seconds = conn.recv()
        except EOFError:
            return
        _limit_cpu(math.ceil(_cpu_used() + cpu_seconds))
        try:
            result: tuple[Any, ...] = ("ok", func(*args))
        except MediaRejected as exc:
            result = ("rejected", exc.message, exc.code)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
            result = ("error", f"{type(exc).__name__}: {exc}"[:500], "")
        conn.send(result)


class _Worker:
    def __init__(self) -> None:
        self.conn, child = _context.Pipe()
        self.process = _context.Process(target=_serve, args=(child,), daemon=True, name="patron-media")
        self.process.start()
        child.close()
        self.tasks = 0

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def _take_worker() -> _Worker:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.process.is_alive():
                return worker
            worker.stop()
    return _Worker()


def _give_back(worker: _Worker) -> None:
    worker.tasks += 1
    if worker.tasks >= TASKS_PER_WORKER:
        worker.stop()
        return
    with _idle_lock:
        _idle.append(worker)


def run_limited(func: Callable[..., Any], args: tuple[Any, ...], budget: UploadBudget) -> Any:
    """Run `func(*args)` in a worker process within what is left of the budget (blocking:
    call it from a thread). A MediaRejected raised in the worker is raised here."""
    if not _slots.acquire(timeout=budget.remaining()):
        raise budget_exceeded("time")
    try:
        worker = _take_worker()
        seconds = budget.remaining()
        try:
            worker.conn.send((func, args, seconds))
            if not worker.conn.poll(seconds):
                raise budget_exceeded("time")
            status, *rest = worker.conn.recv()
        except (EOFError, OSError):  # the CPU limit (or the OOM killer) ended the worker
            worker.stop()
            raise budget_exceeded("CPU time") from None
        except BaseException:
            worker.stop()
            raise
        _give_back(worker)
    finally:
        _slots.release()
    if status == "ok":
        return rest[0]
    if status == "rejected":
        raise MediaRejected(rest[0], rest[1])
    log.warning("media check failed unexpectedly: %s", rest[0])
    raise MediaRejected("The file cannot be read as the media it claims to be", "MEDIA_CORRUPT")
