"""Time and peak memory of interactive vs batch runs as the grid grows 4x.

Run on demand (not part of the test suite)::

    python benchmarks/bench_batch_mode.py [--sizes 512,1024] [--years 10] [--preview 65536]

For each square grid (``size x size`` cells of 0.01 degree; the default sizes differ 4x in
pixels) a synthetic annual NPP collection and four rectangular regions are written to a
fresh store. The local engine serves that store from a process of its own (``gee-cscc
serve``), as Google's servers would, and each mode runs :func:`gee_cscc.workflow.analyze.analyze`
in a client process of its own. Reported per run:

- ``seconds``: the client's wall time of ``analyze``;
- ``client_rss_mb``: the client's peak resident memory (``ru_maxrss``) — what a user's
  machine needs. Interactive pulls every layer whole, so it grows with the grid; batch
  pulls only the preview (at most ``--preview`` pixels a layer), so it stays flat;
- ``server_rss_mb``: the serving process's peak (``VmHWM``), for reference (on Earth Engine
  that is Google's side).

Both modes' capacity tables are compared (relative difference, must be <= 1e-9). The
numbers are printed as a table and written as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

YEARS0 = 2001
CELL = 0.01
ORIGIN = (100.0, 40.0)

CLIENT = textwrap.dedent(
    """
    import json, resource, sys, time
    import ee
    from gee_cscc.config import Config
    from gee_cscc.engine import initialize_ee, read_token
    from gee_cscc.method import regions_from_features
    from gee_cscc.workflow.analyze import analyze
    from gee_cscc.workflow.batch import BatchOptions

    url, store, mode, out, years, preview = sys.argv[1:7]
    years = int(years)
    initialize_ee(url, token=read_token(store))
    cfg = Config(start={y0}, end={y0} + years - 1, reference_year={y0} + years // 2)
    regions = regions_from_features(
        ee.FeatureCollection("projects/local-project/assets/regions"), name_property="abbr"
    )
    batch = BatchOptions(task_dir=out, poll_seconds=0.5, preview_pixels=int(preview))
    t0 = time.perf_counter()
    r = analyze("projects/local-project/assets/npp", cfg, regions=regions, extent="input",
                mode=mode, batch=batch, counting="server")
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"seconds": seconds, "client_rss_mb": rss,
                      "capacity": r.capacity[["cscc_tg", "vca_cells"]].values.tolist(),
                      "raster_shape": list(r.raster_grid.shape)}}))
    """
).format(y0=YEARS0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_store(store: Path, size: int, years: int) -> None:
    """A synthetic collection (``years`` float32 images of ``size x size``) and 4 regions."""
    import xarray as xr

    from gee_cscc.engine import AssetStore

    s = AssetStore(store)
    rng = np.random.default_rng(size)
    x0, y0 = ORIGIN
    xs = x0 + CELL * (np.arange(size) + 0.5)
    ys = y0 - CELL * (np.arange(size) + 0.5)
    base = rng.uniform(100, 900, (size, size)).astype(np.float32)
    slope = rng.normal(0, 10, (size, size)).astype(np.float32)
    data = {}
    for i in range(years):
        arr = base + slope * i + rng.normal(0, 20, (size, size)).astype(np.float32)
        data[YEARS0 + i] = xr.DataArray(
            arr, dims=("y", "x"), coords={"y": ys, "x": xs}, attrs={"crs": "EPSG:4326"}
        )
    s.put_collection("projects/local-project/assets/npp", data, band="npp")
    half = CELL * size / 2
    features = []
    for k, (dx, dy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        ax, ay = x0 + dx * half, y0 - dy * half
        ring = [[ax, ay], [ax + half, ay], [ax + half, ay - half], [ax, ay - half], [ax, ay]]
        features.append(
            {
                "type": "Feature",
                "properties": {"abbr": f"R{k + 1}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    s.put_table(
        "projects/local-project/assets/regions",
        {"type": "FeatureCollection", "features": features},
    )


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def one_run(store: Path, mode: str, years: int, preview: int) -> dict:
    """Serve ``store`` in one process, run ``mode`` in another; their numbers."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gee_cscc.cli.main",
            "serve",
            "--store",
            str(store),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the local engine did not start")
            time.sleep(0.2)
        out = Path(tempfile.mkdtemp(prefix=f"bench-{mode}-"))
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CLIENT,
                f"http://127.0.0.1:{port}",
                str(store),
                mode,
                str(out),
                str(years),
                str(preview),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{mode} run failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["server_rss_mb"] = vm_hwm_mb(server.pid)
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="512,1024", help="grid sides, comma-separated")
    p.add_argument("--years", type=int, default=10)
    p.add_argument("--preview", type=int, default=2**16, help="preview pixels per layer")
    p.add_argument("--json", default=None, help="write the numbers here")
    args = p.parse_args(argv)
    rows = []
    for size in (int(v) for v in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"bench-batch-{size}-") as tmp:
            store = Path(tmp) / "store"
            make_store(store, size, args.years)
            runs = {
                m: one_run(store, m, args.years, args.preview) for m in ("interactive", "batch")
            }
        a = np.asarray(runs["interactive"].pop("capacity"), float)
        b = np.asarray(runs["batch"].pop("capacity"), float)
        rel = float(np.max(np.abs(a - b) / np.where(a == 0, 1, np.abs(a))))
        for mode, r in runs.items():
            rows.append(
                {"size": size, "pixels": size * size, "mode": mode, **r, "max_rel_diff": rel}
            )
    print(
        f"{'grid':>11} {'mode':>12} {'seconds':>8} {'client MB':>10} {'server MB':>10} "
        f"{'rasters':>11} {'rel diff':>9}"
    )
    for r in rows:
        shape = "x".join(str(v) for v in r["raster_shape"])
        print(
            f"{r['size']:>5}x{r['size']:<5} {r['mode']:>12} {r['seconds']:8.1f} "
            f"{r['client_rss_mb']:10.0f} {r['server_rss_mb'] or float('nan'):10.0f} "
            f"{shape:>11} {r['max_rel_diff']:9.1e}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
