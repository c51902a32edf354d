"""The engine's core: values, the algorithm registry, graph evaluation and serialization.

``values`` holds the objects an expression graph evaluates to (bands, images, collections,
features, geometries, dates); ``registry`` maps Earth Engine algorithm names to their
implementations and applies Earth Engine's argument rules; ``evaluate`` walks a serialized
expression graph; ``serialize`` turns values back into the client's JSON; ``context`` is the
per-request state (store, caller, limits).
"""
