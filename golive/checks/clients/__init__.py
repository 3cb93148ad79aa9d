"""Clients the probe families share: one module per kind of server they talk to.

- :mod:`.http`: the HTTP toolkit (TLS, auth, redirect guard, capped read, error mapping).
- :mod:`.kubernetes`: the Kubernetes API (the only module that imports ``kubernetes``).
- :mod:`.registry`: the OCI distribution API.
- :mod:`.forges`: GitHub, GitLab and Jira REST APIs.
- :mod:`.monitoring`: Prometheus, Alertmanager and Grafana.
- :mod:`.documents`: report files and URLs a probe reads (paths resolve against the
  checklist's folder).
"""
