"""gridplan's faces: the command line and the HTTP API over the ``gis`` engine."""
