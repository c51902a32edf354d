"""Batch tasks: image and table exports (to assets, Drive and Cloud Storage folders) and
ingestions, run as long-running operations."""
