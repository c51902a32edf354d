"""The REST service the ``earthengine-api`` client talks to: the HTTP server and its
routes, who may call it (``auth``: the store's token; ``guard``: Host, Origin, path and
body checks), the fair compute threads (``scheduler``), long-running operations, and map
tiles and thumbnails."""
