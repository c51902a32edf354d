"""The threads that compute interactive requests, shared fairly between clients.

A client is an identity (the token's ``user:…``). The rules:

* A client has at most :attr:`Limits.concurrent_requests` interactive requests waiting or
  computing at once; one more is refused at once with HTTP 429 and Earth Engine's text
  "Too many concurrent aggregations." (the ``ee`` client retries a 429 with backoff).
* ``workers + 1`` threads compute, and one client computes on at most ``workers`` of them:
  one thread is always left for the other clients, so a client busy with long requests
  cannot starve the rest. A free thread takes the oldest request of the client computing
  the fewest requests (round robin between clients).
* A request whose cancel event is set (client gone, engine stopping) is dropped before it
  starts; one that is computing stops at its next check (:mod:`..core.context`).
* The threads are daemon threads: stopping the engine never waits for a computation.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import CancelledError, TooManyRequestsError

__all__ = ["Scheduler"]


@dataclass(eq=False)
class _Job:
    client: str
    fn: Callable[[], Any]
    cancel: threading.Event
    counted: bool
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class Scheduler:
    """Fair worker threads for interactive computations.

    Parameters
    ----------
    workers
        How many computations one client may run at once (the pool has one more).
    max_per_client
        How many counted requests one client may have waiting or running (else 429).
    name
        Prefix of the thread names.
    """

    def __init__(self, workers: int, max_per_client: int, *, name: str = "gee-cscc-compute"):
        self.workers = max(1, int(workers))
        self.max_per_client = max(1, int(max_per_client))
        self._cond = threading.Condition()
        self._queues: dict[str, collections.deque[_Job]] = {}
        self._running: collections.Counter[str] = collections.Counter()
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._active: set[_Job] = set()
        self._order = itertools.count()
        self._turn: dict[str, int] = {}
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(self.workers + 1)
        ]
        for t in self._threads:
            t.start()

    def submit(
        self,
        client: str,
        fn: Callable[[], Any],
        cancel: threading.Event,
        *,
        counted: bool = True,
    ) -> concurrent.futures.Future:
        """Queue ``fn`` for ``client``; raises TooManyRequestsError over the client's cap."""
        job = _Job(client, fn, cancel, counted)
        with self._cond:
            if self._stopped:
                raise CancelledError()
            if counted:
                if self._in_flight[client] >= self.max_per_client:
                    raise TooManyRequestsError()
                self._in_flight[client] += 1
            self._queues.setdefault(client, collections.deque()).append(job)
            self._turn.setdefault(client, next(self._order))
            self._cond.notify()
        return job.future

    def in_flight(self, client: str) -> int:
        """Counted requests of ``client`` waiting or computing."""
        with self._cond:
            return self._in_flight[client]

    def _next(self) -> _Job | None:
        """The next job to run (lock held), or None if every waiting client is at its cap."""
        best = None
        for client, queue in self._queues.items():
            while queue and queue[0].cancel.is_set():
                self._finish(queue.popleft(), cancelled=True)
            if not queue or self._running[client] >= self.workers:
                continue
            key = (self._running[client], self._turn[client])
            if best is None or key < best[0]:
                best = (key, client)
        if best is None:
            return None
        client = best[1]
        job = self._queues[client].popleft()
        if not self._queues[client]:
            del self._queues[client]
        self._turn[client] = next(self._order)  # to the back of the line
        return job

    def _finish(self, job: _Job, *, cancelled: bool = False) -> None:
        if job.counted:
            self._in_flight[job.client] -= 1
            if self._in_flight[job.client] <= 0:
                del self._in_flight[job.client]
        if cancelled and not job.future.done():
            job.future.set_exception(CancelledError())

    def _work(self) -> None:
        while True:
            with self._cond:
                job = None
                while not self._stopped:
                    job = self._next()
                    if job is not None:
                        break
                    self._cond.wait(0.5)
                if job is None:
                    return
                self._running[job.client] += 1
                self._active.add(job)
            try:
                if job.cancel.is_set():
                    raise CancelledError()
                result = job.fn()
            except BaseException as exc:  # noqa: BLE001 (handed to the waiting handler)
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            finally:
                with self._cond:
                    self._running[job.client] -= 1
                    if self._running[job.client] <= 0:
                        del self._running[job.client]
                    self._active.discard(job)
                    self._finish(job)
                    self._cond.notify_all()

    def shutdown(self) -> None:
        """Stop: cancel every waiting and running computation; do not wait for them."""
        with self._cond:
            self._stopped = True
            for queue in self._queues.values():
                for job in queue:
                    job.cancel.set()
                    self._finish(job, cancelled=True)
            self._queues.clear()
            for job in self._active:
                job.cancel.set()
            self._cond.notify_all()
