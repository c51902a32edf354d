"""Access control of assets: IAM policies (owners, writers, readers) and the checks the
service makes on every source and destination.

Rules: a caller may read an asset if it (or a folder above it) lists the caller, or
``allUsers``, as owner, writer or reader; write if as owner or writer. Creating an asset
needs write access to the nearest existing folder above it (anyone authenticated may
create at a project's root). A copy needs read access to the source, a move write access;
both need write access where the destination lands, and an overwrite write access to the
asset it replaces. ``allUsers`` may only be a reader (public read access), as on Earth
Engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import AlreadyExistsError, EEError, PermissionDeniedError
from .folder import AssetFolder
from .names import AssetName
from .times import now_rfc3339

__all__ = ["AssetAccess"]


class AssetAccess(AssetFolder):
    """The IAM policies of :class:`~.assets.AssetStore`'s assets."""

    def get_policy(self, asset_id: str | AssetName) -> dict:
        meta = self.meta(asset_id)
        return {
            "version": 1,
            "etag": "local",
            "bindings": meta.get("iam", {}).get("bindings", []),
        }

    def set_policy(self, asset_id: str | AssetName, policy: Mapping[str, Any]) -> dict:
        """Replace readers/writers; the owner binding is kept as Earth Engine does."""
        name = self.resolve(asset_id)
        for b in policy.get("bindings", []):
            if "allUsers" in (b.get("members") or []) and b.get("role") != "roles/viewer":
                raise EEError(
                    f"allUsers can only be a reader (public read access), not {b.get('role')}, "
                    f"of asset '{name.id}'."
                )
        with self.lock:
            meta = self.meta(name)
            old = meta.get("iam", {}).get("bindings", [])
            owners = [b for b in old if b.get("role") == "roles/owner"]
            new = [b for b in policy.get("bindings", []) if b.get("role") != "roles/owner"]
            meta["iam"] = {"bindings": owners + [b for b in new if b.get("members")]}
            meta["updateTime"] = now_rfc3339()
            self.write_meta(name, meta)
        return self.get_policy(name)

    def roles_of(self, asset_id: str | AssetName, member: str) -> set[str]:
        """The roles ``member`` holds on the asset or any of its parents."""
        name = self.resolve(asset_id)
        roles: set[str] = set()
        node = name
        while node.path:
            if self.exists(node):
                for b in self.meta(node).get("iam", {}).get("bindings", []):
                    members = b.get("members", [])
                    if member in members or "allUsers" in members:
                        roles.add(b.get("role", ""))
            node = node.parent()
        return roles

    def check_access(
        self, asset_id: str | AssetName, member: str | None, *, write: bool = False
    ) -> None:
        """Raise PermissionDeniedError unless ``member`` may read (or write) the asset."""
        if member is None:
            return
        roles = self.roles_of(asset_id, member)
        allowed = (
            {"roles/owner", "roles/editor"}
            if write
            else {
                "roles/owner",
                "roles/editor",
                "roles/viewer",
            }
        )
        if not roles & allowed:
            name = self.resolve(asset_id)
            verb = "write" if write else "read"
            raise PermissionDeniedError(
                f"Permission denied: {member} may not {verb} asset '{name.id}'."
            )

    def check_create(self, asset_id: str | AssetName, member: str | None) -> None:
        """Raise PermissionDeniedError unless ``member`` may create an asset at ``asset_id``:
        write access to the nearest existing folder above it (a project's root: anyone)."""
        if member is None:
            return
        node = self.resolve(asset_id).parent()
        while node.path and not self.exists(node):
            node = node.parent()
        if node.path:
            self.check_access(node, member, write=True)

    def check_transfer(
        self,
        src: str | AssetName,
        dst: str | AssetName,
        member: str | None,
        *,
        move: bool,
        overwrite: bool,
    ) -> None:
        """Check a copy (read the source) or move (write the source) to ``dst``: write
        access where it lands, and to the asset it would replace (``overwrite``)."""
        s, t = self.resolve(src), self.resolve(dst)
        self.meta(s)  # a missing source is a 404 before any permission question
        self.check_access(s, member, write=move)
        if self.exists(t) and t.path:
            self.check_access(t, member, write=True)
            if not overwrite:
                raise AlreadyExistsError(f"Cannot overwrite asset '{t.id}'.")
        else:
            self.check_create(t, member)
