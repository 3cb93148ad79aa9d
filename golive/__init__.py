"""golive: decides whether a release may go live.

Layers (enforced by import-linter, see pyproject.toml):
- ``golive.checks``: the checklist as code, the probes, the runner and the verdict.
  Knows nothing of storage or Slack.
- ``golive.storage``: SQLAlchemy models and the store API. Knows the result types of
  ``checks`` but nothing of Slack or of probes' internals.
- ``golive.bot``: every surface (CLI, console, Slack, HTTP). The only layer that talks
  to people.
"""

import sys as _sys

__version__ = "0.1.0"

# httpx imports its own command-line client (click, rich, pygments) when it is imported,
# unless that import fails. golive never runs it; it cost every command that probes or
# loads a checklist about 60 ms and 4 MiB (bench/startup.py). httpx then defines a stub.
# None in sys.modules is the import system's "cannot be imported".
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
