"""The one error tree of golive: every error the code raises on purpose is one of these.

::

    Exception
    ├── GoliveError                   the root (here); imports nothing of golive, so every
    │   │                             layer's errors subclass it without crossing a layer
    │   ├── ChecklistError            configuration (golive.checks.errors): the checklist is
    │   │                             invalid; raised at load with every Problem at once, each
    │   │                             naming the item and the field; never raised while running
    │   ├── ProbeError                a probe could not decide (golive.checks.errors): the item
    │   │   │                         is ERROR with the message; raise one of the two kinds
    │   │   ├── TemporaryProbeError   trying again may help: unreachable, timed out, HTTP 5xx,
    │   │   │   │                     rate limited, a server still starting. The runner tries
    │   │   │   │                     again within the item's timeout budget; the result is
    │   │   │   │                     stored with TEMPORARY, and one temporary error alone is
    │   │   │   │                     no alert
    │   │   │   └── TemporaryApiStatusError    an API's 429 or 5xx (golive.checks.clients.forges)
    │   │   └── PermanentProbeError   the target or the checklist must change: not authorised,
    │   │       │                     TLS, not found, a malformed answer or report, a file
    │   │       │                     missing
    │   │       ├── NotConfigured     an environment variable the checklist reads is not set
    │   │       │   └── KubeNotConfigured          no kubeconfig and not in a pod
    │   │       ├── KubeNotFound, KubeForbidden, KubeConflict   (golive.checks.clients.kubernetes)
    │   │       └── PermanentApiStatusError    an API's other error status; both status
    │   │                                      errors are also ApiStatusError, which carries
    │   │                                      the status code and the API's own detail
    │   ├── StorageError              the database failed or refused (golive.storage.errors):
    │   │                             nothing was recorded, the caller says so
    │   ├── RunAborted                a run marked aborted meanwhile takes no more results
    │   │                             (golive.storage.errors)
    │   ├── UserError                 what a person asked cannot be done (golive.bot.core.errors):
    │   │   │                         shown to that person only, in a reply worded by the EN/DE
    │   │   │                         catalogue; the message says why and what to do
    │   │   ├── NotApprover           the person may not sign for that role
    │   │   └── AlreadySigned         the role stands signed off: told as information
    │   └── the bot's own conditions, each beside the one caller that handles it:
    │       NotLeading (golive.bot.core.surface: a replica that lost its lease may not post),
    │       LeaseUnavailable (golive.bot.ha.database: the lease backend did not answer),
    │       GateError, Unavailable (golive.bot.gate.wait: the deploy gate gives up, or
    │       keeps asking), GitHubError (golive.bot.gate.github: GitHub refused or is down)
    └── ValueError
        ├── ConditionSyntaxError      configuration: a condition that does not parse
        │                             (golive.checks.conditions); a ValueError because pydantic
        │                             turns it into the ChecklistError Problem of its field
        └── UnknownPhase              a phase the checklist does not have (golive.bot.gate.verdict);
                                      a bad argument, answered 400 or exit 2

Subclasses that carry more for their callers stay under their kind. A probe raises the
kind it means; a client that adds context to an error it caught keeps its kind with
:func:`golive.checks.errors.reworded`. Mistakes of a caller inside the code (an unknown
id, a naive datetime) are Python's own errors, not part of this tree.
"""

from __future__ import annotations


class GoliveError(Exception):
    """An error golive raises on purpose; its message is written for a person to read."""
