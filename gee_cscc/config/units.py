"""The units of the run's values, written once.

Every table column, raster band, NetCDF variable and asset property that holds NPP or a
quantity in NPP's units (CSCC, the potential, their standard errors) says it with
:data:`NPP_UNITS`; trend slopes with :data:`SLOPE_UNITS`.
"""

from __future__ import annotations

__all__ = ["FILE_NO_DATA", "NPP_UNITS", "SLOPE_UNITS"]

#: Annual NPP and everything in its units (CSCC, PCS), as people write them.
NPP_UNITS = "g C m-2 yr-1"

#: A trend slope of annual NPP (per year).
SLOPE_UNITS = "g C m-2 yr-2"

#: The value of masked pixels in exported GeoTIFF files (Drive, Cloud Storage, a folder).
FILE_NO_DATA = -9999.0
