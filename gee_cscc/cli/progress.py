"""What the command line shows on stderr while it works: step lines and progress bars.

Every step is announced as one line, ``[  12.3s] step`` (seconds since the command
started). A long step that can count its work (xee tiles pulled, export tasks finished,
files written) also draws a bar with counts, elapsed time and ETA (``tqdm``), but only on a
terminal: when stderr is a file or a pipe (logs, CI, tests) the output stays the step lines
alone. Under ``--quiet`` only warnings are printed (:meth:`Progress.warn`, a line each, such
as regions that hold no grid cell): they are about the results, not the work.

The workflow sees only a callable ``progress(message)``. A long step asks it for a counter
when it has one (``getattr(progress, "counter", None)``), so library callers that pass a
plain function keep working::

    tick = progress.counter("tiles pulled", unit="tiles")  # None: no bar (quiet, a log)
    if tick is not None:
        tick(0, 120)
        ...
        tick(120, 120)                                     # done == total closes the bar
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

__all__ = ["BAR_FORMAT", "Progress", "Tick", "draws_bars"]

#: A counter: called with the work done so far, the total and an optional note.
Tick = Callable[..., None]

#: The bar: what, counts, bar, elapsed < ETA, and the note (e.g. tasks running/waiting).
BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} |{bar}| [{elapsed}<{remaining}]{postfix}"


def draws_bars(stream: Any) -> bool:
    """True when ``stream`` is a terminal (bars are drawn there, never in a file or pipe)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed stream
        return False


class Progress:
    """Step lines on stderr, ``[  12.3s] step``, and progress bars on a terminal.

    Parameters
    ----------
    quiet : bool, keyword-only
        Print no step lines and no bars, only warnings (``--quiet``).
    stream : file-like, optional, keyword-only
        Where to write; default the ``sys.stderr`` of the moment of each write (the CLI
        swaps in a guard while a command runs).
    """

    def __init__(self, *, quiet: bool = False, stream: Any = None) -> None:
        self.quiet = quiet
        self._stream = stream
        self.start = time.perf_counter()
        self._bar: tqdm | None = None

    @property
    def stream(self) -> Any:
        return self._stream if self._stream is not None else sys.stderr

    def __call__(self, message: str) -> None:
        """Announce a step (a bar still open is finished first, so lines never interleave)."""
        if not self.quiet:
            self._line(message, stamped=True)

    def warn(self, message: str) -> None:
        """A warning about the results, one line: printed even under ``--quiet`` (then
        without the time)."""
        self._line(message, stamped=not self.quiet)

    def _line(self, message: str, *, stamped: bool) -> None:
        self.close()
        if stamped:
            message = f"[{time.perf_counter() - self.start:7.1f}s] {message}"
        print(message, file=self.stream, flush=True)

    def counter(self, what: str, *, unit: str = "it") -> Tick | None:
        """A counter of one long step: ``tick(done, total, note="")`` moves its bar.

        ``what`` names the work ("tiles pulled"), ``unit`` one piece of it ("tiles").
        The bar opens at the first tick and closes when ``done >= total``. None when quiet
        or not on a terminal: the caller then announces the step with lines, as before.
        """
        if self.quiet or not draws_bars(self.stream):
            return None

        from gee_cscc.cloud.tasks import bar_options  # imports ee: only when a bar is drawn

        def tick(done: float, total: float, note: str = "") -> None:
            bar = self._bar
            if bar is None or bar.desc != what:
                self.close()
                bar = self._bar = tqdm(
                    total=total,
                    desc=what,
                    unit=unit,
                    file=self.stream,
                    bar_format=BAR_FORMAT,
                    **bar_options(self.stream),
                    leave=True,
                    mininterval=0.2,
                )
            bar.total = total
            bar.n = done
            bar.set_postfix_str(note, refresh=False)
            bar.refresh()
            if total and done >= total:
                self.close()

        return tick

    def close(self) -> None:
        """Finish the open bar, if any (it stays on screen with its final counts)."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.close()
