"""A local "staging" for VALEO-NeuroERP 1.1.0, assembled from the real test servers of
``tests/services`` and the wire-faithful fakes of the probe tests, for
``tests/test_staging.py``: the bundled checklist runs against it unchanged, configured only
through the environment variables it reads.

- :mod:`.endpoints`: the application's own HTTP endpoints (health, an integration endpoint
  that really talks to Redis and PostgreSQL, the OpenAPI document, the documentation
  pages) and a Prometheus scrape target that can be stopped and started on its port;
- :mod:`.artifacts`: the reports a CI pipeline leaves behind (k6, Trivy, coverage.py);
- :mod:`.images`: the release's images pushed into a registry and its mirror;
- :mod:`.kube`: the Kubernetes staging cluster (``cluster.yaml``) on the fake API server,
  dated now;
- :mod:`.hosted`: the Python-served parts (application, fakes, scrape target) run in child
  processes, as servers do, not in the interpreter of the run under test;
- :mod:`.world`: everything started together, the environment, and the ways to break
  one part and restore it.
"""
