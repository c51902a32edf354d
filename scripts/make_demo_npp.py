"""Write the SYNTHETIC demo NPP cube (``gee_cscc.demo.synthetic``) and its region ids to NetCDF.

The file holds two variables on one lon/lat grid (EPSG:4326): ``npp`` (float32, g C m⁻² yr⁻¹,
dims year, y, x; NaN outside China's land) and ``region_id`` (int32, 1 … 34, 0 outside).
It is synthetic data for demos and tests, calibrated to the paper's Table 1; not real NPP.

Usage::

    python scripts/make_demo_npp.py [--resolution 0.1] [--start 1981] [--end 2018]
                                    [--seed 20231266688] [--output demo-out/demo_npp.nc]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import xarray as xr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gee_cscc.demo.synthetic import DEFAULT_SEED, demo_npp, demo_regions  # noqa: E402


def demo_dataset(
    *, resolution: float = 0.1, start: int = 1981, end: int = 2018, seed: int = DEFAULT_SEED
) -> xr.Dataset:
    """The demo NPP (g C m⁻² yr⁻¹) and region ids as one Dataset (see ``gee_cscc.demo.synthetic``)."""
    npp = demo_npp(resolution=resolution, start=start, end=end, seed=seed)
    regions = demo_regions(resolution=resolution)
    ds = xr.Dataset({"npp": npp, "region_id": regions})
    ds.attrs = {
        "title": npp.attrs["title"],
        "description": npp.attrs["description"],
        "crs": "EPSG:4326",
        "source": "gee_cscc scripts/make_demo_npp.py",
    }
    return ds


def write_netcdf_atomic(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` to ``path`` (zlib-compressed) through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
        ds.to_netcdf(tmp, encoding=encoding)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=float, default=0.1, help="cell size, degrees")
    parser.add_argument("--start", type=int, default=1981, help="first year")
    parser.add_argument("--end", type=int, default=2018, help="last year")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--output", type=Path, default=Path("demo-out/demo_npp.nc"))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    ds = demo_dataset(resolution=args.resolution, start=args.start, end=args.end, seed=args.seed)
    write_netcdf_atomic(ds, args.output)
    print(
        f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, "
        f"{ds.sizes['year']} years x {ds.sizes['y']} x {ds.sizes['x']} cells, SYNTHETIC) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
