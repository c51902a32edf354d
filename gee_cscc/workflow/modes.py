"""Interactive or batch: how a run computes, and the rule ``auto`` follows.

- **interactive**: the region tables come from grouped ``reduceRegion`` calls answered by
  ``getInfo``, and every raster layer is pulled whole through ``xee`` (``computePixels``).
  Each of those is an interactive request: Earth Engine answers it within 5 minutes, with at
  most 48 MiB per ``computePixels`` response and 40 concurrent requests per project.
- **batch**: every table is an export task (a grouped reduction with ``tileScale``, written
  to a table asset and read back with one small ``getInfo``), every raster an image export
  task; only the tables and a bounded preview of the rasters come back
  (:mod:`~gee_cscc.workflow.batch`). Tasks have none of the interactive limits.

``auto`` (the default of ``gee-cscc run``) takes interactive only when both hold, with the
limits of the engine in use (:class:`gee_cscc.engine.limits.Limits`: Google's documented
values, or a local engine's scaled-down copy):

1. ``grid pixels <= limits.max_pixels``: ``reduceRegion``'s default ``maxPixels`` (10
   million on Google), Earth Engine's own guard for an interactive reduction. The method's
   reductions set a higher ``maxPixels`` so that nothing refuses them up front, which is
   exactly why a larger grid would instead fail midway, at the 5-minute deadline or the
   memory cap.
2. ``grid pixels x pulled layers x 8 bytes <= limits.concurrent_requests x
   limits.pixels_bytes``: the pull fits in one round of concurrent ``computePixels``
   requests at their size cap (40 x 48 MiB = 1.875 GiB on Google). This also bounds the
   memory the pulled rasters take on this machine.

Otherwise ``auto`` takes batch. The choice and its reason are written to run.json.
Every pull (the interactive rasters, a batch run's preview) asks ``xee`` for requests of at
most ``limits.pixels_bytes`` (48 MiB on Google, xee's own default), so each request is one
that Earth Engine serves. A batch run's preview holds at most :func:`preview_pixels` pixels
per layer: the run's budget (1 Mpx by default), and never more than an eighth of
``limits.max_pixels`` (1.25 M on Google, so the default stands; an engine whose limits are
scaled down gets a preview scaled down with them).

In batch mode every other interactive request is metadata or bounded by the regions, not
by the grid: the input's image list, the regions' names and bounding box, asset and task
status, the exported tables read back (one feature per region id), the preview. One
exception: a region-id image asset given without names has its ids counted over its own
grid by an interactive reduction; give ``--region-names`` for such a raster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gee_cscc.engine.limits import Limits
from gee_cscc.method.grid import GridSpec

__all__ = [
    "MODES",
    "PULL_BYTES_PER_PIXEL",
    "ModeChoice",
    "choose_mode",
    "engine_limits",
    "interactive_pull_bytes",
    "preview_pixels",
]

#: The modes of a run (``--mode``).
MODES = ("interactive", "batch", "auto")
#: Bytes per pixel and layer of a pull (layers travel as float64).
PULL_BYTES_PER_PIXEL = 8
#: A batch preview holds at most ``limits.max_pixels // PREVIEW_SHARE`` pixels per layer.
PREVIEW_SHARE = 8


@dataclass(frozen=True)
class ModeChoice:
    """The mode a run uses and why.

    Attributes
    ----------
    mode
        ``"interactive"`` or ``"batch"``.
    requested
        The mode asked for (``"auto"``, ``"interactive"`` or ``"batch"``).
    reason
        One sentence: the rule that decided.
    pixels
        Pixels of the analysis grid.
    pull_bytes
        Bytes an interactive pull of every layer would fetch.
    limits
        The limits the rule used.
    """

    mode: str
    requested: str
    reason: str
    pixels: int
    pull_bytes: int
    limits: Limits

    def to_dict(self) -> dict[str, Any]:
        """The choice as run.json records it."""
        return {
            "mode": self.mode,
            "requested": self.requested,
            "reason": self.reason,
            "grid_pixels": self.pixels,
            "pull_bytes": self.pull_bytes,
            "max_pixels": self.limits.max_pixels,
            "max_pull_bytes": interactive_pull_bytes(self.limits),
        }


def engine_limits(engine: Any = None) -> Limits:
    """The interactive limits of the engine in use.

    A local engine's own ``limits`` (possibly scaled down for tests), else Google's
    (:class:`Limits` defaults) — which also hold for a local engine without a ``limits=``
    setting.
    """
    limits = getattr(engine, "limits", None)
    return limits if isinstance(limits, Limits) else Limits()


def interactive_pull_bytes(limits: Limits) -> int:
    """The largest pull the interactive mode takes: one round of concurrent requests."""
    return int(limits.concurrent_requests) * int(limits.pixels_bytes)


def preview_pixels(budget: int, limits: Limits | None = None) -> int:
    """The most pixels per layer of a batch run's preview: ``budget``, at most an eighth
    of the engine's ``max_pixels`` (at least 1)."""
    limits = limits or Limits()
    return max(1, min(int(budget), int(limits.max_pixels) // PREVIEW_SHARE))


def choose_mode(
    requested: str, grid: GridSpec, *, layers: int, limits: Limits | None = None
) -> ModeChoice:
    """The mode of a run on ``grid`` (see the module docstring for the ``auto`` rule).

    Parameters
    ----------
    requested
        ``"interactive"``, ``"batch"`` or ``"auto"``.
    grid
        The analysis grid.
    layers
        How many raster layers an interactive run pulls.
    limits
        The engine's interactive limits (default: Google's).

    Raises
    ------
    ValueError
        An unknown mode.
    """
    if requested not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {requested!r}")
    limits = limits or Limits()
    pixels = grid.n_pixels
    pull = pixels * int(layers) * PULL_BYTES_PER_PIXEL
    max_pull = interactive_pull_bytes(limits)
    if requested != "auto":
        reason = f"--mode {requested} was asked for"
        return ModeChoice(requested, requested, reason, pixels, pull, limits)
    if pixels > limits.max_pixels:
        reason = (
            f"the grid's {pixels:,} pixels exceed maxPixels {limits.max_pixels:,} "
            "(Earth Engine's guard for interactive reductions)"
        )
        return ModeChoice("batch", requested, reason, pixels, pull, limits)
    if pull > max_pull:
        reason = (
            f"pulling {layers} layers ({pull / 2**20:,.0f} MiB) exceeds one round of "
            f"{limits.concurrent_requests} concurrent computePixels requests "
            f"({max_pull / 2**20:,.0f} MiB)"
        )
        return ModeChoice("batch", requested, reason, pixels, pull, limits)
    reason = (
        f"the grid's {pixels:,} pixels and its {pull / 2**20:,.1f} MiB pull fit Earth Engine's "
        "interactive limits"
    )
    return ModeChoice("interactive", requested, reason, pixels, pull, limits)
