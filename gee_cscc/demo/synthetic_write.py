"""The synthetic demo NPP written to a NetCDF file one year at a time.

:func:`write_demo_npp` writes what :func:`gee_cscc.demo.synthetic.demo_npp` returns (the same
variable, coordinates and attributes, read back alike by ``xarray``) without holding the
cube: at 0.0125° (14 M cells, 38 years) the float32 cube alone is 2.2 GB, and building it in
memory took several times that. Memory is a few per-cell fields of the grid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gee_cscc.demo.synthetic import DEFAULT_SEED, demo_npp_years

__all__ = ["write_demo_npp"]


def write_demo_npp(
    path: str | Path,
    *,
    resolution: float = 0.1,
    start: int = 1981,
    end: int = 2018,
    seed: int = DEFAULT_SEED,
) -> Path:
    """Write the demo NPP cube to ``path`` (NetCDF-4), one year at a time.

    The variable ``npp`` (float32, dims ``year``, ``y``, ``x``, NaN outside China's land)
    has the attributes of :func:`~gee_cscc.demo.synthetic.demo_npp`. The values are those of
    :func:`~gee_cscc.demo.synthetic.demo_npp_years` (equal to ``demo_npp``'s up to rounding
    of the weather fields, about 1e-15 relative). The file is written next to ``path`` and
    renamed when complete, so an interrupted run leaves no partial ``path``.
    """
    import netCDF4

    path = Path(path)
    cube = demo_npp_years(resolution=resolution, start=start, end=end, seed=seed)
    tmp = path.with_name(path.name + ".part")
    try:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
            for name, coord in cube.coords.items():
                nc.createDimension(name, coord.size)
                var = nc.createVariable(name, coord.dtype, (name,))
                var.setncatts(coord.attrs)
                var[:] = coord.values
            npp = nc.createVariable("npp", "f4", ("year", "y", "x"), fill_value=np.float32(np.nan))
            npp.setncatts(cube.attrs)
            for i, row in enumerate(cube.rows):
                npp[i, :, :] = row
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
