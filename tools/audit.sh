#!/usr/bin/env bash
# Known vulnerabilities in the locked dependencies (requirements.lock), from the advisory
# data PyPI's JSON API serves (pip-audit's default service, pypi.org/pypi/NAME/VERSION/json).
# Exit 0: every locked package checked, none vulnerable; non-zero: vulnerabilities found
# (listed), or some package could not be checked (named), or no network.
#
# pip-audit lives in a venv of its own, outside the checkout (or at $AUDIT_VENV): its
# dependencies are not golive's and stay out of the lock and out of ruff's way. --no-deps: the lock pins every package;
# --disable-pip: nothing is installed or resolved to audit it; --strict: a package the
# service cannot look up fails the audit instead of being skipped, so "No known
# vulnerabilities found" always means every locked package was checked.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${AUDIT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/golive/audit-venv}"
version="2.10.1"
if ! "$venv/bin/pip-audit" --version 2>/dev/null | grep -q " $version\$"; then
  mkdir -p "$(dirname "$venv")" && python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "pip-audit==$version"
fi
exec "$venv/bin/pip-audit" --requirement requirements.lock --no-deps --disable-pip --strict \
  --progress-spinner off "$@"
