"""The asset store's folder layout: one directory and one ``asset.json`` per asset.

Every asset is written whole before anyone can see it: its folder is built under
``<root>/tmp/`` (:meth:`AssetFolder.stage`) and renamed into place under the store lock
(:meth:`AssetFolder.publish`); a replaced or deleted asset is first renamed aside, so a
reader finds the old asset, the new one, or none, never a mix. Locks and staging names are
described in :mod:`.locks`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import AlreadyExistsError, EEError, NotFoundError
from .locks import StoreLocks, clean_stale, exchange, stage_name
from .names import ASSET_PART_RE, AssetName
from .times import now_rfc3339

__all__ = ["AssetFolder", "DEFAULT_OWNER", "atomic_write_text"]


DEFAULT_OWNER = "user:local-user@localhost"


class AssetFolder:
    """The store's folder: resolving ids, the ``asset.json`` of each asset, and moving,
    copying and deleting assets. :class:`~.assets.AssetStore` adds writing, reading and
    access control on top.

    Parameters
    ----------
    root
        The store folder (created if needed).
    default_project
        The project of ids given without one.
    user
        The identity that owns the assets this store creates (``user:…``).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        default_project: str = "local-project",
        user: str = DEFAULT_OWNER,
    ) -> None:
        self.root = Path(root)
        (self.root / "assets").mkdir(parents=True, exist_ok=True)
        self.default_project = default_project
        self.user = user
        #: The store's locks (across threads and processes; see :mod:`.locks`).
        self.locks = StoreLocks(self.root)
        #: The store lock: held while an asset's files or metadata change.
        self.lock = self.locks.store
        clean_stale(self.root / "tmp")

    # --- names and metadata -----------------------------------------------------------

    def resolve(self, asset_id: str | AssetName) -> AssetName:
        if isinstance(asset_id, AssetName):
            return asset_id
        if not isinstance(asset_id, str) or not asset_id.strip():
            raise EEError(f"Invalid asset id: {asset_id!r}.")
        text = asset_id.strip()
        if not text.startswith("projects/") and "/" not in text.strip("/"):
            text = f"projects/{self.default_project}/assets/{text}"
        return AssetName.parse(text, self.default_project)

    def asset_dir(self, name: AssetName) -> Path:
        parts = [p for p in name.path.split("/") if p]
        for p in parts:
            if not ASSET_PART_RE.match(p) or p in (".", ".."):
                raise EEError(f"Invalid asset id: '{name.id}'.")
        return self.root.joinpath("assets", name.project, *parts)

    def exists(self, asset_id: str | AssetName) -> bool:
        name = self.resolve(asset_id)
        return not name.path or (self.asset_dir(name) / "asset.json").is_file()

    def meta(self, asset_id: str | AssetName) -> dict:
        """The stored ``asset.json`` of an asset (NotFoundError when missing)."""
        name = self.resolve(asset_id)
        path = self.asset_dir(name) / "asset.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFoundError(f"Asset '{name.id}' not found.") from None

    def write_meta(self, name: AssetName, meta: dict) -> None:
        d = self.asset_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(d / "asset.json", json.dumps(meta, indent=1, sort_keys=True))

    def new_meta(self, kind: str, properties: Mapping[str, Any] | None) -> dict:
        return {
            "type": kind,
            "properties": dict(properties or {}),
            "updateTime": now_rfc3339(),
            "iam": {"bindings": [{"role": "roles/owner", "members": [self.user]}]},
        }

    def ensure_parents(self, name: AssetName) -> None:
        """Create the missing parent folders of ``name`` (under the store lock)."""
        with self.lock:
            parent = name.parent()
            chain = []
            while parent.path and not self.exists(parent):
                chain.append(parent)
                parent = parent.parent()
            for p in reversed(chain):
                self.write_meta(p, self.new_meta("FOLDER", None))

    def check_absent(self, name: AssetName, overwrite: bool) -> None:
        """Raise unless ``name`` may be written (absent, or present and ``overwrite``)."""
        if not name.path:  # a project root: never written to or replaced
            raise EEError(f"Invalid asset id: '{name.name}' is a project root, not an asset.")
        if self.exists(name) and not overwrite:
            raise AlreadyExistsError(f"Cannot overwrite asset '{name.id}'.")

    def scratch_dir(self) -> Path:
        """A folder under the store root for files being written (same filesystem)."""
        d = self.root / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        return d

    @contextlib.contextmanager
    def stage(self, kind: str = "put") -> Iterator[Path]:
        """A fresh folder ``<root>/tmp/<kind>-p<pid>-<random>`` for the block; removed after.

        Build an asset's folder in it and :meth:`publish` it before the block ends.
        """
        d = self.scratch_dir() / stage_name(kind)
        d.mkdir()
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def publish(self, staged: Path, asset_id: str | AssetName, *, overwrite: bool) -> None:
        """Rename a staged asset folder into place, under the store lock.

        An existing asset is replaced only with ``overwrite`` (else AlreadyExistsError): on
        Linux the two folders are exchanged in one step (:func:`.locks.exchange`), else
        the old one is renamed aside first; it is removed after. Readers never see a
        partial asset.
        Missing parent folders are created.
        """
        name = self.resolve(asset_id)
        old = None
        with self.lock:
            self.check_absent(name, overwrite)
            target = self.asset_dir(name)
            if target.exists():
                if exchange(staged, target):  # one step: readers see old or new
                    old = staged
                else:
                    old = self.scratch_dir() / stage_name("old")
                    os.rename(target, old)
                    os.rename(staged, target)
            else:
                self.ensure_parents(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def set_properties(self, asset_id: str | AssetName, properties: Mapping[str, Any]) -> None:
        name = self.resolve(asset_id)
        with self.lock:
            meta = self.meta(name)
            for k, v in properties.items():
                if v is None:
                    meta["properties"].pop(k, None)
                else:
                    meta["properties"][k] = v
            meta["updateTime"] = now_rfc3339()
            self.write_meta(name, meta)

    def delete(self, asset_id: str | AssetName, *, recursive: bool = False) -> None:
        name = self.resolve(asset_id)
        if not name.path:
            raise EEError(f"Cannot delete the project root '{name.name}'.")
        aside = self.scratch_dir() / stage_name("del")
        with self.lock:
            self.meta(name)
            d = self.asset_dir(name)
            if not recursive and self.children(name):
                raise EEError(f"Asset '{name.id}' is not empty.")
            os.rename(d, aside)
        shutil.rmtree(aside, ignore_errors=True)

    def copy(self, src: str | AssetName, dst: str | AssetName, *, overwrite: bool = False) -> None:
        s, t = self.resolve(src), self.resolve(dst)
        with self.lock:
            self.meta(s)
            self.check_absent(t, overwrite)
        with self.stage("copy") as staged:
            copied = staged / "asset"
            with self.lock:  # the source as it is now, not half-replaced
                shutil.copytree(self.asset_dir(s), copied)
            self.publish(copied, t, overwrite=overwrite)

    def move(self, src: str | AssetName, dst: str | AssetName) -> None:
        s, t = self.resolve(src), self.resolve(dst)
        with self.lock:
            self.meta(s)
            self.check_absent(t, False)
            self.ensure_parents(t)
            self.asset_dir(t).parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.asset_dir(s), self.asset_dir(t))

    def children(self, asset_id: str | AssetName) -> list[AssetName]:
        """The assets directly inside a folder or image collection."""
        name = self.resolve(asset_id)
        d = self.asset_dir(name)
        if not d.is_dir():
            return []
        out = []
        for child in sorted(d.iterdir()):
            if child.is_dir() and (child / "asset.json").is_file():
                out.append(name.child(child.name))
        return out


def atomic_write_text(path: Path, text: str) -> None:
    """Write a text file whole or not at all (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
