"""Where an export goes and what it is called: destinations, manifest keys, task names.

An export goes to one of three destinations (:data:`Destination`): an Earth Engine asset,
a Google Drive folder or a Cloud Storage bucket. Each destination has one manifest key
(:func:`destination_key`) by which the run's :class:`~gee_cscc.cloud.tasks.TaskManifest`
records its task; task descriptions and asset path components are cleaned to the characters
Earth Engine accepts. Inconsistent arguments raise :class:`~gee_cscc.errors.InputError`.
"""

from __future__ import annotations

import re
from typing import Literal

from gee_cscc.errors import InputError

__all__ = [
    "Destination",
    "asset_path_part",
    "check_destination",
    "destination_key",
    "task_description",
]

Destination = Literal["asset", "drive", "gcs"]
_DESTINATIONS = ("asset", "drive", "gcs")


def check_destination(destination: str) -> str:
    """``destination`` itself if it is one of :data:`Destination`; InputError otherwise."""
    if destination not in _DESTINATIONS:
        raise InputError(
            f"Unknown export destination {destination!r}; expected one of {_DESTINATIONS}."
        )
    return destination


def destination_key(
    destination: Destination,
    *,
    asset_id: str | None = None,
    folder: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
) -> str:
    """The manifest key of an export destination.

    ``asset:<id>``, ``drive:<folder>/<prefix>`` or ``gcs:<bucket>/<prefix>``.
    """
    check_destination(destination)
    if destination == "asset":
        if not asset_id:
            raise InputError("An export to an asset needs asset_id.")
        return f"asset:{asset_id}"
    if not prefix:
        raise InputError(f"An export to {destination} needs a file name prefix.")
    if destination == "drive":
        return f"drive:{folder or ''}/{prefix}"
    if not bucket:
        raise InputError("An export to Cloud Storage needs a bucket.")
    return f"gcs:{bucket}/{prefix}"


def task_description(text: str) -> str:
    """A valid task description: letters, digits, ``-``, ``_``; at most 100 characters."""
    text = re.sub(r"^projects/[^/]+/assets/", "", text)
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "gee_cscc_export"
    return clean[:100]


def asset_path_part(text: str) -> str:
    """One asset-path component made of letters, digits, ``_``, ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(text)).strip("_") or "x"
