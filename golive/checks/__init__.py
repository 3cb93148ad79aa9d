"""The checklist as code and everything that decides it.

- :mod:`.model` / :mod:`.loader`: the checklist YAML, validated at load (every problem at once).
- :mod:`.conditions`: Gatus-style conditions over observed values.
- :mod:`.probe` and :mod:`.families`: the probe types, one registry, one module per family.
- :mod:`.runner`: runs probes concurrently with timeouts and isolation.
- :mod:`.verdict`: GO / NO-GO as a pure function.

Nothing here knows of storage or Slack.
"""
