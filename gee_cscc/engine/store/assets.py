"""The local asset store: images, image collections, tables and folders in a plain folder.

Layout: every asset is a directory ``<root>/assets/<project>/<path>/`` holding
``asset.json`` (type, properties, IAM policy, times). An image also holds ``data.tif``
(one band per GeoTIFF band, described by name; NaN, or the recorded nodata value for
integers, marks masked pixels), and ``data-<k>.tif`` for bands on grids of their own (each
such band records its ``file``, ``index`` and ``grid`` in ``asset.json``); a table holds ``data.geojson``. An image collection or a
folder is a directory whose child directories are its assets. The store survives restarts.

Several processes may share one store: every change is made under ``flock`` locks in
``<root>/locks/``, and every asset is built in ``<root>/tmp/`` and published with one rename,
so a reader sees an asset whole or not at all (:mod:`.locks`, :mod:`.folder`).

Asset ids are accepted in every form the ``ee`` client accepts: ``projects/<p>/assets/<path>``,
``users/...`` (→ project ``earthengine-legacy``) and bare public ids such as
``MODIS/061/MOD17A3HGF`` (→ project ``earthengine-public``).
"""

from __future__ import annotations

from .acl import AssetAccess
from .names import AssetName
from .reading import AssetReader
from .times import year_millis
from .writing import AssetWriter

__all__ = ["AssetStore", "AssetName", "year_millis"]


class AssetStore(AssetWriter, AssetReader, AssetAccess):
    """A folder of Earth Engine assets: write, read, list, move and share them.

    Constructed as :class:`~.folder.AssetFolder` (``root``, ``default_project``, ``user``).
    """
