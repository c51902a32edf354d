"""Access control of assets: IAM policies (owners, writers, readers) and the checks the
service makes on every source and destination.

Rules: a caller may read an asset if it (or a folder above it, or its project) lists the
caller, or ``allUsers``, as owner, writer or reader; write if as owner or writer. Creating
an asset needs write access to the nearest existing folder above it (at the top of a
project: write access to the project). A copy needs read access to the source, a move
write access; both need write access where the destination lands, and an overwrite write
access to the asset it replaces. ``allUsers`` may only be a reader (public read access),
as on Earth Engine.

A project's root (``projects/<p>/assets``) stands for the Cloud project: the store's
owner (:attr:`user`) owns it, and its policy (kept in ``assets/<p>/project-iam.json``; set
with ``AssetStore.set_policy("projects/<p>/assets", policy)`` — the ``ee`` client cannot
address a project root, as on Earth Engine, where a project's IAM is set in the Cloud
console) grants its roles on every asset of the project. Reading an asset's metadata or
listing a folder, collection or project a caller may not read is refused with Earth
Engine's 403 "Permission 'earthengine.assets.get' (or '.list') denied on resource
'<name>' (or it may not exist).", whether or not the asset exists, so a refusal reveals
nothing (:meth:`AssetAccess.check_visible`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import AlreadyExistsError, EEError, NotFoundError, PermissionDeniedError
from .folder import AssetFolder, atomic_write_text
from .names import AssetName
from .times import now_rfc3339

__all__ = ["AssetAccess", "READ_ROLES", "WRITE_ROLES", "PROJECT_POLICY_FILE", "denied"]

#: The roles that may read, and those that may write.
READ_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
WRITE_ROLES = frozenset({"roles/owner", "roles/editor"})

#: The file of a project root's policy, in ``<store>/assets/<project>/``.
PROJECT_POLICY_FILE = "project-iam.json"


def denied(permission: str, resource: str) -> PermissionDeniedError:
    """Earth Engine's refusal of an IAM ``permission`` on ``resource`` (HTTP 403); the
    same whether or not the resource exists."""
    return PermissionDeniedError(
        f"Permission '{permission}' denied on resource '{resource}' (or it may not exist)."
    )


class AssetAccess(AssetFolder):
    """The IAM policies of :class:`~.assets.AssetStore`'s assets."""

    def _project_file(self, name: AssetName):
        return self.asset_dir(AssetName(name.project, "")) / PROJECT_POLICY_FILE

    def _bindings(self, name: AssetName) -> list[dict]:
        """The bindings stored on an asset, or on a project root (its owner first)."""
        if name.path:
            return self.meta(name).get("iam", {}).get("bindings", [])
        try:
            stored = json.loads(self._project_file(name).read_text()).get("bindings", [])
        except (FileNotFoundError, json.JSONDecodeError):
            stored = []
        owner = [{"role": "roles/owner", "members": [self.user]}]
        return owner + [b for b in stored if b.get("role") != "roles/owner"]

    def get_policy(self, asset_id: str | AssetName) -> dict:
        return {"version": 1, "etag": "local", "bindings": self._bindings(self.resolve(asset_id))}

    def set_policy(self, asset_id: str | AssetName, policy: Mapping[str, Any]) -> dict:
        """Replace readers/writers; the owner binding is kept as Earth Engine does."""
        name = self.resolve(asset_id)
        for b in policy.get("bindings", []):
            if "allUsers" in (b.get("members") or []) and b.get("role") != "roles/viewer":
                raise EEError(
                    f"allUsers can only be a reader (public read access), not {b.get('role')}, "
                    f"of asset '{name.id}'."
                )
        if not name.path:  # the project: its owner is the store's owner
            new = [b for b in policy.get("bindings", []) if b.get("role") != "roles/owner"]
            with self.lock:
                text = json.dumps({"bindings": [b for b in new if b.get("members")]}, indent=1)
                atomic_write_text(self._project_file(name), text)
            return self.get_policy(name)
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
        while True:
            if not node.path or self.exists(node):
                try:
                    bindings = self._bindings(node)
                except NotFoundError:  # removed meanwhile
                    bindings = []
                for b in bindings:
                    members = b.get("members", [])
                    if member in members or "allUsers" in members:
                        roles.add(b.get("role", ""))
            if not node.path:
                return roles
            node = node.parent()

    def may_access(
        self, asset_id: str | AssetName, member: str | None, *, write: bool = False
    ) -> bool:
        """Whether ``member`` may read (or write) the asset (None: the engine itself)."""
        if member is None:
            return True
        return bool(self.roles_of(asset_id, member) & (WRITE_ROLES if write else READ_ROLES))

    def check_visible(
        self,
        asset_id: str | AssetName,
        member: str | None,
        permission: str = "earthengine.assets.get",
    ) -> dict | None:
        """The asset's metadata (None for a project root) if ``member`` may read it.

        A caller who may read where the asset is (the asset, a folder above it or the
        project) gets 404 for a missing one; any other caller gets Earth Engine's 403
        "Permission '<permission>' denied on resource '<name>' (or it may not exist).",
        the same for an asset that exists and one that does not.
        """
        name = self.resolve(asset_id)
        if not self.may_access(name, member):
            shown = name.id if name.path else f"projects/{name.project}"
            raise denied(permission, shown)
        return self.meta(name) if name.path else None

    def check_access(
        self, asset_id: str | AssetName, member: str | None, *, write: bool = False
    ) -> None:
        """Raise PermissionDeniedError unless ``member`` may read (or write) the asset."""
        if not self.may_access(asset_id, member, write=write):
            name = self.resolve(asset_id)
            verb = "write" if write else "read"
            raise PermissionDeniedError(
                f"Permission denied: {member} may not {verb} asset '{name.id}'."
            )

    def check_create(self, asset_id: str | AssetName, member: str | None) -> None:
        """Raise PermissionDeniedError unless ``member`` may create an asset at ``asset_id``:
        write access to the nearest existing folder above it, or to the project (its
        root) for an asset at the top: Earth Engine's ``earthengine.assets.create`` on the
        project."""
        if member is None:
            return
        node = self.resolve(asset_id).parent()
        while node.path and not self.exists(node):
            node = node.parent()
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
        self.check_visible(s, member)  # 404 only to a caller who may read where it is
        self.check_access(s, member, write=move)
        if self.exists(t) and t.path:
            self.check_access(t, member, write=True)
            if not overwrite:
                raise AlreadyExistsError(f"Cannot overwrite asset '{t.id}'.")
        else:
            self.check_create(t, member)
