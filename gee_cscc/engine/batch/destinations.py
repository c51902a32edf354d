"""Helpers shared by the local engine's exports and ingestions (paths, checks, values)."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..core.context import RequestContext
from ..core.serialize import to_info
from ..core.values import pixel_cache
from ..errors import AlreadyExistsError, CancelledError, EEError
from ..store.assets import AssetName, AssetStore
from ..store.locks import pid_alive
from ..store.times import rfc3339_to_millis

#: Earth Engine's default ``maxPixels`` of an image export.
DEFAULT_MAX_PIXELS = 100_000_000
#: Rows and columns of the windows an image export computes at once (bounds memory).
STRIP_ROWS = 512
STRIP_COLS = 4096

ProgressFn = Callable[[float], None]

GDAL_TYPE_NAMES = {
    "uint8": "UInt8",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "int64": "Int64",
    "float32": "Float32",
    "float64": "Float64",
}
EMPTY_GEOMETRY = {"type": "MultiPoint", "coordinates": []}


# --- small helpers ----------------------------------------------------------------------------


def check_cancel(cancel_event: threading.Event) -> None:
    """Raise :class:`CancelledError` if the operation was cancelled."""
    if cancel_event.is_set():
        raise CancelledError()


def wrapped_int(value: Any, default: int | None) -> int | None:
    """An Int64Value/Int32Value (``{"value": "123"}``), a number or a numeric string."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        value = value.get("value", default)
        if value is None:
            return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EEError(f"Invalid integer value: {value!r}.") from None


def wrapped_float(value: Any) -> float | None:
    """A FloatValue/DoubleValue (``{"value": 1.5}``), a number or a numeric string; None if absent."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.get("floatValue", value.get("value"))
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EEError(f"Invalid number: {value!r}.") from None


def _relative_parts(text: str, what: str) -> list[str]:
    """The path parts of a Drive folder, bucket or prefix; rejects ``..`` and absolute paths."""
    if not isinstance(text, str):
        raise EEError(f"Invalid {what}: {text!r}.")
    parts = [p for p in PurePosixPath(text.replace("\\", "/")).parts if p not in ("", "/")]
    if text.startswith("/") or any(p in (".", "..") for p in parts):
        raise EEError(f"Invalid {what}: {text!r}.")
    return parts


def drive_path(root: Path, folder: str | None, prefix: str, ext: str) -> Path:
    """``<root>/drive/<folder>/<prefix>.<ext>`` (a Drive export's local file)."""
    base = Path(root) / "drive"
    if folder:
        base = base.joinpath(*_relative_parts(folder, "Drive folder"))
    parts = _relative_parts(prefix, "file name prefix")
    if not parts:
        raise EEError("Invalid file name prefix: ''.")
    return base.joinpath(*parts[:-1], f"{parts[-1]}.{ext}")


def gcs_path(root: Path, bucket: str, prefix: str, ext: str | None = None) -> Path:
    """``<root>/gcs/<bucket>/<prefix>[.<ext>]`` (a Cloud Storage object's local file)."""
    bparts = _relative_parts(bucket, "bucket")
    if len(bparts) != 1:
        raise EEError(f"Invalid bucket: {bucket!r}.")
    parts = _relative_parts(prefix, "file name prefix")
    if not parts:
        raise EEError("Invalid file name prefix: ''.")
    last = f"{parts[-1]}.{ext}" if ext else parts[-1]
    return Path(root).joinpath("gcs", bparts[0], *parts[:-1], last)


def gcs_uri_to_path(root: Path, uri: str) -> Path:
    """The local file of a ``gs://bucket/object`` URI."""
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        raise EEError(f"Invalid Cloud Storage URI {uri!r}: expected gs://bucket/object.")
    bucket, _, obj = uri[len("gs://") :].partition("/")
    if not bucket or not obj:
        raise EEError(f"Invalid Cloud Storage URI {uri!r}: expected gs://bucket/object.")
    return gcs_path(root, bucket, obj)


#: A temporary export file: ``.<name>.p<pid>-<hex>.tmp`` (the pid of the writing process).
_TEMP_RE = re.compile(r"^\..+\.p(\d+)-[0-9a-f]{12}\.tmp$")


def temp_beside(path: Path) -> Path:
    """A fresh temporary path in the folder of ``path`` (created), for an atomic replace.

    Temporary files that a killed engine left in that folder (their process is gone) are
    removed first, so a Drive or Cloud Storage folder holds only finished files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path.parent)
    return path.with_name(f".{path.name}.p{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary export files in ``folder`` whose process is gone; returns them."""
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in Path(folder).iterdir():
            m = _TEMP_RE.match(entry.name)
            if m and not pid_alive(int(m.group(1))) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                removed.append(entry)
    return removed


def timestamp_millis(value: Any, what: str) -> float:
    """Milliseconds since the epoch of an RFC 3339 timestamp (or a number of ms)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Mapping) and "seconds" in value:
        return float(value["seconds"]) * 1000.0 + float(value.get("nanos", 0)) / 1e6
    if isinstance(value, str):
        millis = rfc3339_to_millis(value)
        if millis is None:
            raise EEError(f"Invalid {what}: {value!r}.")
        return millis
    raise EEError(f"Invalid {what}: {value!r}.")


def evaluate_expression(body: Mapping[str, Any]) -> Any:
    """Evaluate the expression graph of an export request (with a pixel cache)."""
    from ..core.evaluate import evaluate

    expression = body.get("expression")
    if not expression:
        raise EEError("The export request has no expression.")
    with pixel_cache():
        return evaluate(expression)


def asset_destination(
    ctx: RequestContext, options: Mapping[str, Any], kind: str
) -> tuple[AssetName, bool]:
    """The destination asset of an export and whether it may be overwritten (access checked)."""
    dest = options.get("earthEngineDestination") or {}
    name = dest.get("name")
    if not name:
        raise EEError("An asset export needs earthEngineDestination.name.")
    store: AssetStore = ctx.store
    asset = store.resolve(name)
    overwrite = bool(dest.get("overwrite", False))
    check_destination(ctx, asset, overwrite, kind)
    return asset, overwrite


def check_destination(
    ctx: RequestContext, asset: AssetName, overwrite: bool, kind: str = "IMAGE"
) -> None:
    """Fail early (before computing) when the destination asset may not be written.

    An existing asset is replaced only with ``overwrite`` and only by one of its own type
    (an export never replaces a folder or a collection).
    """
    store: AssetStore = ctx.store
    if not asset.path:
        raise EEError(f"Invalid asset id: '{asset.id}'.")
    if store.exists(asset):
        if not overwrite:
            raise AlreadyExistsError(f"Cannot overwrite asset '{asset.id}'.")
        store.check_access(asset, ctx.user, write=True)
        existing = store.meta(asset).get("type")
        if existing != kind:
            raise AlreadyExistsError(
                f"Cannot overwrite asset '{asset.id}': it is a {existing}, not a {kind}."
            )
    parent = asset.parent()
    while parent.path and not store.exists(parent):
        parent = parent.parent()
    store.check_access(parent, ctx.user, write=True)  # the project's root: its writers


def store_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """An element's properties as an asset keeps them (no ``system:`` ones but the times)."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith("system:") and key not in ("system:time_start", "system:time_end"):
            continue
        out[key] = to_info(value)
    return out


def asset_file_dtype(dtypes: Sequence[str]) -> tuple[np.dtype, float]:
    """The file type that keeps every band's values and mask, and its nodata value."""
    small_ints = {"uint8", "int8", "uint16", "int16"}
    if all(d in small_ints for d in dtypes):
        return np.dtype("int32"), float(np.iinfo(np.int32).min)
    if all(d in small_ints or d == "float32" for d in dtypes):
        return np.dtype("float32"), float("nan")
    return np.dtype("float64"), float("nan")


def cast_to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values cast to a file dtype: integers truncated and clipped to its range, NaN → 0."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        v = np.where(np.isfinite(values), values, 0.0)
        return np.clip(np.trunc(v), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def file_targets(root: Path, opts: Mapping[str, Any], ext: str) -> Path:
    """The file path (without extension) of a Drive or Cloud Storage export destination."""
    drive = opts.get("driveDestination")
    gcs = opts.get("cloudStorageDestination") or opts.get("gcsDestination")
    if drive is not None:
        prefix = drive.get("filenamePrefix") or "export"
        return drive_path(root, drive.get("folder"), prefix, ext)
    if gcs is not None:
        bucket = gcs.get("bucket")
        if not bucket:
            raise EEError("A Cloud Storage export needs a bucket.")
        prefix = gcs.get("filenamePrefix") or "export"
        return gcs_path(root, bucket, prefix, ext)
    raise EEError("A file export needs driveDestination or cloudStorageDestination.")


def plain_geojson(info: dict | None) -> dict | None:
    """GeoJSON of a geometry's info without the Earth Engine-only ``geodesic`` member."""
    if info is None:
        return None
    return {k: v for k, v in info.items() if k != "geodesic"}
