"""The ``golive serve`` process: its wiring, HTTP routes, settings, readiness and shutdown."""
