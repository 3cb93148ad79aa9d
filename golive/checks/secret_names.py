"""Does a name say its value is a credential? One word list, one variant per kind of name.

golive masks or refuses a value by its *name* in five places: a query parameter or a
``name=value`` pair in a text (:mod:`golive.checks.redaction`, the database URL), an
environment variable a checklist writes inline (the command probe) or a container
declares (the Kubernetes pod policies), a header a checklist writes inline (the HTTP
probe), and a field of a log line (the bot's logs). All of them ask this module, and all
read :data:`SECRET_WORDS`. The variants differ only where the kind of name does:

- :func:`is_secret_parameter`: any word of the name counts. ``X-Amz-Signature``,
  ``access_token``, ``sslpassword``: a query parameter or a connection keyword carries
  the credential itself wherever the word stands. ``code``, ``id`` and ``state`` stay
  readable, so an evidence link keeps its meaning.
- :func:`is_secret_env_name`: the *last* word counts (``DB_PASSWORD``, ``apiToken``,
  ``AWS_SECRET_ACCESS_KEY``), or a credential word glued to the end (``DBPASSWORD``).
  A variable holds what its last word names: ``TOKEN_URL`` holds a URL,
  ``AWS_ACCESS_KEY_ID`` an id, ``SESSION_TIMEOUT`` a duration.
- :func:`is_secret_header`: like a variable name, plus the credential headers HTTP names
  itself (``Authorization``, ``Cookie``), and a bare ``key`` does not count
  (``Idempotency-Key`` is not a credential; ``X-Api-Key`` is, by its glued ``apikey``).
- :func:`is_secret_field`: a key of structured data (a log line's field, a mapping in
  it): any word counts, plural or not, as a header's words do, and the credential
  header names as words (``bot_token``, ``db_passwords``, ``set_cookie``). Masking a
  harmless field costs a log little; a secret shown cannot be taken back.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

#: Words that say a value is a credential. A name is cut into words at every character
#: that is not a letter or a digit (``X-Amz-Signature`` → x, amz, signature); variable and
#: header names are also cut where a lower-case letter meets an upper-case one
#: (``apiToken`` → api, token). Glued forms are listed because names glue words.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "sslpassword",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "apikey",
        "key",
        "secret",
        "clientsecret",
        "sig",
        "signature",
        "credential",
        "credentials",
        "auth",
        "session",
        "sessionid",
        "jwt",
    }
)

#: In a text, ``pass=3 fail=1`` counts results: ``pass`` names a secret only as the last
#: word of a variable (``DB_PASS``).
_NOT_PARAMETER_WORDS = frozenset({"pass"})
#: In a query string these carry the credential (a pre-signed URL's signature, a session
#: id); as the last word of a variable or header they name a setting (``AUTH``,
#: ``X-Session``, ``GPG_SIG``… are modes, ids or files more often than secrets).
_PARAMETER_ONLY_WORDS = frozenset({"sig", "signature", "auth", "session", "sessionid"})
_ENV_WORDS = SECRET_WORDS - _PARAMETER_ONLY_WORDS
#: ``key`` alone in a header is a cache or idempotency key; ``apikey`` still counts.
_HEADER_WORDS = _ENV_WORDS - {"key"}
#: Credential words that end a glued name unambiguously (``DBPASSWORD``, ``GITHUBTOKEN``);
#: shorter ones would match inside ordinary words (``BYPASS``, ``MONKEY``).
_GLUED_ENDINGS = tuple(
    word for word in SECRET_WORDS if word in {"password", "passwd", "passphrase", "token", "secret", "apikey"}
)
#: HTTP's own credential headers: their names say "credential" without a word from the list.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_CREDENTIAL_HEADER_WORDS = frozenset({"authorization", "cookie"})
#: The shell's working directory, not a password.
_NOT_SECRET_VARIABLES = frozenset({"PWD"})

_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secret_parameter(name: str) -> bool:
    """A query parameter, a connection keyword or the name of a ``name=value`` in a text."""
    words = _SEPARATORS.split(unquote_plus(name).lower())
    return any(word in SECRET_WORDS and word not in _NOT_PARAMETER_WORDS for word in words)


def is_secret_env_name(name: str) -> bool:
    """The name of an environment variable (a checklist's inline ``env``, a container's)."""
    if name.upper() in _NOT_SECRET_VARIABLES:
        return False
    return _last_word_says_secret(name, _ENV_WORDS)


def is_secret_header(name: str) -> bool:
    """The name of an HTTP request header."""
    if name.strip().lower() in _CREDENTIAL_HEADERS:
        return True
    return _last_word_says_secret(name, _HEADER_WORDS)


def is_secret_field(name: str) -> bool:
    """A key of a log line's fields, or of a mapping inside one."""
    words = _words(name)
    singular = {word.removesuffix("s") for word in words}
    return bool((set(words) | singular) & (_HEADER_WORDS | _CREDENTIAL_HEADER_WORDS)) or "".join(
        words
    ).endswith(_GLUED_ENDINGS)


def _words(name: str) -> list[str]:
    return [w.lower() for part in _SEPARATORS.split(name) for w in _CASE_CHANGE.split(part) if w]


def _last_word_says_secret(name: str, secret_words: frozenset[str]) -> bool:
    words = _words(name)
    if not words:
        return False
    return words[-1] in secret_words or "".join(words).endswith(_GLUED_ENDINGS)
