"""Execution back-ends behind one seam: a ``concurrent.futures.Executor``.

- ``local`` with one worker: runs each task in this process when it is submitted (no pool), for
  debugging; results are identical to any other back-end.
- ``local`` with K workers: a ``ProcessPoolExecutor`` with the ``spawn`` start method, which is
  safe with threads (Dask, BLAS) in the parent.
- ``dask``: a ``distributed.Client``'s executor, either on a running scheduler (``--scheduler
  tcp://host:8786``) or on a ``LocalCluster`` of K worker processes bound to loopback, which is
  started here and closed when the sweep ends.

Workers only compute: they return results to this process, which writes every file, so workers on
other machines need the package installed but no shared file system.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

EXECUTORS = ("local", "dask")


class ExecutorError(ValueError):
    """An executor choice that cannot work (unknown name, scheduler without dask, bad count)."""


class InProcessExecutor(Executor):
    """Runs each task at submission, in this process; a ``KeyboardInterrupt`` propagates at once."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future


@dataclass(frozen=True)
class ExecutorConfig:
    """Which back-end runs the sweep; not part of the spec, since results do not depend on it."""

    kind: str = "local"
    workers: int | None = None
    scheduler: str | None = None

    def check(self) -> None:
        if self.kind not in EXECUTORS:
            raise ExecutorError(f"--executor {self.kind}: unknown; allowed: {', '.join(EXECUTORS)}")
        if self.workers is not None and self.workers < 1:
            raise ExecutorError(f"--workers {self.workers}: must be >= 1")
        if self.scheduler and self.kind != "dask":
            raise ExecutorError("--scheduler needs --executor dask")

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def describe(self) -> str:
        if self.kind == "dask":
            where = self.scheduler or f"local cluster of {self.n_workers} processes"
            return f"dask ({where})"
        if self.n_workers == 1:
            return "in-process (1 worker)"
        return f"process pool ({self.n_workers} workers)"


@contextlib.contextmanager
def open_executor(config: ExecutorConfig) -> Iterator[Executor]:
    """The executor ``config`` names; closed (and any cluster it started stopped) on exit."""
    config.check()
    if config.kind == "local":
        if config.n_workers == 1:
            yield InProcessExecutor()
            return
        pool = ProcessPoolExecutor(
            max_workers=config.n_workers, mp_context=multiprocessing.get_context("spawn")
        )
        try:
            yield pool
        except BaseException:
            # Interrupted or failed: drop queued work instead of waiting for it.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return
    with _dask_client(config) as client:
        executor = client.get_executor()
        try:
            yield executor
        finally:
            executor.shutdown(wait=False)


@contextlib.contextmanager
def _dask_client(config: ExecutorConfig) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if config.scheduler:
        with Client(config.scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=config.n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
