"""Asset names: ``projects/<p>/assets/<path>`` ids, and the legacy and public forms the
``ee`` client also sends, validated segment by segment.
"""

from __future__ import annotations

import re

from ..errors import EEError

__all__ = ["AssetName"]


_PROJECT_RE = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
_NAME_RE = re.compile(rf"^projects/({_PROJECT_RE})/assets/?(.*)$")
#: One segment of an asset path: letters, digits, ``_``, ``-`` and ``.``.
ASSET_PART_RE = re.compile(r"^[A-Za-z0-9_\-.]+$")


class AssetName:
    """A parsed asset id: ``project`` and ``path`` (``""`` for the project root)."""

    def __init__(self, project: str, path: str) -> None:
        self.project = project
        self.path = path.strip("/")

    @classmethod
    def parse(cls, asset_id: str, default_project: str = "local-project") -> AssetName:
        if not isinstance(asset_id, str) or not asset_id.strip():
            raise EEError(f"Invalid asset id: {asset_id!r}.")
        text = asset_id.strip()
        m = _NAME_RE.match(text)
        if m:
            return cls(m.group(1), m.group(2))
        if text.startswith("projects/earthengine-legacy/assets/"):
            return cls("earthengine-legacy", text.split("/assets/", 1)[1])
        if text.startswith("users/") or text.startswith("projects/"):
            return cls("earthengine-legacy", text)
        return cls("earthengine-public", text)

    @property
    def name(self) -> str:
        if not self.path:
            return f"projects/{self.project}/assets"
        return f"projects/{self.project}/assets/{self.path}"

    @property
    def id(self) -> str:
        """The asset id as the ``ee`` client shows it."""
        if self.project == "earthengine-public":
            return self.path
        if self.project == "earthengine-legacy":
            return self.path
        return self.name

    def child(self, part: str) -> AssetName:
        return AssetName(self.project, f"{self.path}/{part}" if self.path else part)

    def parent(self) -> AssetName:
        return AssetName(self.project, self.path.rsplit("/", 1)[0] if "/" in self.path else "")

    def __repr__(self) -> str:
        return f"AssetName({self.name!r})"
