"""The inference pool: blocking work (decode, inference) in a bounded thread pool that a timeout stops.

    >>> pool = InferencePool(threads=1)
    >>> result = await pool.run(work, form)        # inside with_timeout(...) in the request

Python cannot kill a thread, and one ``Predictor.predict`` call cannot be interrupted; so the design:

* a request that times out (504) sets its job's cancel flag; the job stops at its next
  :func:`checkpoint` (before decoding, before predicting, between the images of a batch), so a
  timed-out batch gives its thread back after the image in progress instead of running to the end;
  a job still waiting in the queue is dropped;
* while every inference thread is busy with jobs whose requests have already timed out, new work is
  refused at once with 503 and Retry-After, instead of queueing behind them into a second 504.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable

from fastapi import Request

from vcfnet.service.errors import APIError

log = logging.getLogger("vcfnet.service")
_job = threading.local()
RETRY_AFTER_S = 2


class Cancelled(Exception):
    """Raised in a job whose request has timed out; nobody waits for its answer."""


def checkpoint() -> None:
    """Stop the job running in this thread (raise :class:`Cancelled`) when its request has timed out."""
    flag = getattr(_job, "cancel", None)
    if flag is not None and flag.is_set():
        raise Cancelled


class InferencePool:
    def __init__(self, threads: int):
        self.threads = threads
        self._executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="vcfnet-infer")
        self._lock = threading.Lock()
        self.abandoned = 0          # running jobs whose requests have timed out

    async def run(self, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the pool; cancelling the awaiting task cancels the job."""
        with self._lock:
            if self.abandoned >= self.threads:
                raise APIError(503, "busy: the inference threads are still finishing requests that timed "
                                    f"out; retry in {RETRY_AFTER_S} s", headers={"Retry-After": str(RETRY_AFTER_S)})
        flag = threading.Event()
        future = self._executor.submit(self._call, flag, fn, args, kwargs)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            flag.set()
            if not future.cancel():     # already running: it stops at its next checkpoint
                with self._lock:
                    self.abandoned += 1
                future.add_done_callback(self._release)
            raise

    def _release(self, future) -> None:
        with self._lock:
            self.abandoned -= 1
        if isinstance(future.exception(), Cancelled):
            log.info("a job whose request timed out stopped at a checkpoint")

    @staticmethod
    def _call(flag: threading.Event, fn: Callable, args, kwargs):
        _job.cancel = flag
        try:
            checkpoint()
            return fn(*args, **kwargs)
        finally:
            _job.cancel = None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def with_timeout(request: Request, coro):
    """Await ``coro`` within the request timeout; 504 when it runs over."""
    limit = request.app.state.vcf.settings.request_timeout_s
    try:   # wait_for, not asyncio.timeout: that is Python 3.11+ and vcfnet supports 3.10
        return await asyncio.wait_for(coro, limit)
    except asyncio.TimeoutError:   # builtin TimeoutError only from 3.11 on
        raise APIError(504, f"the request took longer than {limit:g} s (setting request_timeout_s); "
                            f"try fewer boxes or images, or without Grad-CAM") from None
