"""Earth Engine's interactive limits, as one value the local engine enforces.

Google's service refuses interactive work beyond documented limits; the local engine must
refuse the same work with the same messages, or tests pass at sizes where Earth Engine
would fail. :class:`Limits` holds those limits with Google's values as defaults; a smaller
copy (:meth:`Limits.scaled`, :meth:`Limits.parse`) lets a small test grid stand for a large
one. Batch work (export and ingestion tasks) has none of these limits, as on Earth Engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Limits", "GOOGLE"]


#: Limits that :meth:`Limits.scaled` keeps: they bound the connection, not the work.
_NOT_SCALED = frozenset({"read_seconds"})


@dataclass(frozen=True)
class Limits:
    """Interactive limits of one Earth Engine service.

    Attributes
    ----------
    compute_seconds
        Deadline of one interactive request (``value:compute``, ``image:computePixels``,
        tiles): Earth Engine answers "Computation timed out." after 5 minutes.
    concurrent_requests
        Interactive requests computed at once per project; more get HTTP 429 ("Too many
        concurrent aggregations.").
    pixels_bytes
        Largest uncompressed ``computePixels`` response (48 MiB).
    pixels_side
        Largest ``computePixels`` width or height (32,768 px).
    request_bytes
        Largest request body (10 MiB).
    max_pixels
        ``reduceRegion``'s default ``maxPixels`` (10 million), which Earth Engine applies
        when a reduction does not set its own.
    response_bytes
        Largest ``value:compute`` answer (32 MiB of JSON; Earth Engine's interactive
        answers are "at most tens of MB"); a larger one is refused with Earth Engine's
        "User memory limit exceeded.".
    read_seconds
        How long the service waits for a request's headers and body (and for the next
        request on an idle kept-alive connection). A property of the connection, not of
        the work: :meth:`scaled` leaves it alone.
    """

    compute_seconds: float = 300.0
    concurrent_requests: int = 40
    pixels_bytes: int = 48 * 2**20
    pixels_side: int = 32_768
    request_bytes: int = 10 * 2**20
    max_pixels: int = 10_000_000
    response_bytes: int = 32 * 2**20
    read_seconds: float = 30.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"limit {f.name} must be a positive number, got {value!r}")

    def scaled(self, factor: float) -> Limits:
        """Every limit times ``factor`` (counts rounded, at least 1); ``read_seconds`` kept."""
        if not factor > 0:
            raise ValueError(f"the scale of the limits must be positive, got {factor!r}")
        values = {}
        for f in dataclasses.fields(self):
            if f.name in _NOT_SCALED:
                values[f.name] = getattr(self, f.name)
                continue
            v = getattr(self, f.name) * factor
            values[f.name] = v if f.type in ("float", float) else max(1, int(round(v)))
        return Limits(**values)

    @classmethod
    def parse(cls, text: str) -> Limits:
        """Limits from ``"scale=0.001"`` and/or ``"name=value,…"`` (names as the attributes).

        ``scale`` is applied first, then the named values replace single limits:
        ``"scale=0.01,compute_seconds=2"``.
        """
        base = cls()
        named: dict[str, float] = {}
        scale = None
        for part in filter(None, (p.strip() for p in str(text).split(","))):
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"limits: expected name=value, got {part!r}")
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"limits: {key} must be a number, got {raw.strip()!r}") from None
            if key == "scale":
                scale = value
            elif key in {f.name for f in dataclasses.fields(cls)}:
                named[key] = value
            else:
                names = ", ".join(["scale", *(f.name for f in dataclasses.fields(cls))])
                raise ValueError(f"limits: unknown limit {key!r} (known: {names})")
        if scale is not None:
            base = base.scaled(scale)
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        fixed = {k: (v if types[k] in ("float", float) else int(v)) for k, v in named.items()}
        return dataclasses.replace(base, **fixed)

    @classmethod
    def of(cls, value: Limits | str | Mapping[str, float] | None) -> Limits:
        """Limits from a :class:`Limits`, a :meth:`parse` text, a mapping of names, or
        None (Google's)."""
        if value is None:
            return cls()
        if isinstance(value, Limits):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            return cls.parse(",".join(f"{k}={v}" for k, v in value.items()))
        raise TypeError(
            f"limits: expected Limits, a text such as 'scale=0.01' or None, got {value!r}"
        )

    def describe(self) -> str:
        """The limits in words (for ``gee-cscc serve``)."""
        return (
            f"{self.compute_seconds:g} s per request, {self.concurrent_requests} concurrent "
            f"requests per client, computePixels {self.pixels_bytes} bytes and "
            f"{self.pixels_side} px a side, maxPixels {self.max_pixels}, request bodies "
            f"{self.request_bytes} bytes, answers {self.response_bytes} bytes"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: Google's documented interactive limits.
GOOGLE = Limits()
