"""Local statistics on small, already-reduced numbers: NumPy and SciPy, no Earth Engine.

- :mod:`~gee_cscc.stats.fit`: the decay fit of one maintenance-ratio series, τ with its
  profile confidence interval (docs/method.md §5, §5b).
- :mod:`~gee_cscc.stats.resilience`: a region's τ⁺ and τ⁻, resilience RS and its grade.
- :mod:`~gee_cscc.stats.tables`: every table derived from region totals and per-year counts
  (Table 1, the yearly totals, Table 2 and its slopes, the trend summary).
"""
