# golive: `golive serve`, the Slack bot that decides whether a release may go live.
#
#   docker build -t golive:0.1.0 --build-arg VCS_REF="$(git rev-parse HEAD)" .
#   docker run --read-only -v golive-data:/var/lib/golive \
#     -e SLACK_BOT_TOKEN=xoxb-… -e SLACK_APP_TOKEN=xapp-… golive:0.1.0
#
# Needs BuildKit (the default builder of Docker 23 and later; Buildah and Podman too) for
# RUN --mount. The image runs as uid 10001 with a read-only root filesystem: everything
# it writes (the SQLite database, chart PNGs, HOME, temporary files) goes to the volume
# /var/lib/golive. tests/deploy/ parses this file and replays its install steps.

# --- builder: golive's wheel and a wheel of every locked runtime dependency -----------
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# README.md is the package's long description (pyproject.toml `readme`).
COPY pyproject.toml README.md requirements.lock ./
COPY golive/ golive/
# The versions come from requirements.lock; the final stage installs from /wheels alone.
# pip's cache is a BuildKit cache mount: rebuilds reuse downloads, no layer keeps them.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --wheel-dir /wheels -c requirements.lock .

# --- final: the runtime, no compilers, no build tools, no wheels left behind ----------
FROM python:3.11.14-slim-bookworm

# Override in CI: --build-arg VERSION=… --build-arg VCS_REF=$(git rev-parse HEAD)
ARG VERSION=0.1.0
ARG VCS_REF=unknown

LABEL org.opencontainers.image.title=golive \
      org.opencontainers.image.description="Slack bot that runs the pre-go-live checklist as probes, collects sign-offs and announces GO or NO-GO" \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.revision=${VCS_REF} \
      org.opencontainers.image.licenses=Apache-2.0 \
      org.opencontainers.image.base.name=docker.io/library/python:3.11.14-slim-bookworm \
      golive.sbom=/usr/share/golive/sbom.cdx.json

# Writable state lives under /var/lib/golive only; matplotlib and fontconfig write
# their caches below HOME, tempfile below TMPDIR.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/var/lib/golive \
    TMPDIR=/var/lib/golive \
    MPLCONFIGDIR=/var/lib/golive/.config/matplotlib \
    GOLIVE_DB_URL=sqlite:////var/lib/golive/golive.db \
    GOLIVE_CHARTS_DIR=/var/lib/golive/charts \
    GOLIVE_CHECKLIST=/usr/share/golive/checklists/valeo-neuroerp-1.1.0.yaml \
    PORT=3000

RUN groupadd --system --gid 10001 golive \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/golive \
      --shell /usr/sbin/nologin golive \
 && install --directory --owner=10001 --group=10001 --mode=0750 /var/lib/golive

COPY requirements.lock /usr/share/golive/requirements.lock
# The wheels are bind-mounted from the builder, so no layer keeps them.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links=/wheels \
      -c /usr/share/golive/requirements.lock golive \
 && golive --version

# The CycloneDX bill of materials of golive and the locked dependencies installed above
# (tools/sbom.py; the label golive.sbom points here), for image scanners such as Trivy
# or Grype: docs/operators.md.
COPY sbom.cdx.json /usr/share/golive/sbom.cdx.json

# The bundled checklist, so the image starts as it is; Kubernetes mounts its own.
COPY checklists/valeo-neuroerp-1.1.0.yaml /usr/share/golive/checklists/valeo-neuroerp-1.1.0.yaml

WORKDIR /var/lib/golive
VOLUME ["/var/lib/golive"]
USER 10001:10001
EXPOSE 3000
STOPSIGNAL SIGTERM

# No curl in the image: Python asks /healthz, bypassing any proxy from the environment.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

ENTRYPOINT ["golive"]
CMD ["serve"]
