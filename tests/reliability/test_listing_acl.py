"""Listings, asset metadata and long-running operations for callers who may not read them,
through the unmodified ``ee`` client (and raw HTTP where the status code matters).

Earth Engine's rules (see gee_cscc/engine/store/acl.py and service/operations.py):
``listAssets`` needs read access to the folder, collection or project listed and
``getAsset`` to the asset; a caller without it gets HTTP 403 "Permission
'earthengine.assets.list' (or '.get') denied on resource '<name>' (or it may not exist).",
the same text for an asset that exists and one that does not, and nothing changes.
Operations belong to the project: their starter and the project's readers see them, their
starter and the project's writers cancel them.
"""

from __future__ import annotations

import threading

import ee
import numpy as np
import pytest
from service_http import error_of, request, snapshot

from gee_cscc.testing import cube_of, ensure_initialized, local_engine

PROJECT = "projects/local-project"
ROOT = f"{PROJECT}/assets"
BOB = "user:bob@example.com"  # a reader of 'shared'
MALLORY = "user:mallory@example.com"  # nobody shared anything with her


def denied(permission: str, resource: str) -> str:
    return f"Permission '{permission}' denied on resource '{resource}' (or it may not exist)."


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    store = tmp_path_factory.mktemp("listing-acl-store")
    with local_engine(store) as engine:
        s = engine.store
        image = cube_of(np.arange(12.0).reshape(1, 3, 4), [2001]).sel(year=2001, drop=True)
        s.put_image(f"{ROOT}/private/secret", image, properties={"owner_note": "hidden"})
        s.create(s.resolve(f"{ROOT}/coll"), "IMAGE_COLLECTION")
        s.put_image(f"{ROOT}/coll/2001", image)
        s.put_image(f"{ROOT}/coll/2002", image)
        s.put_image(f"{ROOT}/shared/img", image)
        s.put_image(f"{ROOT}/pub/img", image)
        s.set_policy(f"{ROOT}/shared", {"bindings": [{"role": "roles/viewer", "members": [BOB]}]})
        s.set_policy(
            f"{ROOT}/pub", {"bindings": [{"role": "roles/viewer", "members": ["allUsers"]}]}
        )
        yield engine


@pytest.fixture(autouse=True)
def _ee_points_at_svc(svc) -> None:
    ensure_initialized(svc)


@pytest.fixture
def unchanged(svc):
    before = snapshot(svc.store.root)
    yield
    assert snapshot(svc.store.root) == before


def ee_message(call) -> str:
    with pytest.raises(ee.EEException) as info:
        call()
    return str(info.value)


# --- listings -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["private", "coll", "nothere", "private/nothere"])
def test_listing_what_one_may_not_read_is_earth_engines_403(svc, unchanged, path):
    name = f"{ROOT}/{path}"
    with svc.as_user(MALLORY):
        message = ee_message(lambda: ee.data.listAssets({"parent": name}))
    # The same text whether the folder exists or not: nothing about it is revealed.
    assert message == denied("earthengine.assets.list", name)
    token = f"Bearer {svc.issue_token(MALLORY)}"
    status, _, payload = request(svc, "GET", f"/v1/{name}:listAssets", token=token)
    assert error_of(status, payload) == (403, "PERMISSION_DENIED", message)


def test_list_images_of_a_collection_one_may_not_read(svc, unchanged):
    with svc.as_user(MALLORY):
        message = ee_message(lambda: ee.data.listImages({"parent": f"{ROOT}/coll"}))
    assert message == denied("earthengine.assets.list", f"{ROOT}/coll")


def test_the_project_root_is_listed_only_for_its_readers(svc, unchanged):
    for who in (MALLORY, BOB):
        with svc.as_user(who):
            message = ee_message(lambda: ee.data.listAssets({"parent": ROOT}))
        assert message == denied("earthengine.assets.list", PROJECT)
    owner = ee.data.listAssets({"parent": ROOT})["assets"]
    assert sorted(a["name"] for a in owner) == [
        f"{ROOT}/{p}" for p in sorted(["coll", "private", "pub", "shared"])
    ]


def test_a_reader_lists_the_folder_shared_with_him_and_nothing_else(svc, unchanged):
    with svc.as_user(BOB):
        listed = ee.data.listAssets({"parent": f"{ROOT}/shared"})["assets"]
        assert [a["name"] for a in listed] == [f"{ROOT}/shared/img"]
        public = ee.data.listAssets({"parent": f"{ROOT}/pub"})["assets"]
        assert [a["name"] for a in public] == [f"{ROOT}/pub/img"]


def test_sharing_the_project_root_lets_a_reader_list_it(svc):
    svc.store.set_policy(ROOT, {"bindings": [{"role": "roles/viewer", "members": [BOB]}]})
    try:
        with svc.as_user(BOB):
            listed = ee.data.listAssets({"parent": ROOT})["assets"]
            assert len(listed) == 4
            # A reader of the project is not a writer of it.
            message = ee_message(lambda: ee.data.deleteAsset(f"{ROOT}/private/secret"))
            assert "may not write" in message
        with svc.as_user(MALLORY):
            message = ee_message(lambda: ee.data.listAssets({"parent": ROOT}))
            assert message == denied("earthengine.assets.list", PROJECT)
    finally:
        svc.store.set_policy(ROOT, {"bindings": []})
    with svc.as_user(BOB):
        assert ee_message(lambda: ee.data.listAssets({"parent": ROOT})) == denied(
            "earthengine.assets.list", PROJECT
        )
    # The owner's own binding cannot be removed.
    assert svc.store.get_policy(ROOT)["bindings"] == [
        {"role": "roles/owner", "members": [svc.store.user]}
    ]


# --- metadata of children ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["private/secret", "private/nothere", "coll/2001", "nothere"])
def test_get_asset_on_children_one_may_not_read(svc, unchanged, path):
    name = f"{ROOT}/{path}"
    with svc.as_user(MALLORY):
        message = ee_message(lambda: ee.data.getAsset(name))
    assert message == denied("earthengine.assets.get", name)
    assert "hidden" not in message


def test_get_info_of_an_unreadable_asset_raises_rather_than_saying_missing(svc, unchanged):
    with svc.as_user(MALLORY):
        message = ee_message(lambda: ee.data.getInfo(f"{ROOT}/private/secret"))
    assert message == denied("earthengine.assets.get", f"{ROOT}/private/secret")


def test_the_owner_still_gets_404_for_a_missing_asset(svc, unchanged):
    assert ee.data.getInfo(f"{ROOT}/private/nothere") is None
    message = ee_message(lambda: ee.data.getAsset(f"{ROOT}/private/nothere"))
    assert "not found" in message


@pytest.mark.parametrize("path", ["coll", "private", "nothere"])
def test_image_collection_of_what_one_may_not_read(svc, unchanged, path):
    name = f"{ROOT}/{path}"
    with svc.as_user(MALLORY):
        message = ee_message(lambda: ee.ImageCollection(name).size().getInfo())
    # Neither "not found" nor "not an ImageCollection": the type and existence stay hidden.
    assert message == f"Permission denied: {MALLORY} may not read asset '{name}'."


def test_a_reader_of_a_folder_reads_its_children(svc):
    with svc.as_user(BOB):
        assert ee.data.getAsset(f"{ROOT}/shared/img")["type"] == "IMAGE"
        assert ee.Image(f"{ROOT}/shared/img").bandNames().getInfo() == ["npp"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: ee.data.getIamPolicy(f"{ROOT}/private/secret"),
        lambda: ee.data.updateAsset(f"{ROOT}/private/secret", {"properties": {"x": 1}}, ["x"]),
        lambda: ee.data.deleteAsset(f"{ROOT}/private/secret"),
        lambda: ee.data.copyAsset(f"{ROOT}/private/secret", f"{ROOT}/mallorys"),
        lambda: ee.data.deleteAsset(f"{ROOT}/private/nothere"),
    ],
)
def test_other_asset_calls_reveal_nothing_and_change_nothing(svc, unchanged, call):
    with svc.as_user(MALLORY):
        message = ee_message(call)
    assert message.startswith("Permission 'earthengine.assets.")
    assert message.endswith("(or it may not exist).")


# --- operations ------------------------------------------------------------------------------


@pytest.fixture
def blocking(svc, monkeypatch):
    """Operations run a stand-in task that waits for the event it returns (then succeeds)."""
    release = threading.Event()
    started = threading.Event()

    def runner(ctx, kind, verb, body, cancel, progress):
        started.set()
        while not release.wait(0.02):
            if cancel.is_set():
                from gee_cscc.engine.errors import CancelledError

                raise CancelledError()
        return [f"file:///tmp/{body.get('description')}.tif"]

    monkeypatch.setattr(svc.server.operations, "runner", runner)
    yield release, started
    release.set()


def start_export(description: str) -> str:
    task = ee.batch.Export.image.toDrive(
        ee.Image(1), description=description, region=ee.Geometry.Rectangle([0, 0, 1, 1])
    )
    task.start()
    return f"{PROJECT}/operations/{task.id}"


def wait_done(name: str) -> dict:
    op = {}
    for _ in range(500):
        op = ee.data.getOperation(name)
        if op.get("done"):
            return op
        threading.Event().wait(0.02)
    raise AssertionError(f"{name} did not finish: {op}")


def test_another_identity_can_neither_read_nor_cancel_a_task(svc, blocking):
    release, started = blocking
    name = start_export("owners-secret-export")
    assert started.wait(10)
    with svc.as_user(MALLORY):
        assert ee_message(lambda: ee.data.getOperation(name)) == denied(
            "earthengine.operations.get", name
        )
        assert ee_message(lambda: ee.data.cancelOperation(name)) == denied(
            "earthengine.operations.update", name
        )
        listed = ee.data.listOperations()
        assert all(op["name"] != name for op in listed)
        assert "owners-secret-export" not in repr(listed)
        # A missing operation: the same refusal (existence is not revealed).
        missing = f"{PROJECT}/operations/NOSUCHOPERATION"
        assert ee_message(lambda: ee.data.getOperation(missing)) == denied(
            "earthengine.operations.get", missing
        )
    token = f"Bearer {svc.issue_token(MALLORY)}"
    status, _, payload = request(svc, "POST", f"/v1/{name}:cancel", {}, token=token)
    assert error_of(status, payload)[:2] == (403, "PERMISSION_DENIED")
    status, _, payload = request(svc, "DELETE", f"/v1/{name}", token=token)
    assert error_of(status, payload) == (
        403,
        "PERMISSION_DENIED",
        denied("earthengine.operations.delete", name),
    )
    # Nothing changed: the task still runs and finishes for its owner.
    assert ee.data.getOperation(name)["metadata"]["state"] == "RUNNING"
    release.set()
    done = wait_done(name)
    assert done["metadata"]["state"] == "SUCCEEDED"
    assert done["metadata"]["destinationUris"] == ["file:///tmp/owners-secret-export.tif"]


def test_each_identity_sees_and_cancels_its_own_tasks(svc, blocking):
    release, started = blocking
    with svc.as_user(MALLORY):
        name = start_export("mallorys-export")
        assert started.wait(10)
        assert ee.data.getOperation(name)["metadata"]["description"] == "mallorys-export"
        names = [op["name"] for op in ee.data.listOperations()]
        assert name in names
        assert all(
            ee.data.getOperation(n)["metadata"]["description"] == "mallorys-export" for n in names
        )
        ee.data.cancelOperation(name)
        assert wait_done(name)["metadata"]["state"] == "CANCELLED"
    # The project's owner sees every task of the project.
    assert name in [op["name"] for op in ee.data.listOperations()]


def test_a_project_reader_sees_tasks_but_only_a_writer_cancels_them(svc, blocking):
    release, started = blocking
    name = start_export("shared-project-export")
    assert started.wait(10)
    svc.store.set_policy(ROOT, {"bindings": [{"role": "roles/viewer", "members": [BOB]}]})
    try:
        with svc.as_user(BOB):
            assert ee.data.getOperation(name)["metadata"]["description"] == (
                "shared-project-export"
            )
            assert name in [op["name"] for op in ee.data.listOperations()]
            assert ee_message(lambda: ee.data.cancelOperation(name)) == denied(
                "earthengine.operations.update", name
            )
        assert ee.data.getOperation(name)["metadata"]["state"] == "RUNNING"
        svc.store.set_policy(ROOT, {"bindings": [{"role": "roles/editor", "members": [BOB]}]})
        with svc.as_user(BOB):
            ee.data.cancelOperation(name)
        assert wait_done(name)["metadata"]["state"] == "CANCELLED"
    finally:
        svc.store.set_policy(ROOT, {"bindings": []})


# --- creating at the top of a project -------------------------------------------------------


def test_only_the_projects_writers_create_at_its_top(svc, unchanged):
    with svc.as_user(MALLORY):
        message = ee_message(lambda: ee.data.createAsset({"type": "FOLDER"}, f"{ROOT}/mine"))
    assert message == f"Permission denied: {MALLORY} may not write asset '{ROOT}'."


def test_an_export_to_the_top_of_someone_elses_project_fails(svc):
    before = snapshot(svc.store.root / "assets")
    with svc.as_user(MALLORY):
        task = ee.batch.Export.image.toAsset(
            ee.Image(1),
            description="x",
            assetId=f"{ROOT}/mallorys-image",
            region=ee.Geometry.Rectangle([0, 0, 1, 1]),
            scale=100000,
        )
        task.start()
        op = wait_done(f"{PROJECT}/operations/{task.id}")
    assert op["metadata"]["state"] == "FAILED"
    assert op["error"]["message"] == f"Permission denied: {MALLORY} may not write asset '{ROOT}'."
    assert snapshot(svc.store.root / "assets") == before


def test_a_request_id_is_per_identity(svc, blocking):
    """Retrying with another identity's requestId starts a new task instead of returning
    theirs (which would show its description)."""
    release, _ = blocking
    body = {"description": "owners-retry", "requestId": "shared-request-id"}
    path = f"/v1/{PROJECT}/image:export"
    status, _, first = request(svc, "POST", path, body)
    assert status == 200
    status, _, again = request(svc, "POST", path, body)
    assert status == 200 and again["name"] == first["name"]  # the owner's retry
    token = f"Bearer {svc.issue_token(MALLORY)}"
    status, _, theirs = request(svc, "POST", path, dict(body, description="m"), token=token)
    assert status == 200 and theirs["name"] != first["name"]
    assert theirs["metadata"]["description"] == "m"
    release.set()
    for name in (first["name"], theirs["name"]):
        assert wait_done(name)["metadata"]["state"] == "SUCCEEDED"
