"""The REST service the ``earthengine-api`` client talks to: the HTTP server and its
routes, long-running operations, and map tiles and thumbnails."""
