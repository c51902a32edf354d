"""Stopping a command cleanly: SIGINT (Ctrl-C) and SIGTERM, and a quiet stderr after them.

Inside :func:`signals_as_interrupts` both signals raise :class:`Interrupted` (a
``KeyboardInterrupt``) in the main thread, so every ``finally`` and ``with`` block unwinds:
the local engine stops, a staging folder is removed, OUT stays as it was. The command then
exits with ``128 + signal`` (130 for SIGINT, 143 for SIGTERM) and prints one line.

The signal is also recorded (:func:`gee_cscc.errors.note_stop`): if Python swallowed the
exception (a signal landing in a finalizer, whose exceptions are only printed), it is raised
again before OUT is swapped in and when the command returns, so a stopped command never
exits 0.

While the engine's threads wind down they may still write to stderr (a response to a client
that left: ``BrokenPipeError`` tracebacks). :class:`StderrGuard` drops every write from a
thread other than the main one once a signal came, so the user sees one line.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from gee_cscc.errors import Stopped, note_stop

__all__ = ["Interrupted", "StderrGuard", "exit_code", "signals_as_interrupts"]

#: The signals handled, and the exit code of each (128 + the signal number).
HANDLED = (signal.SIGINT, signal.SIGTERM)


#: A signal (SIGINT or SIGTERM) asked the command to stop (a ``KeyboardInterrupt``).
Interrupted = Stopped


def exit_code(exc: BaseException) -> int:
    """The exit code of an interrupted command: 128 + the signal (130 for Ctrl-C)."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


class StderrGuard:
    """A stderr wrapper: after :meth:`mute_threads`, writes of other threads are dropped.

    With ``drop_notice`` it also drops the lines the ``ee`` client prints as
    ``*** Earth Engine ***`` (for ``--quiet``).
    """

    NOTICE = "*** Earth Engine ***"

    def __init__(self, stream: Any, *, drop_notice: bool = False) -> None:
        self._stream = stream
        self._drop_notice = drop_notice
        self._dropping = False
        self.muted = False

    def mute_threads(self) -> None:
        """From now on, only the main thread writes."""
        self.muted = True

    def write(self, text: str) -> int:
        if self.muted and threading.current_thread() is not threading.main_thread():
            return len(text)
        if self._drop_notice:
            if not self._dropping and text.startswith(self.NOTICE):
                self._dropping = True  # print() writes the parts and the end apart
            if self._dropping:
                if "\n" not in text:
                    return len(text)
                self._dropping = False
                rest = text.split("\n", 1)[1]
                if rest:
                    self._write(rest)
                return len(text)
        return self._write(text)

    def _write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (BrokenPipeError, ValueError):  # nobody reads stderr any more (`| tee` ended)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def signals_as_interrupts(guard: StderrGuard | None = None) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the block (main thread only).

    The handlers in place before are put back when the block ends. ``guard`` is muted for
    other threads when the first signal arrives.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if guard is not None:
            guard.mute_threads()
        note_stop(signum)  # kept even if the exception below is swallowed somewhere
        raise Interrupted(signum)

    note_stop(None)
    previous = {sig: signal.signal(sig, handler) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
