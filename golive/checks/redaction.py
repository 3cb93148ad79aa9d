"""Credentials written into URLs and connection strings, found by their shape and masked.

Registered secret values (:mod:`golive.checks.secrets`) are masked wherever they appear;
this module masks the secrets golive never registered because they came inside a text:
a database URL given on the command line, a token an HTTP client logs as part of the
URL it requested, a libpq connection string in a driver's error. Three shapes:

- the password of a URL's userinfo: ``postgresql://golive:PASSWORD@db/golive``;
- the value of a parameter whose *name* says secret
  (:func:`golive.checks.secret_names.is_secret_parameter`), in a query string or a libpq
  keyword string: ``?password=…``, ``&access_token=…``, ``X-Amz-Signature=…``,
  ``password=… host=db``;
- nothing else: a parameter named ``code``, ``id`` or ``state`` is left alone, so an
  evidence link keeps its meaning.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from .secret_names import is_secret_parameter

#: Replaces a secret in free text.
MASK = "[REDACTED]"
#: Replaces a secret inside a URL: still a valid URL, so a link stays a link.
URL_MASK = "REDACTED"


#: ``scheme://user:password@``; the password stops where userinfo must stop. Bounded,
#: and anchored where a scheme can begin, so a long run of dots or words (a body, a
#: token) is scanned once, not once per position.
_USERINFO = re.compile(
    r"(?P<head>(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^\s:/?#@]{0,256}:)"
    r"(?P<password>[^\s/?#@]{0,1024})(?=@)"
)
#: ``name=value`` where a name starts (after a separator, never inside a word) and the
#: value is single-quoted (libpq) or runs to the next separator. ``==`` is a comparison
#: (conditions, queries), not an assignment. libpq also allows spaces around ``=``.
_PARAMETER = re.compile(
    r"(?<![\w.%-])(?P<name>[A-Za-z_][\w.-]{0,63})(?P<equals>[ \t]*=[ \t]*)(?!=)"
    r"(?P<value>'(?:[^'\\\n]|\\.){0,1024}'|[^\s&#;'\"]+)"
)


def redact_text(text: str) -> str:
    """``text`` with URL passwords and the values of secret-named parameters masked."""
    if "=" not in text and "@" not in text:  # the common case: nothing to look at
        return text
    text = _USERINFO.sub(_mask_userinfo, text)
    return _PARAMETER.sub(_mask_parameter, text)


def _mask_userinfo(match: re.Match[str]) -> str:
    password = match["password"]
    if password in ("", "***", URL_MASK, MASK):  # absent, or hidden already
        return match[0]
    return match["head"] + URL_MASK


def _mask_parameter(match: re.Match[str]) -> str:
    if not is_secret_parameter(match["name"]) or match["value"] in (URL_MASK, MASK, "***"):
        return match[0]
    # Spaces around '=' only occur in libpq keyword strings, never in a URL.
    mask = URL_MASK if match.start() > 0 and match.string[match.start() - 1] in "?&" else MASK
    return f"{match['name']}{match['equals']}{mask}"


def public_url(url: str) -> str:
    """The URL to show: no userinfo at all, secret-named query values masked, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    fields = []
    for field in parts.query.split("&") if parts.query else []:
        name, equals, _ = field.partition("=")
        fields.append(f"{name}{equals}{URL_MASK}" if equals and is_secret_parameter(name) else field)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(fields), ""))
