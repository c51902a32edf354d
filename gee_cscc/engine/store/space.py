"""Free disk space, checked before an asset, an export or an ingestion is written.

A write that runs out of space half-way fails late and may leave the disk full for every
other program; the local engine checks first and fails the operation with one message.
The estimate is the uncompressed size (GeoTIFFs are written compressed, so the file is
usually smaller): the check refuses only what might not fit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import EEError

__all__ = ["SPACE_MARGIN_BYTES", "SPACE_MARGIN_FRACTION", "check_free_space"]

#: Space kept free beyond the estimate: 10 % of it plus 16 MiB.
SPACE_MARGIN_FRACTION = 0.10
SPACE_MARGIN_BYTES = 16 << 20


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def check_free_space(folder: str | Path, needed_bytes: float, what: str) -> None:
    """Raise EEError unless ``folder``'s filesystem has room for ``needed_bytes`` plus margin.

    Parameters
    ----------
    folder
        Where the bytes will be written (an existing folder or a path below one).
    needed_bytes
        The expected size of what is written (bytes).
    what
        The asset id or file the message names.
    """
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    free = shutil.disk_usage(path).free
    needed = float(needed_bytes) * (1 + SPACE_MARGIN_FRACTION) + SPACE_MARGIN_BYTES
    if free < needed:
        raise EEError(
            f"Not enough disk space to write '{what}': it needs about {_mb(needed)} "
            f"and {_mb(free)} are free in {path}. Free some space and try again."
        )
