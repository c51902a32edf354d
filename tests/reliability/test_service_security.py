"""Misuse of the local engine's HTTP service: every refused request has an exact outcome
(status, Earth Engine style JSON message) and changes nothing in the store.

Requests are raw ``http.client`` calls, so headers and paths are exactly what a hostile
local process or web page would send. The engine of this module runs on its own store.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import ee
import numpy as np
import pytest
from service_http import error_of, request, snapshot

from gee_cscc.cli.main import main
from gee_cscc.engine import LocalEngine, initialize_ee, read_token
from gee_cscc.engine.service.auth import TOKEN_FILE
from gee_cscc.testing import cube_of, ensure_initialized, local_engine

OWNER = "user:local-user@localhost"
BOB = "user:bob@example.com"
PROJECT = "projects/local-project"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    store = tmp_path_factory.mktemp("secure-store")
    with local_engine(store) as engine:
        values = np.arange(12, dtype=float).reshape(1, 3, 4)
        image = cube_of(values, [2001]).sel(year=2001, drop=True)
        engine.store.put_image(f"{PROJECT}/assets/private", image)
        engine.store.put_image(f"{PROJECT}/assets/shared/img", image)
        engine.store.create(engine.store.resolve(f"{PROJECT}/assets/bobs"), "FOLDER")
        engine.store.set_policy(
            f"{PROJECT}/assets/shared",
            {"bindings": [{"role": "roles/viewer", "members": [BOB]}]},
        )
        engine.store.set_policy(
            f"{PROJECT}/assets/bobs",
            {"bindings": [{"role": "roles/editor", "members": [BOB]}]},
        )
        yield engine


@pytest.fixture(autouse=True)
def _ee_points_at_svc(request: pytest.FixtureRequest) -> None:
    """Point ``ee`` back at this module's engine (a CLI test may have moved it)."""
    if "svc" in request.fixturenames:
        ensure_initialized(request.getfixturevalue("svc"))


@pytest.fixture
def unchanged(svc):
    """Asserts at the end of the test that the store is byte-for-byte as it was."""
    before = snapshot(svc.store.root)
    yield
    assert snapshot(svc.store.root) == before


EXPRESSION = {
    "expression": {
        "result": "0",
        "values": {
            "0": {
                "functionInvocationValue": {
                    "functionName": "Number.add",
                    "arguments": {"left": {"constantValue": 1}, "right": {"constantValue": 2}},
                }
            }
        },
    }
}

#: Calls that read or change the store or compute, with their bodies.
CALLS = [
    ("GET", f"/v1/{PROJECT}/assets/private", None),
    ("DELETE", f"/v1/{PROJECT}/assets/private", None),
    ("POST", f"/v1/{PROJECT}/assets?assetId=made", {"type": "FOLDER"}),
    ("POST", f"/v1/{PROJECT}/assets/private:copy", {"destinationName": f"{PROJECT}/assets/c"}),
    ("POST", f"/v1/{PROJECT}/value:compute", EXPRESSION),
    ("GET", "/$discovery/rest?version=v1", None),
]


# --- the token ------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path,body", CALLS)
@pytest.mark.parametrize(
    "token,why",
    [
        (None, "no token was sent"),
        ("Bearer not-the-token", "the token is not this engine's"),
        ("Basic dXNlcjpwYXNz", "the token is not this engine's"),
        ("Bearer ", "the token is not this engine's"),
    ],
)
def test_a_request_without_the_token_is_401_and_changes_nothing(
    svc, unchanged, method, path, body, token, why
):
    status, headers, payload = request(svc, method, path, body, token=token)
    assert error_of(status, payload) == (
        401,
        "UNAUTHENTICATED",
        f"Request had invalid authentication credentials: {why}. Send the local engine's "
        f"token as 'Authorization: Bearer <token>'; it is in {svc.token_file} "
        "(gee-cscc serve prints how to connect).",
    )
    assert headers["WWW-Authenticate"] == "Bearer"


def test_the_same_calls_with_the_token_succeed(svc):
    assert request(svc, "GET", f"/v1/{PROJECT}/assets/private")[0] == 200
    status, _, payload = request(svc, "POST", f"/v1/{PROJECT}/value:compute", EXPRESSION)
    assert (status, payload) == (200, {"result": 3})


def test_the_token_file_is_private_and_kept_across_restarts(tmp_path):
    store = tmp_path / "s"
    with LocalEngine(store, initialize=False) as first:
        token = first.server.token
        path = store / TOKEN_FILE
        assert first.token_file == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == token == read_token(store)
        assert len(token) >= 40
    with LocalEngine(store, initialize=False) as second:
        assert second.server.token == token  # same store, same token
    os.chmod(path, 0o644)  # readable by others: a new secret replaces it
    with LocalEngine(store, initialize=False) as third:
        assert third.server.token != token
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_token(store) == third.server.token
    with pytest.raises(FileNotFoundError, match="No service token"):
        read_token(tmp_path / "nowhere")


def test_engines_starting_together_on_one_store_agree_on_one_token(tmp_path):
    import threading

    from gee_cscc.engine.service.auth import store_token

    tokens: list[str] = []
    threads = [
        threading.Thread(target=lambda: tokens.append(store_token(tmp_path))) for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tokens) == 16 and len(set(tokens)) == 1
    assert tokens[0] == read_token(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [TOKEN_FILE]  # nothing left aside
    (tmp_path / TOKEN_FILE).write_text("")  # an empty token file is replaced
    assert len(store_token(tmp_path)) >= 40


def test_the_ee_client_with_a_wrong_token_gets_the_message_not_a_refresh_error(svc):
    try:
        with pytest.raises(Exception, match="the token is not this engine's"):
            initialize_ee(svc.url, token="wrong-token")
    finally:
        initialize_ee(svc.url, svc.project)  # the engine's own (as_user-aware) token
    assert ee.Number(1).add(1).getInfo() == 2
    with pytest.raises(ValueError, match="No token for the local engine at http://127.0.0.1:1"):
        initialize_ee("http://127.0.0.1:1")


# --- identities and ACLs ----------------------------------------------------------------------


def test_identities_come_from_tokens(svc, unchanged):
    bob = f"Bearer {svc.issue_token(BOB)}"
    status, _, payload = request(svc, "GET", f"/v1/{PROJECT}/assets/private", token=bob)
    assert error_of(status, payload) == (
        403,
        "PERMISSION_DENIED",
        f"Permission 'earthengine.assets.get' denied on resource '{PROJECT}/assets/private' "
        "(or it may not exist).",
    )
    assert request(svc, "GET", f"/v1/{PROJECT}/assets/shared/img", token=bob)[0] == 200
    status, _, payload = request(svc, "DELETE", f"/v1/{PROJECT}/assets/shared/img", token=bob)
    assert error_of(status, payload)[:2] == (403, "PERMISSION_DENIED")
    with svc.as_user(BOB):
        assert svc.user == BOB
        with pytest.raises(ee.EEException, match="may not read"):
            ee.Image(f"{PROJECT}/assets/private").getInfo()
    assert svc.user == OWNER
    assert ee.Image(f"{PROJECT}/assets/private").getInfo()["type"] == "Image"


@pytest.mark.parametrize(
    "verb,source,dest,overwrite,denied",
    [
        # Bob may read shared/img, but not write the owner's private image: no overwrite.
        (
            "copy",
            "shared/img",
            "private",
            True,
            "write asset 'projects/local-project/assets/private'",
        ),
        # ... nor create in the owner's shared folder (he is only a reader there).
        (
            "copy",
            "shared/img",
            "shared/copy",
            False,
            "write asset 'projects/local-project/assets/shared'",
        ),
        # A source he may not read, into his own folder (Earth Engine's text: it does not
        # say whether the source exists).
        (
            "copy",
            "private",
            "bobs/stolen",
            False,
            "Permission 'earthengine.assets.get' denied on resource "
            "'projects/local-project/assets/private' (or it may not exist).",
        ),
        # A move needs write access to the source.
        (
            "move",
            "shared/img",
            "bobs/moved",
            False,
            "write asset 'projects/local-project/assets/shared/img'",
        ),
    ],
)
def test_copy_and_move_check_source_and_destination(
    svc, unchanged, verb, source, dest, overwrite, denied
):
    bob = f"Bearer {svc.issue_token(BOB)}"
    body = {"destinationName": f"{PROJECT}/assets/{dest}", "overwrite": overwrite}
    status, _, payload = request(
        svc, "POST", f"/v1/{PROJECT}/assets/{source}:{verb}", body, token=bob
    )
    message = denied
    if not denied.startswith("Permission '"):
        message = f"Permission denied: {BOB} may not {denied}."
    assert error_of(status, payload) == (403, "PERMISSION_DENIED", message)


def test_a_copy_into_a_writable_folder_is_allowed(svc):
    bob = f"Bearer {svc.issue_token(BOB)}"
    body = {"destinationName": f"{PROJECT}/assets/bobs/copy"}
    status, _, payload = request(
        svc, "POST", f"/v1/{PROJECT}/assets/shared/img:copy", body, token=bob
    )
    assert status == 200 and payload["name"] == f"{PROJECT}/assets/bobs/copy"
    svc.store.delete(f"{PROJECT}/assets/bobs/copy")


def test_all_users_may_only_read(svc, unchanged):
    policy = {"policy": {"bindings": [{"role": "roles/editor", "members": ["allUsers"]}]}}
    status, _, payload = request(svc, "POST", f"/v1/{PROJECT}/assets/private:setIamPolicy", policy)
    assert error_of(status, payload) == (
        400,
        "INVALID_ARGUMENT",
        "allUsers can only be a reader (public read access), not roles/editor, of asset "
        f"'{PROJECT}/assets/private'.",
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--reader", "allUsers"], "--reader allUsers would make"),
        (["--writer", "allUsers", "--public"], "Cannot make"),
        (["--writer", "allAuthenticatedUsers"], "Cannot make"),
        (["--reader", "allAuthenticatedUsers", "--public"], "allAuthenticatedUsers is not"),
    ],
)
def test_share_makes_nothing_public_without_public(tmp_path, capsys, args, message):
    store = tmp_path / "s"
    asset = f"{PROJECT}/assets/x"
    with LocalEngine(store, initialize=False) as engine:
        engine.store.put_image(asset, cube_of(np.ones((1, 2, 2)), [2001]).sel(year=2001))
    before = snapshot(store)
    assert main(["share", asset, *args, "--store", str(store), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gee-cscc share: error: ") and message in err[0]
    assert snapshot(store) == before
    public = ["--reader", "allUsers", "--public", "--store", str(store), "-q"]
    assert main(["share", asset, *public]) == 0
    assert main(["share", asset, "--show", "--store", str(store), "-q"]) == 0
    shown = capsys.readouterr().out
    assert "public read: yes" in shown and "readers: (none)" in shown


# --- Host, Origin, content type ---------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example.com:{port}", "127.0.0.1:1", "127.0.0.1", "localhost.evil.com:{port}", None],
)
def test_a_foreign_host_is_refused(svc, unchanged, host):
    port = svc.server.port
    shown = host.format(port=port) if host else None
    status, _, payload = request(
        svc, "POST", f"/v1/{PROJECT}/assets?assetId=made", {"type": "FOLDER"}, host=shown
    )
    assert error_of(status, payload) == (
        403,
        "PERMISSION_DENIED",
        f"Request refused: Host {shown!r} is not this local engine (expected "
        f"127.0.0.1:{port} or localhost:{port}).",
    )


def test_loopback_hosts_are_accepted(svc):
    port = svc.server.port
    for host in (f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert request(svc, "GET", f"/v1/{PROJECT}/assets/private", host=host)[0] == 200


@pytest.mark.parametrize(
    "origin", ["http://evil.example.com", "null", "https://127.0.0.1.evil.com", "file://"]
)
def test_a_foreign_origin_is_refused(svc, unchanged, origin):
    status, _, payload = request(
        svc, "DELETE", f"/v1/{PROJECT}/assets/private", headers={"Origin": origin}
    )
    assert error_of(status, payload) == (
        403,
        "PERMISSION_DENIED",
        f"Request refused: Origin {origin!r} is not on this machine; the local engine "
        "answers only local clients.",
    )


def test_a_loopback_origin_is_accepted(svc):
    for origin in ("http://localhost:8888", "http://127.0.0.1:8888"):
        headers = {"Origin": origin}
        assert request(svc, "GET", f"/v1/{PROJECT}/assets/private", headers=headers)[0] == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_body_that_is_not_declared_json_is_415(svc, unchanged, content_type):
    status, _, payload = request(
        svc,
        "POST",
        f"/v1/{PROJECT}/assets?assetId=made",
        {"type": "FOLDER"},
        content_type=content_type,
    )
    assert error_of(status, payload) == (
        415,
        "INVALID_ARGUMENT",
        "Request refused: a request body must be JSON (Content-Type: application/json), "
        f"got {content_type or 'none'!r}.",
    )


# --- path segments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,why",
    [
        ("/v1/projects/%2E%2E/assets?assetId=operations", "the segment '..'"),
        ("/v1/projects/%2e%2e/assets?assetId=operations", "the segment '..'"),
        ("/v1/projects/../assets?assetId=operations", "the segment '..'"),
        ("/v1/projects/local-project/assets/%2E%2E/%2E%2E?x", "the segment '..'"),
        ("/v1/projects/local-project/assets/a/./b", "the segment '.'"),
        ("/v1/projects/local-project//assets?assetId=x", "an empty segment"),
        ("/v1/projects/local-project/assets/a%2Fb", "an encoded '/' or '\\' in a segment"),
        ("/v1/projects/local-project/assets/a%5Cb", "an encoded '/' or '\\' in a segment"),
        ("/v1/projects/local-project/assets/a%00b", "a control character"),
        ("/v1/projects/local-project/assets/a%0Ab", "a control character"),
        ("/v1/projects/local-project/assets/a%20b", "the asset path segment 'a b'"),
        (
            "/v1/projects/Local_Project/assets?assetId=x",
            "'Local_Project' is not a Cloud project id (6-30 lowercase letters, digits or "
            "hyphens, starting with a letter)",
        ),
        (
            "/v1/projects/proj/assets?assetId=x",
            "'proj' is not a Cloud project id (6-30 lowercase letters, digits or hyphens, "
            "starting with a letter)",
        ),
    ],
)
def test_every_path_segment_is_checked(svc, unchanged, path, why):
    status, _, payload = request(svc, "POST", path, {"type": "FOLDER"})
    raw = path.split("?")[0]
    assert error_of(status, payload) == (
        400,
        "INVALID_ARGUMENT",
        f"Invalid request path {raw!r}: {why}.",
    )


@pytest.mark.parametrize("asset_id", ["../operations", "a/../../b", "a//b", "", "a b", "/abs"])
def test_the_asset_id_of_a_creation_is_checked(svc, unchanged, asset_id):
    from urllib.parse import quote

    path = f"/v1/{PROJECT}/assets?assetId={quote(asset_id, safe='')}"
    status, _, payload = request(svc, "POST", path, {"type": "FOLDER"})
    assert error_of(status, payload) == (
        400,
        "INVALID_ARGUMENT",
        f"Invalid asset id {asset_id!r}: each part must be letters, digits, '_', '-' or '.' "
        "(not '.' or '..').",
    )


def test_the_store_stays_usable_after_a_dot_dot_project(svc):
    status, _, _ = request(svc, "POST", "/v1/projects/%2E%2E/assets?assetId=operations", {})
    assert status == 400
    assert not (Path(svc.store.root) / "assets" / "..").resolve().joinpath("asset.json").exists()
    # Everything later runs still need works: listing, creating, computing, operations.
    folder = f"{PROJECT}/assets/later"
    ee.data.createAsset({"type": "FOLDER"}, folder)
    assert [a["id"] for a in ee.data.listAssets({"parent": folder})["assets"]] == []
    assert ee.Image(f"{PROJECT}/assets/private").reduceRegion(
        ee.Reducer.sum(), scale=None
    ).getInfo() == {"npp": float(np.arange(12).sum())}
    assert isinstance(ee.data.listOperations(), list)
    ee.data.deleteAsset(folder)


# --- map tiles: a capability URL, drawn as their creator ---------------------------------------


def test_tiles_need_no_token_but_map_ids_do(svc, unchanged):
    image = ee.Image(f"{PROJECT}/assets/private")
    mapid = image.getMapId({"min": 0, "max": 11})
    name = mapid["mapid"]
    tile = f"/v1/{name}/tiles/0/0/0"
    status, headers, payload = request(svc, "GET", tile, token=None)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert payload[:8] == b"\x89PNG\r\n\x1a\n"
    # Drawn into a notebook page of any origin (a VS Code webview), as on Earth Engine.
    origin = {"Origin": "vscode-webview://abc"}
    status, _, same = request(svc, "GET", tile, token=None, headers=origin)
    assert (status, same) == (200, payload)
    # But not with a foreign Host (a re-bound domain name).
    status, _, _ = request(svc, "GET", tile, token=None, host="evil.example.com")
    assert status == 403
    # An unknown map id is a 404 without the token too; creating one needs the token.
    unknown = f"/v1/{PROJECT}/maps/{'0' * 32}/tiles/0/0/0"
    status, _, payload = request(svc, "GET", unknown, token=None)
    assert error_of(status, payload)[:2] == (404, "NOT_FOUND")
    body = {"expression": ee.serializer.encode(image, for_cloud_api=True)}
    status, _, payload = request(svc, "POST", f"/v1/{PROJECT}/maps", body, token=None)
    assert error_of(status, payload)[:2] == (401, "UNAUTHENTICATED")


def test_a_tile_is_drawn_as_the_identity_that_made_the_map(svc):
    with svc.as_user(BOB):
        with pytest.raises(ee.EEException, match="may not read"):
            ee.Image(f"{PROJECT}/assets/private").getMapId({"min": 0, "max": 11})
        mapid = ee.Image(f"{PROJECT}/assets/shared/img").getMapId({"min": 0, "max": 11})
    # Bob loses read access: his map's tiles are refused (drawn as Bob, not as the owner).
    svc.store.set_policy(f"{PROJECT}/assets/shared", {"bindings": []})
    try:
        status, _, payload = request(svc, "GET", f"/v1/{mapid['mapid']}/tiles/0/0/0", token=None)
        assert error_of(status, payload)[:2] == (403, "PERMISSION_DENIED")
    finally:
        svc.store.set_policy(
            f"{PROJECT}/assets/shared", {"bindings": [{"role": "roles/viewer", "members": [BOB]}]}
        )
