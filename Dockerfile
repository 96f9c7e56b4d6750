# syntax=docker/dockerfile:1
# Inkwell: `docker build -t inkwell .` (the app) or `docker compose up -d` (docs/compose.md).

# Build stage: a venv with the locked dependencies and Inkwell; only the venv is kept.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /venv
COPY requirements.lock requirements-build.lock ./
RUN /venv/bin/pip install --require-hashes -r requirements.lock -r requirements-build.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /venv/bin/pip install --no-deps --no-build-isolation . \
    && /venv/bin/inkwell assets compress \
    && /venv/bin/python -m compileall -q /venv

# App stage: slim base, no compilers, a non-root user, gunicorn as the command.
FROM python:3.11-slim-bookworm AS app
RUN groupadd --system --gid 10001 inkwell \
    && useradd --system --uid 10001 --gid inkwell --home-dir /app --shell /usr/sbin/nologin inkwell \
    && mkdir -p /app /data \
    && chown inkwell:inkwell /data
COPY --from=build /venv /venv
COPY gunicorn.conf.py /app/
WORKDIR /app
ENV PATH="/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    INKWELL_ENV=production \
    INKWELL_INSTANCE_PATH=/data \
    APP_BIND=0.0.0.0:8000
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "inkwell.wsgi:app"]
