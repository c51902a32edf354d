"""The local engine's REST service, driven by the real ``ee`` client (and raw HTTP on loopback).

Covers what shared/reference/ee-protocol.md asks of the server: discovery and the algorithm
list, value:compute / computePixels errors as ``ee.EEException`` with the server's message
and 4xx statuses, the computePixels size limit, and the asset calls of ``ee.data``.
"""

from __future__ import annotations

import importlib.resources
import json
import urllib.error
import urllib.request
import urllib.response

import ee
import numpy as np
import pytest

from gee_cscc.engine import initialize_ee
from gee_cscc.engine.core import registry
from gee_cscc.engine.service.server import COMPUTE_PIXELS_LIMIT
from gee_cscc.testing import NetworkBlockedError, grid, npp_cube

PROJECT = "projects/local-project"


def http(engine, method: str, path: str, body: bytes | dict | None = None):
    """``(status, headers, parsed JSON or bytes)`` of a raw request to the engine."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(engine.url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {engine.token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, headers, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, headers, payload = err.code, dict(err.headers), err.read()
    try:
        return status, headers, json.loads(payload)
    except ValueError:
        return status, headers, payload


def shipped(name: str) -> dict:
    return json.loads(importlib.resources.files("ee").joinpath(f"tests/{name}").read_text())


def gone(asset: str) -> bool:
    """Whether ``getAsset`` says the asset is not found."""
    try:
        ee.data.getAsset(asset)
    except ee.EEException as err:
        return "not found" in str(err)
    return False


def expression(obj) -> dict:
    """The serialized expression the client would send for ``obj``."""
    return ee.serializer.encode(obj, for_cloud_api=True)


# --- discovery, algorithms, initialize --------------------------------------------------------


def _methods(node):
    if isinstance(node, dict):
        if "httpMethod" in node and "path" in node:
            yield node
        for v in node.values():
            yield from _methods(v)


def test_discovery_document_uses_v1_paths(engine):
    status, _, doc = http(engine, "GET", "/$discovery/rest?version=v1&prettyPrint=false")
    assert status == 200
    assert doc["version"] == "v1"
    methods = list(_methods(doc["resources"]))
    assert len(methods) > 20
    for m in methods:
        assert m["path"].startswith("v1/"), m["path"]
        assert "v1alpha" not in m.get("flatPath", "")
    projects = doc["resources"]["projects"]
    for listing in (
        projects["methods"]["listAssets"],
        projects["resources"]["assets"]["methods"]["listAssets"],
    ):
        assert {"filter", "view", "pageSize", "pageToken"} <= set(listing["parameters"])
    assert projects["methods"]["getConfig"]["path"] == "v1/{+name}"


def test_algorithm_list_is_served_whole(engine):
    status, headers, body = http(engine, "GET", f"/v1/{PROJECT}/algorithms?prettyPrint=false")
    assert status == 200
    names = [a["name"] for a in body["algorithms"]]
    assert len(names) == len(shipped("algorithms.json")["algorithms"]) == 991
    assert "algorithms/Image.entropy" in names  # listed even though not implemented
    assert "local engine" in headers.get("X-Earth-Engine-Init-Message", "")


def test_initialize_makes_no_outside_connection(engine, network_guard, monkeypatch):
    fetched: list[str] = []
    real_urlopen = urllib.request.urlopen

    def spy(url, *args, **kwargs):
        fetched.append(str(getattr(url, "full_url", url)))
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", spy)
    before = list(network_guard.attempts)
    initialize_ee(engine.url, engine.project)
    assert network_guard.attempts == before  # nothing outside loopback was even looked up
    assert not [u for u in fetched if "earthengine-stac" in u]  # no data-catalog fetch
    assert ee.Number(2).add(3).getInfo() == 5
    # Control: the client's own catalog fetch is seen by both the spy and the blocker.
    with pytest.raises(NetworkBlockedError):
        ee.deprecation._FetchDataCatalogStac()
    assert any("earthengine-stac" in u for u in fetched)
    assert len(network_guard.attempts) == len(before) + 1  # the host (or a proxy's)


def test_network_blocker_refuses_outside_hosts(network_guard):
    import socket

    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)  # TEST-NET-1
    with socket.socket() as sock, pytest.raises(NetworkBlockedError):
        sock.connect(("10.0.0.1", 80))
    assert network_guard.attempts[-3:] == ["example.com", "192.0.2.1", "10.0.0.1"]
    assert socket.getaddrinfo("localhost", 80)  # loopback names are fine


# --- value:compute errors ---------------------------------------------------------------------


def test_missing_asset_message(engine, tmp_asset):
    asset = tmp_asset("nothing")
    with pytest.raises(ee.EEException) as info:
        ee.Image(asset).getInfo()
    assert str(info.value) == f"Image.load: Image asset '{asset}' not found."


def test_unimplemented_algorithm_names_itself():
    with pytest.raises(ee.EEException) as info:
        ee.Image(1).glcmTexture().getInfo()
    assert str(info.value) == "Image.glcmTexture is not implemented by the local engine."


def invocation(name: str, **constants) -> dict:
    """A value:compute body calling algorithm ``name`` with constant arguments."""
    args = {k: {"constantValue": v} for k, v in constants.items()}
    call = {"functionInvocationValue": {"functionName": name, "arguments": args}}
    return {"expression": {"result": "0", "values": {"0": call}}}


def test_error_statuses_are_4xx_with_a_json_body(engine, tmp_asset, monkeypatch):
    def boom(**_):
        raise ZeroDivisionError("simulated engine bug")

    monkeypatch.setitem(registry._IMPLEMENTATIONS, "Test.boom", boom)
    compute = f"/v1/{PROJECT}/value:compute"
    cases = [
        (compute, {"expression": expression(ee.Image(tmp_asset("missing")))}, 404, "not found"),
        (compute, {"expression": expression(ee.Image(1).glcmTexture())}, 400, ""),
        (compute, b"{not json", 400, "Invalid JSON"),
        (compute, {"nothing": 1}, 400, "Invalid expression"),
        (compute, invocation("No.such"), 400, "Unknown algorithm: No.such."),
        (compute, invocation("Image.constant", bogus=1), 400, "bogus"),
        (compute, invocation("Test.boom"), 400, "ZeroDivisionError: simulated engine bug"),
        ("/v1/no/such/path", None, 404, "Unknown path"),
    ]
    for path, body, status, fragment in cases:
        got_status, headers, payload = http(
            engine, "POST" if body is not None else "GET", path, body
        )
        assert got_status == status, (path, body, payload)
        assert headers["Content-Type"].startswith("application/json")
        assert payload["error"]["code"] == status
        assert fragment in payload["error"]["message"]


def test_client_sends_one_request_for_a_deterministic_error(engine, monkeypatch):
    calls = []
    real = engine.server.compute_value

    def counting(body):
        calls.append(1)
        return real(body)

    monkeypatch.setattr(engine.server, "compute_value", counting)
    with pytest.raises(ee.EEException):
        ee.Image(1).glcmTexture().getInfo()
    assert len(calls) == 1  # a 4xx is not retried


# --- computePixels ---------------------------------------------------------------------------


def _pixels(image, grid_spec, **extra):
    return ee.data.computePixels(
        {"expression": image, "fileFormat": "NUMPY_NDARRAY", "grid": grid_spec, **extra}
    )


def test_compute_pixels_returns_a_structured_array():
    arr = _pixels(ee.Image([1, 2]), grid((1, 0, 0, 0, -1, 0), (3, 4)))
    assert arr.shape == (3, 4)
    assert arr.dtype.names == ("constant", "constant_1")
    assert (arr["constant_1"] == 2).all()


def test_compute_pixels_request_errors(engine, tmp_asset):
    g = grid((1, 0, 0, 0, -1, 0), (2, 2))
    with pytest.raises(ee.EEException, match="not an Image"):
        ee.data.computePixels(
            {"expression": ee.Number(1), "fileFormat": "NUMPY_NDARRAY", "grid": g}
        )
    with pytest.raises(ee.EEException, match="needs grid dimensions"):
        ee.data.computePixels({"expression": ee.Image(1), "fileFormat": "NUMPY_NDARRAY"})
    with pytest.raises(ee.EEException, match="did not match any bands"):
        _pixels(ee.Image(1), g, bandIds=["nope"])
    with pytest.raises(ee.EEException, match="fileFormat PNG is not implemented"):
        ee.data.computePixels({"expression": ee.Image(1), "fileFormat": "PNG", "grid": g})
    with pytest.raises(ee.EEException, match="not found"):
        _pixels(ee.Image(tmp_asset("missing")), g)
    status, _, payload = http(
        engine, "POST", f"/v1/{PROJECT}/image:computePixels", {"fileFormat": "NPY"}
    )
    assert status == 400 and "Invalid expression" in payload["error"]["message"]


def test_compute_pixels_size_limit():
    # Earth Engine counts every band's bytes per pixel plus one byte of mask (Xee #209:
    # 48 float64 images of 512 x 256 were refused as 56623104 = 512 * 256 * 48 * 9 bytes).
    assert COMPUTE_PIXELS_LIMIT == 48 * 2**20 == 50331648
    big = grid((1e-3, 0, 0, 0, -1e-3, 0), (4000, 4000))  # 16e6 float64 pixels: 16e6 * 9 bytes
    with pytest.raises(ee.EEException) as info:
        _pixels(ee.Image(1.5), big)
    assert str(info.value) == (
        "Total request size (144000000 bytes) must be less than or equal to 50331648 bytes."
    )
    # Eight int16 bands of 2048 x 1024 pixels: 2**21 * 8 * (2 + 1) bytes, exactly 48 MiB.
    at_limit = grid((1e-3, 0, 0, 0, -1e-3, 0), (1024, 2048))
    arr = _pixels(ee.Image(list(range(8))).toInt16(), at_limit)
    assert arr.shape == (1024, 2048) and len(arr.dtype.names) == 8
    over = grid((1e-3, 0, 0, 0, -1e-3, 0), (1024, 2049))
    with pytest.raises(ee.EEException, match="must be less than or equal to 50331648 bytes"):
        _pixels(ee.Image(list(range(8))).toInt16(), over)


# --- assets ----------------------------------------------------------------------------------


@pytest.fixture
def coll(engine, tmp_asset) -> str:
    """A five-image annual collection (2001–2005) under the test's folder."""
    asset = tmp_asset("coll")
    engine.store.put_collection(asset, npp_cube(range(2001, 2006)), properties={"title": "npp"})
    return asset


def test_get_asset(coll):
    info = ee.data.getAsset(coll)
    assert info["type"] == "IMAGE_COLLECTION"
    assert info["name"] == coll
    assert info["properties"] == {"title": "npp"}
    image = ee.data.getAsset(coll + "/2003")
    assert image["type"] == "IMAGE"
    assert image["startTime"] == "2003-01-01T00:00:00.000Z"
    assert image["endTime"] == "2004-01-01T00:00:00.000Z"
    assert image["properties"]["year"] == 2003
    band = image["bands"][0]
    assert band["id"] == "npp"
    assert band["grid"]["crsCode"] == "EPSG:4326"
    assert band["grid"]["dimensions"] == {"width": 5, "height": 4}
    assert band["grid"]["affineTransform"]["scaleX"] == 0.5
    assert ee.data.getInfo(coll + "/1999") is None  # the deprecated getInfo: None on 404
    with pytest.raises(ee.EEException, match="not found"):
        ee.data.getAsset(coll + "/1999")


def test_list_assets_pages(coll):
    first = ee.data.listAssets({"parent": coll, "pageSize": 2})
    assert [a["id"].rsplit("/", 1)[1] for a in first["assets"]] == ["2001", "2002"]
    second = ee.data.listAssets(
        {"parent": coll, "pageSize": 2, "pageToken": first["nextPageToken"]}
    )
    assert [a["id"].rsplit("/", 1)[1] for a in second["assets"]] == ["2003", "2004"]
    third = ee.data.listAssets(
        {"parent": coll, "pageSize": 2, "pageToken": second["nextPageToken"]}
    )
    assert [a["id"].rsplit("/", 1)[1] for a in third["assets"]] == ["2005"]
    assert "nextPageToken" not in third
    everything = ee.data.listAssets({"parent": coll})  # the client follows the tokens
    assert len(everything["assets"]) == 5
    assert "nextPageToken" not in everything


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [
        ("2002-01-01", "2004-01-01", [2002]),  # end is exclusive of an image's endTime
        ("2002-01-01T00:00:00Z", "2004-01-01T00:00:00.001Z", [2002, 2003]),
        ("2002-01-01T00:00:00.000Z", "2006-01-02", [2002, 2003, 2004, 2005]),
        ("2001-06-01", "2099-01-01", [2002, 2003, 2004, 2005]),
        ("2010-01-01", "2011-01-01", []),
    ],
)
def test_list_images_time_filter(coll, start, end, years):
    out = ee.data.listImages({"parent": coll, "startTime": start, "endTime": end})
    assert [int(i["id"].rsplit("/", 1)[1]) for i in out.get("images", [])] == years


def test_list_assets_property_filter_and_unsupported_filters(coll):
    out = ee.data.listImages({"parent": coll, "properties": ["year >= 2004"]})
    assert [int(i["id"].rsplit("/", 1)[1]) for i in out["images"]] == [2004, 2005]
    with pytest.raises(ee.EEException, match="not supported by the local engine"):
        ee.data.listAssets({"parent": coll, "filter": "year > 2002 OR year < 2001"})
    with pytest.raises(ee.EEException, match="not supported by the local engine"):
        ee.data.listImages({"parent": coll, "region": {"type": "Point", "coordinates": [0, 0]}})


def test_create_folder_and_image_collection(tmp_asset):
    folder = tmp_asset("folder")
    made = ee.data.createAsset({"type": "Folder"}, folder)
    assert made["type"] == "FOLDER" and made["name"] == folder
    ic = ee.data.createAsset({"type": "ImageCollection"}, folder + "/ic", properties={"title": "T"})
    assert ic["type"] == "IMAGE_COLLECTION"
    assert ee.data.getAsset(folder + "/ic")["properties"] == {"title": "T"}
    assert [a["name"] for a in ee.data.listAssets({"parent": folder})["assets"]] == [folder + "/ic"]
    with pytest.raises(ee.EEException, match="Cannot overwrite asset"):
        ee.data.createAsset({"type": "Folder"}, folder)
    assert ee.ImageCollection(folder + "/ic").size().getInfo() == 0


def test_create_assets_makes_parents(tmp_asset):
    target = tmp_asset("a/b/c")
    ee.data.create_assets([target], "ImageCollection", True)
    assert ee.data.getAsset(tmp_asset("a"))["type"] == "FOLDER"
    assert ee.data.getAsset(tmp_asset("a/b"))["type"] == "FOLDER"
    assert ee.data.getAsset(target)["type"] == "IMAGE_COLLECTION"


def test_update_asset_and_set_properties(coll):
    ee.data.updateAsset(coll, {"properties": {"p": 1, "ignored": 2}}, ["properties.p"])
    ee.data.setAssetProperties(coll, {"q": "v", "title": None})  # None deletes
    assert ee.data.getAsset(coll)["properties"] == {"p": 1, "q": "v"}
    image = coll + "/2001"
    ee.data.setAssetProperties(image, {"quality": 0.5})
    assert ee.Image(image).getInfo()["properties"]["quality"] == 0.5


def test_delete_copy_rename(coll, tmp_asset):
    copy = tmp_asset("copy")
    ee.data.copyAsset(coll + "/2001", copy)
    assert ee.data.getAsset(copy)["properties"]["year"] == 2001
    with pytest.raises(ee.EEException, match="Cannot overwrite"):
        ee.data.copyAsset(coll + "/2002", copy)
    ee.data.copyAsset(coll + "/2002", copy, True)
    assert ee.data.getAsset(copy)["properties"]["year"] == 2002
    moved = tmp_asset("moved")
    ee.data.renameAsset(copy, moved)
    assert gone(copy)
    np.testing.assert_array_equal(
        ee.data.computePixels(
            {
                "expression": ee.Image(moved),
                "fileFormat": "NUMPY_NDARRAY",
                "grid": grid((0.5, 0, 100, 0, -0.5, 40), (4, 5)),
            }
        )["npp"],
        npp_cube(range(2001, 2006)).sel(year=2002).values,
    )
    ee.data.deleteAsset(moved)
    assert gone(moved)
    with pytest.raises(ee.EEException, match="not empty"):
        ee.data.deleteAsset(coll)
    with pytest.raises(ee.EEException, match="not found"):
        ee.data.deleteAsset(moved)


def test_project_config():
    config = ee.data.getProjectConfig()
    assert config["name"] == f"{PROJECT}/config"


def get_acl(asset: str) -> dict:
    return ee.data.getAssetAcl(asset)  # deprecated in the client, still used by users


def set_acl(asset: str, acl: dict | str) -> None:
    ee.data.setAssetAcl(asset, acl)


def test_acl_keeps_the_owner(engine, coll):
    assert get_acl(coll) == {"owners": [engine.user], "readers": [], "writers": []}
    acl = {"readers": ["user:a@b.com"], "writers": ["group:g@b.com"], "all_users_can_read": True}
    set_acl(coll, json.dumps(acl))
    got = get_acl(coll)
    assert got["owners"] == [engine.user]
    assert got["readers"] == ["user:a@b.com"]
    assert got["writers"] == ["group:g@b.com"]
    assert got["all_users_can_read"] is True
    policy = ee.data.getIamPolicy(coll)
    assert {"role": "roles/owner", "members": [engine.user]} in policy["bindings"]
    set_acl(coll, {"readers": []})
    assert get_acl(coll) == {"owners": [engine.user], "readers": [], "writers": []}


def test_permissions_follow_the_acl(engine, coll):
    image = coll + "/2001"
    stranger = "user:stranger@example.com"
    with engine.as_user(stranger):
        with pytest.raises(ee.EEException, match="Permission 'earthengine.assets.get' denied"):
            ee.data.getAsset(coll)
        with pytest.raises(ee.EEException, match="Permission denied"):
            ee.Image(image).getInfo()
    set_acl(coll, {"readers": [stranger]})
    with engine.as_user(stranger):
        assert ee.data.getAsset(coll)["type"] == "IMAGE_COLLECTION"
        assert ee.Image(image).bandNames().getInfo() == ["npp"]  # readers of the parent
        with pytest.raises(ee.EEException, match="Permission denied"):
            ee.data.updateAsset(coll, {"properties": {"x": 1}}, ["properties.x"])


# --- more computePixels -------------------------------------------------------------------------


@pytest.fixture
def stored(engine, tmp_asset):
    """``(ee.Image, values)``: one band 'v' of 3x4 pixels with two masked ones."""
    values = np.array([[1.0, 2.0, np.nan, 4.0], [5.0, -6.0, 7.0, 8.0], [np.nan, 10.0, 11.0, 0.5]])
    cube = npp_cube(range(2001, 2002), (3, 4), pixel_size=1.0, origin=(10.0, 50.0))
    layer = cube.isel(year=0, drop=True).copy(data=values).rename("v")
    asset = tmp_asset("img")
    engine.store.put_image(asset, layer)
    return ee.Image(asset), values


def test_compute_pixels_without_a_grid_uses_the_native_grid(stored):
    image, values = stored
    arr = ee.data.computePixels({"expression": image.unmask(-99), "fileFormat": "NUMPY_NDARRAY"})
    np.testing.assert_array_equal(arr["v"], np.nan_to_num(values, nan=-99))
    # Dimensions alone: the native transform, a window from the corner.
    arr = ee.data.computePixels(
        {
            "expression": image.unmask(-99),
            "fileFormat": "NUMPY_NDARRAY",
            "grid": {"dimensions": {"width": 2, "height": 2}},
        }
    )
    np.testing.assert_array_equal(arr["v"], np.nan_to_num(values[:2, :2], nan=-99))


def test_compute_pixels_geotiff(stored):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.io import MemoryFile

    image, values = stored
    data = ee.data.computePixels(
        {
            "expression": image.addBands(image.multiply(2).rename("w")),
            "fileFormat": "GEO_TIFF",
            "grid": grid((1, 0, 10.0, 0, -1, 50.0), values.shape),
        }
    )
    assert isinstance(data, bytes)
    with MemoryFile(data) as mem, mem.open() as src:
        assert src.count == 2
        assert src.crs == rasterio.crs.CRS.from_epsg(4326)
        assert tuple(src.transform)[:6] == (1.0, 0.0, 10.0, 0.0, -1.0, 50.0)
        assert src.descriptions == ("v", "w")
        np.testing.assert_array_equal(src.read(1), values)  # NaN where masked
        np.testing.assert_array_equal(src.read(2), values * 2)


def test_concurrent_requests(stored):
    from concurrent.futures import ThreadPoolExecutor

    image, values = stored

    def job(k: int) -> np.ndarray:
        arr = ee.data.computePixels(
            {
                "expression": image.add(k).unmask(-1),
                "fileFormat": "NUMPY_NDARRAY",
                "grid": grid((1, 0, 10.0, 0, -1, 50.0), values.shape),
            }
        )
        return arr["v"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(job, range(16)))
    for k, got in enumerate(results):
        np.testing.assert_array_equal(got, np.where(np.isnan(values), -1, values + k))


def test_unsupported_http_method_is_a_json_404(engine):
    status, _, payload = http(engine, "PUT", f"/v1/{PROJECT}/value:compute", {})
    assert status == 404
    assert "Unknown path" in payload["error"]["message"]


def test_project_root_listing(engine, coll):
    roots = ee.data.listAssets({"parent": "projects/local-project/assets"})["assets"]
    tests_folder = next(a for a in roots if a["name"] == f"{PROJECT}/assets/t")
    assert tests_folder["type"] == "FOLDER"
    page = ee.data.listAssets({"parent": "projects/local-project/assets", "pageSize": 1})
    assert len(page["assets"]) == 1
