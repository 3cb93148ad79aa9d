"""The checklist as code and everything that decides it.

- :mod:`.model` / :mod:`.loader`: the checklist YAML, validated at load (every problem at once).
- :mod:`.conditions`: Gatus-style conditions over observed values.
- :mod:`.probe`: what a probe type is, and the registry of them.
- :mod:`.families`: the probe families, one module each (Kubernetes ones in
  ``families/kubernetes/``).
- :mod:`.clients`: the clients families share (HTTP toolkit, Kubernetes, registry,
  forges, monitoring APIs, documents); :mod:`.formats`: pure parsers of what they read.
- :mod:`.runner`: runs probes concurrently with timeouts, retries and isolation.
- :mod:`.verdict`: GO / NO-GO as a pure function.
- :mod:`.errors`: the one error tree; :mod:`.rollback`: what the rollback watch asks.

Nothing here knows of storage or Slack.
"""
