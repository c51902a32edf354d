"""One analysis or run, end to end: engines, inputs, analysis, pulls, outputs.

The workflow layer connects the others: it starts or connects to an engine
(:mod:`~gee_cscc.workflow.engines`), loads a user's files into it
(:mod:`~gee_cscc.workflow.inputs`), builds the method's expressions and reduces them to
tables (:mod:`~gee_cscc.workflow.analyze`), brings rasters back through ``xee``
(:mod:`~gee_cscc.workflow.pull`) and writes a run's outputs (:mod:`~gee_cscc.workflow.run`).
Arrows point down only: the workflow imports ``method``, ``stats``, ``cloud`` and ``report``,
never the command line.
"""
