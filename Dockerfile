# Inkwell: `docker build -t inkwell .` (the app) or `docker compose up -d` (docs/compose.md).
# No `# syntax=` line: the classic builder and an offline BuildKit build it as well.

# Build stage: a venv with the locked dependencies and Inkwell; only the venv is kept.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# strip (binutils), for the debug symbols some wheels' native libraries carry (~15 MB).
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils=2.40-2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python -m venv /venv
COPY requirements.lock requirements-build.lock ./
RUN /venv/bin/pip install --require-hashes -r requirements.lock -r requirements-build.lock
# The build context is what .dockerignore lets in: pyproject.toml, README.md, src/, content/.
COPY . ./
# Kept out of the final /venv: the 65 MB plotly package (only its plotly.min.js is served, for
# charts the partial bundles in Inkwell's static files cannot draw; copied out first), pip and
# setuptools (build tools), the models of every AWS service but S3 and
# the credential services (27 MB), native libraries' debug symbols, Pillow's AVIF codec (5 MB:
# Inkwell neither accepts nor writes AVIF; without it Pillow says AVIF is unsupported), the
# helpers of SQLAlchemy's and Alembic's own test suites (2.5 MB, never imported), SQLAlchemy's
# dialects for the databases Inkwell does not run on (MySQL/MariaDB, Oracle, SQL Server: 1.8 MB;
# no driver for them is installed, and such a DATABASE_URL is refused with a clear message
# either way), the test suites that jsonschema, referencing and traitlets ship (0.8 MB), WTForms'
# .po translation sources (gettext reads the .mo beside them), and the bytecode of Pygments'
# ~250 language modules (3.8 MB: one is compiled when a post's code block first needs it, at
# save time, never for a page view). The posts in content/ (if any) go to /app/content for
# `inkwell setup`.
RUN /venv/bin/pip install --no-deps --no-build-isolation . \
    && /venv/bin/python -c "from inkwell.assets import bundle_plotly; bundle_plotly()" \
    && /venv/bin/pip uninstall --yes --quiet plotly narwhals setuptools pip \
    && /venv/bin/inkwell assets compress \
    && find /venv/lib/python3*/site-packages/botocore/data -mindepth 1 -maxdepth 1 -type d \
        ! -name s3 ! -name sts ! -name sso ! -name sso-oidc -exec rm -rf {} + \
    && find /venv/lib/python3*/site-packages/boto3/data -mindepth 1 -maxdepth 1 -type d \
        ! -name s3 -exec rm -rf {} + \
    && rm -rf /venv/lib/python3*/site-packages/PIL/_avif.*.so \
        /venv/lib/python3*/site-packages/pillow.libs/libavif-*.so* \
        /venv/lib/python3*/site-packages/sqlalchemy/testing \
        /venv/lib/python3*/site-packages/alembic/testing \
        /venv/lib/python3*/site-packages/sqlalchemy/dialects/mssql \
        /venv/lib/python3*/site-packages/sqlalchemy/dialects/mysql \
        /venv/lib/python3*/site-packages/sqlalchemy/dialects/oracle \
        /venv/lib/python3*/site-packages/jsonschema/benchmarks \
    && find /venv/lib/python3*/site-packages -mindepth 2 -maxdepth 3 -type d -name tests -prune \
        -exec rm -rf {} + \
    && find /venv/lib/python3*/site-packages/wtforms/locale -name "*.po" -delete \
    && find /venv -type f \( -name "*.so" -o -name "*.so.*" \) -exec strip --strip-unneeded {} + \
    && /venv/bin/python -m compileall -q /venv \
    && find /venv/lib/python3*/site-packages/pygments/lexers/__pycache__ -name "*.pyc" \
        ! -name "__init__.*" ! -name "_mapping.*" -delete \
    && mkdir -p /src/content

# App stage: slim base, no compilers, a non-root user, gunicorn as the command.
FROM python:3.11-slim-bookworm AS app
# /srv/nginx and /srv/certs belong to the app user, so the named volumes compose.yaml mounts
# there start out writable by the setup container.
RUN groupadd --system --gid 10001 inkwell \
    && useradd --system --uid 10001 --gid inkwell --home-dir /app --shell /usr/sbin/nologin inkwell \
    && mkdir -p /app /data /srv/nginx /srv/certs \
    && chown inkwell:inkwell /data /srv/nginx /srv/certs
COPY --from=build /venv /venv
COPY --from=build /src/content /app/content
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
# Docker waits one interval before the first probe: 5 s, so a fresh container is healthy
# within seconds of gunicorn answering.
HEALTHCHECK --interval=5s --timeout=4s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["gunicorn", "inkwell.wsgi:app"]
