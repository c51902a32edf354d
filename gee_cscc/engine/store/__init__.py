"""The asset store: a folder of images, collections and tables, with Earth Engine's names
and ACLs, and the readers that load its rasters tile by tile."""
