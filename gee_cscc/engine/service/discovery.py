"""The discovery document the local engine serves (``$discovery/rest``).

It is the document shipped with ``earthengine-api`` (``ee/tests/cloud_api_discovery_document.json``),
adapted: ``v1`` paths, this server as the root URL, the ``filter``/``view`` parameters of
``listAssets``, ``projects.getConfig``, and ``projects.tables`` (``create`` and
``getFeatures``, which ``ee.data.getTableDownloadId`` calls and the shipped document lacks).
"""

from __future__ import annotations

import functools
import json
from typing import Any

__all__ = ["discovery_document"]


@functools.lru_cache(maxsize=4)
def discovery_document(base_url: str) -> bytes:
    """The shipped discovery document, adapted: ``v1`` paths, missing parameters/methods."""
    import importlib.resources

    raw = importlib.resources.files("ee").joinpath("tests/cloud_api_discovery_document.json")
    doc = json.loads(raw.read_text())

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("path", "flatPath"):
                if isinstance(node.get(key), str):
                    node[key] = node[key].replace("v1alpha/", "v1/")
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    fix(doc)
    doc["version"] = "v1"
    doc["rootUrl"] = base_url + "/"
    doc["baseUrl"] = base_url + "/"
    projects = doc["resources"]["projects"]
    query = {"location": "query", "type": "string", "description": ""}
    for method in (
        projects["methods"]["listAssets"],
        projects["resources"]["assets"]["methods"]["listAssets"],
    ):
        method["parameters"].setdefault("filter", dict(query))
        method["parameters"].setdefault("view", dict(query))
    # ee.data.getTableDownloadId / makeTableDownloadUrl call projects.tables, which the
    # shipped document lacks.
    projects["resources"].setdefault("tables", {"methods": {}})["methods"].update(
        {
            "create": _method("POST", "tables", "parent", r"^projects/[^/]+$", "{+parent}/tables"),
            "getFeatures": _method(
                "GET",
                "tables.getFeatures",
                "name",
                r"^projects/[^/]+/tables/[^/]+$",
                "{+name}:getFeatures",
            ),
        }
    )
    projects["methods"]["getConfig"] = {
        "description": "",
        "flatPath": "v1/projects/{projectsId}/config",
        "httpMethod": "GET",
        "id": "earthengine.projects.getConfig",
        "parameterOrder": ["name"],
        "parameters": {
            "name": {
                "description": "",
                "location": "path",
                "pattern": "^projects/[^/]+/config$",
                "required": True,
                "type": "string",
            }
        },
        "path": "v1/{+name}",
        "response": {"type": "any"},
    }
    return json.dumps(doc).encode()


def _method(http: str, ident: str, param: str, pattern: str, path: str) -> dict:
    """A discovery-document method of one path parameter, JSON in and out."""
    method = {
        "description": "",
        "httpMethod": http,
        "id": f"earthengine.projects.{ident if '.' in ident else ident + '.create'}",
        "parameterOrder": [param],
        "parameters": {
            param: {
                "description": "",
                "location": "path",
                "pattern": pattern,
                "required": True,
                "type": "string",
            }
        },
        "path": f"v1/{path}",
        "response": {"type": "any"},
    }
    if http == "POST":
        method["request"] = {"type": "any"}
    return method
