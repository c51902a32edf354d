"""Raster geometry: grids and projections, resampling, rasterizing, pixel areas and tiled
reductions over a grid."""
