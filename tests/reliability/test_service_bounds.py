"""Bounded work on the local engine: Earth Engine's interactive limits with Earth Engine's
texts, read timeouts, body size, cancellation, fairness between clients, prompt shutdown.

Limits are scaled far down (``compute_seconds=0.3`` …) so a computation of about a second
stands for one of many minutes. The slow computation is a mean of ``pixelLonLat`` over an
``n × n`` grid (about 0.2 µs a pixel here: n = 3000 takes over a second, n = 10000 many).
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import ee
import numpy as np
import pytest
from service_http import error_of, request, snapshot

from gee_cscc.engine import LocalEngine, read_token
from gee_cscc.engine.errors import CancelledError, TooManyRequestsError
from gee_cscc.engine.limits import Limits
from gee_cscc.engine.service.scheduler import Scheduler
from gee_cscc.testing import local_engine

OWNER = "user:local-user@localhost"
BOB = "user:bob@example.com"
PROJECT = "projects/local-project"


def slow_mean(n: int):
    """The mean longitude and latitude of an ``n × n`` grid over [0, 10]² degrees."""
    return ee.Image.pixelLonLat().reduceRegion(
        ee.Reducer.mean(),
        geometry=ee.Geometry.Rectangle([0, 0, 10, 10], None, False),
        crs="EPSG:4326",
        crsTransform=[10 / n, 0, 0, 0, -10 / n, 10],
        maxPixels=1e13,
    )


def compute_body(obj) -> dict:
    return {"expression": ee.serializer.encode(obj, for_cloud_api=True)}


def wait_until(condition, timeout: float = 10.0) -> float:
    """Seconds until ``condition()`` held (fails after ``timeout``)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "condition not reached"
        time.sleep(0.02)
    return time.monotonic() - start


class SlowClient:
    """A raw connection that sent a slow ``value:compute`` and waits for its answer."""

    def __init__(self, engine, n: int = 10000, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", engine.server.port, timeout=60)
        data = json.dumps(compute_body(slow_mean(n))).encode()
        headers = {
            "Authorization": f"Bearer {token or engine.server.token}",
            "Content-Type": "application/json",
        }
        self.conn.request("POST", f"/v1/{PROJECT}/value:compute", data, headers)

    def answer(self):
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read())

    def hang_up(self) -> None:
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


# --- engines ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """``ee`` initialized against an engine with tiny interactive limits."""
    limits = Limits(
        compute_seconds=0.3,
        max_pixels=1000,
        response_bytes=2000,
        pixels_side=100,
        pixels_bytes=10_000,
    )
    with local_engine(tmp_path_factory.mktemp("strict"), limits=limits) as engine:
        yield engine


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """An engine for raw requests: small bodies, short reads."""
    limits = Limits(request_bytes=4096, read_seconds=0.5)
    engine = LocalEngine(tmp_path_factory.mktemp("raw"), initialize=False, limits=limits)
    with engine:
        yield engine


@pytest.fixture
def busy(tmp_path):
    """An engine allowing two concurrent requests per client (generous deadline)."""
    limits = Limits(concurrent_requests=2, compute_seconds=120)
    with LocalEngine(tmp_path / "busy", initialize=False, limits=limits) as engine:
        yield engine


# --- Earth Engine's limits and texts ----------------------------------------------------------


def test_an_interactive_request_past_its_deadline_is_computation_timed_out(strict):
    # Without a deadline the computation takes longer than the 0.3 s deadline (36 M pixels:
    # about 1 s on two cores); its answer is the centre of [0, 10]².
    with local_engine(limits=Limits(compute_seconds=60)):
        start = time.monotonic()
        result = slow_mean(6000).getInfo()
        full = time.monotonic() - start
    assert full > 0.3
    assert result == pytest.approx({"longitude": 5.0, "latitude": 5.0}, abs=1e-9)
    start = time.monotonic()
    with pytest.raises(ee.EEException) as info:
        slow_mean(6000).getInfo()
    elapsed = time.monotonic() - start
    assert str(info.value) == "Computation timed out."
    # Stopped near the deadline, not after the whole computation.
    assert elapsed < max(1.0, 0.6 * full)


def test_batch_exports_have_no_interactive_deadline(tmp_path):
    with local_engine(tmp_path / "s", limits=Limits(compute_seconds=0.05)) as engine:
        n = 3000  # about 0.4 s on two cores: far past the 0.05 s deadline
        with pytest.raises(ee.EEException, match=r"^Computation timed out\.$"):
            slow_mean(n).getInfo()
        # The exported image needs the very computation that timed out interactively (its
        # one value is that mean), so the task does more work than the deadline allows.
        image = ee.Image.constant(slow_mean(n).get("longitude")).rename("longitude")
        asset = engine.asset_id("exported")
        task = ee.batch.Export.image.toAsset(
            image,
            assetId=asset,
            crs="EPSG:4326",
            crsTransform=[1, 0, 0, 0, -1, 10],
            dimensions="10x10",
        )
        start = time.monotonic()
        task.start()
        wait_until(lambda: task.status()["state"] in ("COMPLETED", "FAILED"), timeout=60)
        took = time.monotonic() - start
        assert task.status()["state"] == "COMPLETED", task.status()
        assert took > 0.05  # longer than an interactive request may take
        centres = (np.arange(n) + 0.5) * 10 / n
        got = ee.Image(asset).reduceRegion(ee.Reducer.mean(), maxPixels=1e7)
        with local_engine(engine.store.root, limits=Limits(compute_seconds=60)):
            assert got.getInfo()["longitude"] == pytest.approx(centres.mean(), abs=1e-9)


def test_reduce_region_default_max_pixels_follows_the_limits(strict):
    n = 40  # 1600 pixels > max_pixels = 1000
    with pytest.raises(ee.EEException) as info:
        ee.Image.pixelLonLat().reduceRegion(
            ee.Reducer.mean(),
            geometry=ee.Geometry.Rectangle([0, 0, 10, 10], None, False),
            crs="EPSG:4326",
            crsTransform=[10 / n, 0, 0, 0, -10 / n, 10],
        ).getInfo()
    assert str(info.value).startswith(
        "Image.reduceRegion: Too many pixels in the region. Found 1600, but maxPixels allows "
        "only 1000.\n\nEnsure that you are not aggregating at a higher resolution"
    )
    got = slow_mean(n).getInfo()  # an explicit maxPixels is honoured
    centres = (np.arange(n) + 0.5) * 10 / n
    assert got == pytest.approx({"longitude": centres.mean(), "latitude": centres.mean()})


def test_a_too_large_answer_is_user_memory_limit_exceeded(strict):
    # {"result": [0, 1, ..., 999]} is 4890 bytes of JSON; the limit is 2000.
    assert len(json.dumps({"result": list(range(1000))})) > 2000
    with pytest.raises(ee.EEException) as info:
        ee.List.sequence(0, 999).getInfo()
    assert str(info.value) == "User memory limit exceeded."
    assert ee.List.sequence(0, 9).getInfo() == list(range(10))


def pixels_body(width: int, height: int) -> dict:
    return {
        "expression": ee.serializer.encode(ee.Image(1.5), for_cloud_api=True),
        "fileFormat": "NPY",
        "grid": {
            "dimensions": {"width": width, "height": height},
            "affineTransform": {"scaleX": 0.1, "translateX": 0, "scaleY": -0.1, "translateY": 0},
            "crsCode": "EPSG:4326",
        },
    }


@pytest.mark.parametrize(
    "width,height,message",
    [
        (101, 10, "Pixel grid dimensions (101x10) must be less than or equal to 100."),
        (10, 101, "Pixel grid dimensions (10x101) must be less than or equal to 100."),
        # float64: 8 bytes a pixel and one of mask, as Earth Engine counts.
        (40, 40, "Total request size (14400 bytes) must be less than or equal to 10000 bytes."),
    ],
)
def test_compute_pixels_limits_use_earth_engines_texts(strict, width, height, message):
    status, _, payload = request(
        strict, "POST", f"/v1/{PROJECT}/image:computePixels", pixels_body(width, height)
    )
    assert error_of(status, payload) == (400, "INVALID_ARGUMENT", message)
    status, _, payload = request(
        strict, "POST", f"/v1/{PROJECT}/image:computePixels", pixels_body(33, 33)
    )
    assert status == 200  # 33 * 33 * 9 = 9801 bytes
    arr = np.load(__import__("io").BytesIO(payload))
    assert arr.shape == (33, 33) and float(arr["constant"][0, 0]) == 1.5


# --- request size and read timeouts -----------------------------------------------------------


def test_a_body_over_the_size_limit_is_refused_and_the_connection_stays_usable(raw):
    before = snapshot(raw.store.root)
    port = raw.server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {raw.server.token}", "Content-Type": "application/json"}
    big = json.dumps({"type": "FOLDER", "pad": "x" * 5000}).encode()
    conn.request("POST", f"/v1/{PROJECT}/assets?assetId=big", big, headers)
    resp = conn.getresponse()
    payload = json.loads(resp.read())
    assert error_of(resp.status, payload) == (
        400,
        "INVALID_ARGUMENT",
        "Request payload size exceeds the limit: 4096 bytes.",
    )
    # The same kept-alive connection answers the next request.
    conn.request("GET", f"/v1/{PROJECT}/assets/big", headers=headers)
    resp = conn.getresponse()
    assert resp.status == 404 and "not found" in json.loads(resp.read())["error"]["message"]
    conn.close()
    assert snapshot(raw.store.root) == before


def post_head(raw, path: str, length: int) -> str:
    """The head of an authorized JSON ``POST path`` declaring ``length`` body bytes."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{raw.server.port}\r\n"
        f"Authorization: Bearer {raw.server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )


def test_a_huge_declared_body_is_refused_without_reading_it(raw):
    with socket.create_connection(("127.0.0.1", raw.server.port), timeout=10) as sock:
        sock.sendall(post_head(raw, f"/v1/{PROJECT}/value:compute", 1000000000).encode())
        reply = sock.makefile("rb").read()  # the server answers and closes
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in head
    assert json.loads(body)["error"]["message"] == (
        "Request payload size exceeds the limit: 4096 bytes."
    )


def test_a_body_shorter_than_its_length_times_out_without_holding_the_server(raw):
    before = snapshot(raw.store.root)
    with socket.create_connection(("127.0.0.1", raw.server.port), timeout=10) as sock:
        sock.sendall(
            (post_head(raw, f"/v1/{PROJECT}/assets?assetId=x", 100) + '{"type": ').encode()
        )
        start = time.monotonic()
        # Meanwhile the engine answers others.
        assert request(raw, "GET", f"/v1/{PROJECT}/assets/nothing")[0] == 404
        reply = sock.makefile("rb").read()
        took = time.monotonic() - start
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["error"] == {
        "code": 408,
        "message": "Request timed out: the body did not arrive within 0.5 s (9 of 100 bytes).",
        "status": "DEADLINE_EXCEEDED",
    }
    assert 0.3 < took < 5.0
    assert snapshot(raw.store.root) == before


@pytest.mark.parametrize("sent", [b"", b"GET /v1/projects/local-project/assets/x HTTP/1.1\r\nHo"])
def test_idle_and_half_sent_connections_are_closed(raw, sent):
    with socket.create_connection(("127.0.0.1", raw.server.port), timeout=10) as sock:
        sock.sendall(sent)
        start = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, nothing answered
        assert time.monotonic() - start < 3.0


def test_connections_beyond_the_cap_are_closed_at_once(tmp_path, monkeypatch):
    from gee_cscc.engine.service import server

    monkeypatch.setattr(server, "MAX_CONNECTIONS", 2)
    limits = Limits(read_seconds=5)
    with LocalEngine(tmp_path / "s", initialize=False, limits=limits) as engine:
        port = engine.server.port
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        time.sleep(0.2)  # both accepted, each holding a thread
        with socket.create_connection(("127.0.0.1", port), timeout=10) as third:
            start = time.monotonic()
            assert third.recv(1024) == b""  # closed at once, not after read_seconds
            assert time.monotonic() - start < 2.0
        for sock in idle:
            sock.close()
        time.sleep(0.2)
        assert request(engine, "GET", f"/v1/{PROJECT}/assets/none")[0] == 404  # slots freed


# --- cancellation, concurrency, fairness --------------------------------------------------------


def test_a_computation_stops_when_its_client_hangs_up(busy):
    client = SlowClient(busy)
    wait_until(lambda: busy.server.scheduler.in_flight(OWNER) == 1)
    time.sleep(0.3)  # computing
    client.hang_up()
    assert wait_until(lambda: busy.server.scheduler.in_flight(OWNER) == 0) < 5.0
    # The engine is free again: a new request is answered at once.
    status, _, payload = request(
        busy, "POST", f"/v1/{PROJECT}/value:compute", compute_body(ee.Number(2).add(2))
    )
    assert (status, payload) == (200, {"result": 4})


def test_too_many_concurrent_requests_is_429_and_other_clients_still_run(busy):
    first, second = SlowClient(busy), SlowClient(busy)
    try:
        wait_until(lambda: busy.server.scheduler.in_flight(OWNER) == 2)
        status, _, payload = request(
            busy, "POST", f"/v1/{PROJECT}/value:compute", compute_body(ee.Number(1))
        )
        assert error_of(status, payload) == (
            429,
            "RESOURCE_EXHAUSTED",
            "Too many concurrent aggregations.",
        )
        # Another client is neither refused nor starved: it computes at once.
        bob = f"Bearer {busy.issue_token(BOB)}"
        start = time.monotonic()
        status, _, payload = request(
            busy, "POST", f"/v1/{PROJECT}/value:compute", compute_body(ee.Number(3)), token=bob
        )
        assert (status, payload) == (200, {"result": 3})
        assert time.monotonic() - start < 5.0
    finally:
        first.hang_up()
        second.hang_up()
    wait_until(lambda: busy.server.scheduler.in_flight(OWNER) == 0)


def test_the_scheduler_leaves_a_thread_to_other_clients():
    scheduler = Scheduler(workers=1, max_per_client=3)
    release = threading.Event()
    try:
        held = [
            scheduler.submit("a", lambda: release.wait(10) and "a", threading.Event())
            for _ in range(2)
        ]
        cancel = threading.Event()
        dropped = scheduler.submit("a", lambda: "ran", cancel)  # queued behind "a"'s first
        with pytest.raises(TooManyRequestsError, match=r"^Too many concurrent aggregations\.$"):
            scheduler.submit("a", lambda: "a", threading.Event())
        assert scheduler.in_flight("a") == 3
        # "a" computes on one thread (its cap of workers=1); "b" gets the other at once,
        # while "a"'s requests are still blocked.
        assert scheduler.submit("b", lambda: "b", threading.Event()).result(timeout=2) == "b"
        assert not release.is_set() and not any(f.done() for f in held)
        cancel.set()  # a queued request whose client left never starts
        release.set()
        assert [f.result(timeout=5) for f in held] == ["a", "a"]
        with pytest.raises(CancelledError):
            dropped.result(timeout=5)
        assert scheduler.in_flight("a") == 0
    finally:
        release.set()
        scheduler.shutdown()
    with pytest.raises(CancelledError):
        scheduler.submit("a", lambda: "a", threading.Event())


# --- prompt shutdown ----------------------------------------------------------------------------


def test_stopping_a_busy_engine_is_prompt(tmp_path):
    engine = LocalEngine(tmp_path / "s", initialize=False).start()
    clients = [SlowClient(engine) for _ in range(3)]
    wait_until(lambda: engine.server.scheduler.in_flight(OWNER) == 3)
    start = time.monotonic()
    engine.stop()
    assert time.monotonic() - start < 2.5  # typically 0.3 s
    for c in clients:
        with pytest.raises((http.client.HTTPException, OSError)):
            c.answer()  # closed without an answer
        c.conn.close()


def test_ctrl_c_stops_a_busy_serve_at_once(tmp_path):
    store = tmp_path / "store"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exe = shutil.which("gee-cscc") or sys.exit("gee-cscc is not installed")
    proc = subprocess.Popen(
        [exe, "serve", "--store", str(store), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"gee_cscc local Earth Engine on http://127.0.0.1:{port}")

        class Remote:
            server = type("S", (), {"port": port, "token": read_token(store)})

        clients = [SlowClient(Remote) for _ in range(2)]
        time.sleep(1.0)  # both computing
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
        took = time.monotonic() - start
        assert code == 0
        assert took < 3.0  # typically 0.5 s
        for c in clients:
            c.conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert Path(store, ".service-token").exists()
