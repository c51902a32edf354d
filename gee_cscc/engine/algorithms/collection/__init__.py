"""``Collection.*`` algorithms (shared by FeatureCollection and ImageCollection)."""
