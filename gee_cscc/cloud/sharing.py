"""Sharing assets: read and extend their access control lists (ACLs).

:func:`share_asset` and :func:`show_acl` go through ``ee.data.getAssetAcl`` /
``setAssetAcl``; members are only ever added, and public read access is only ever given
when asked for: ``allUsers`` as a reader needs ``public=True`` (``--public``), and
``allUsers`` (or ``allAuthenticatedUsers``) is never a writer, since Earth Engine gives the
public read access only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import ee

from gee_cscc.cloud.assets import call_quietly
from gee_cscc.errors import ExportError, InputError

__all__ = ["format_acl", "share_asset", "show_acl"]

#: The records of every export module go to the logger of :mod:`gee_cscc.cloud.exports`.
log = logging.getLogger("gee_cscc.cloud.exports")

_MEMBER_PREFIXES = ("user:", "group:", "serviceAccount:", "domain:")


def _member(text: str) -> str:
    """``user:<email>`` for a plain email; typed members (``group:…``) and allUsers as given."""
    text = text.strip()
    if text in ("allUsers", "allAuthenticatedUsers") or text.startswith(_MEMBER_PREFIXES):
        return text
    if not re.fullmatch(r"[^@\s:]+@[^@\s:]+", text):
        raise InputError(
            f"Invalid collaborator {text!r}: give an email address or a typed member "
            "such as 'group:team@example.com'."
        )
    return f"user:{text}"


def show_acl(asset_id: str) -> dict[str, Any]:
    """The access control list of an asset (``owners``, ``writers``, ``readers``,
    ``all_users_can_read``)."""
    try:
        acl = call_quietly(ee.data.getAssetAcl, asset_id)
    except ee.EEException as exc:
        raise ExportError(f"Cannot read the ACL of '{asset_id}': {exc}") from exc
    acl.setdefault("all_users_can_read", False)
    return acl


def format_acl(asset_id: str, acl: Mapping[str, Any]) -> str:
    """An ACL as readable lines."""
    lines = [asset_id]
    for role in ("owners", "writers", "readers"):
        members = acl.get(role) or []
        lines.append(f"  {role}: {', '.join(members) if members else '(none)'}")
    lines.append(f"  public read: {'yes' if acl.get('all_users_can_read') else 'no'}")
    return "\n".join(lines)


def _descendants(asset_id: str) -> list[str]:
    """Every asset below a folder (recursively); images of a collection follow the collection."""
    out = []
    pending = [asset_id]
    while pending:
        parent = pending.pop(0)
        listing = ee.data.listAssets({"parent": parent})
        for asset in listing.get("assets", []):
            name = asset.get("name") or asset.get("id")
            out.append(name)
            if asset.get("type") in ("FOLDER", "Folder"):
                pending.append(name)
    return out


def share_asset(
    asset_id: str,
    *,
    readers: Iterable[str] = (),
    writers: Iterable[str] = (),
    public: bool = False,
    recursive: bool = False,
) -> list[str]:
    """Give collaborators read or write access to an asset (and what is below a folder).

    Members are added to the existing ACL (nobody loses access). Public read access is
    given only with ``public=True``; it is never implied.

    Parameters
    ----------
    asset_id
        The asset.
    readers
        Emails (``user:`` is added) or typed members (``group:…``) to give read access.
    writers
        Members to give write access.
    public
        Make the asset readable by anyone.
    recursive
        For a folder, also every asset below it; the images of an image
        collection follow the collection's ACL and are not changed one by one.

    Returns
    -------
    list of str
        The ids of the assets whose ACL changed.
    """
    new_readers = [_member(m) for m in readers]
    new_writers = [_member(m) for m in writers]
    _check_public(asset_id, new_readers, new_writers, public)
    new_readers = [m for m in new_readers if m != "allUsers"]  # public=True gives it
    if not (new_readers or new_writers or public):
        raise InputError("Nothing to share: give readers, writers or public.")
    targets = [asset_id]
    if recursive:
        asset = ee.data.getAsset(asset_id)
        if asset.get("type") in ("FOLDER", "Folder"):
            targets += _descendants(asset_id)
    changed = []
    for target in targets:
        acl = show_acl(target)
        update = {
            "owners": list(acl.get("owners") or []),
            "readers": list(acl.get("readers") or []),
            "writers": list(acl.get("writers") or []),
            "all_users_can_read": bool(acl.get("all_users_can_read")) or public,
        }
        for m in new_readers:
            if m not in update["readers"] and m not in update["writers"]:
                update["readers"].append(m)
        for m in new_writers:
            if m not in update["writers"]:
                update["writers"].append(m)
            if m in update["readers"]:
                update["readers"].remove(m)
        if _same_acl(acl, update):
            continue
        try:
            call_quietly(ee.data.setAssetAcl, target, update)
        except ee.EEException as exc:
            raise ExportError(f"Cannot change the ACL of '{target}': {exc}") from exc
        log.info("shared %s", target)
        changed.append(target)
    return changed


def _check_public(asset_id: str, readers: list[str], writers: list[str], public: bool) -> None:
    """Refuse public access that was not asked for, and public write access altogether."""
    everyone = {"allUsers", "allAuthenticatedUsers"}
    if everyone & set(writers):
        raise InputError(
            f"Cannot make '{asset_id}' writable by everyone: Earth Engine gives the public "
            "read access only (--public)."
        )
    if "allAuthenticatedUsers" in readers:
        raise InputError(
            "allAuthenticatedUsers is not an Earth Engine asset reader; use --public for "
            "public read access."
        )
    if "allUsers" in readers and not public:
        raise InputError(
            f"--reader allUsers would make '{asset_id}' readable by anyone: give --public "
            "to do that (public access is never implied)."
        )


def _same_acl(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(
        sorted(a.get(k) or []) == sorted(b.get(k) or []) for k in ("owners", "readers", "writers")
    ) and bool(a.get("all_users_can_read")) == bool(b.get("all_users_can_read"))
