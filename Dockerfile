# syntax=docker/dockerfile:1
# fastmango's production image (README "Deploying"). Stage 1 builds the front end from the
# npm lock; stage 2 is a slim Python 3.11 with the locked runtime dependencies, the app and
# the built assets, run by a non-root user. tests/test_dockerfile.py runs these same install
# and start steps without a Docker engine, and lints this file with hadolint.

FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
# The locked versions, lock left as is (see the Makefile's note on why not `npm ci`).
RUN npm install --no-save --no-audit --no-fund --loglevel=error
COPY static/ static/
COPY templates/ templates/
COPY fastmango/ fastmango/
RUN node fastmango/web/build-assets.mjs


FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    ENVIRONMENT=production \
    PORT=8000 \
    DATABASE_URL=sqlite+aiosqlite:////data/fastmango.db \
    MEDIA_ROOT=/data/media
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv

WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements/base.lock requirements/base.lock
RUN --mount=type=cache,target=/root/.cache/uv \
    uv venv /opt/venv && uv pip install --python /opt/venv/bin/python -r requirements/base.lock

# The code belongs to root and is read-only for the app; it writes only to /data
# (SQLite and uploads when no PostgreSQL or S3 is configured).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app app \
    && mkdir -p /data \
    && chown app:app /data
COPY . .
COPY --from=assets /src/static/dist static/dist
# Bytecode now: the code is read-only at run time, and every process starts faster.
RUN python -m compileall -q .
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('PORT', '8000'), timeout=4)"]

# prestart: wait for the database, migrate, create the first superuser (idempotent).
CMD ["sh", "-c", "python manage.py prestart && exec python manage.py runserver --prod"]
