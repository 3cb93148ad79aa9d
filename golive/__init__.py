"""golive: decides whether a release may go live.

Layers (enforced by import-linter, see pyproject.toml):
- ``golive.checks``: the checklist as code, the probes, the runner and the verdict.
  Knows nothing of storage or Slack.
- ``golive.storage``: SQLAlchemy models and the store API. Knows the result types of
  ``checks`` but nothing of Slack or of probes' internals.
- ``golive.bot``: every surface (CLI, console, Slack, HTTP). The only layer that talks
  to people.
"""

__version__ = "0.1.0"
