# Pixline: one image, roles by command (docker/entrypoint.sh): web (default), worker, cron, dashboard, migrate.
# Build stage: compilers live here only, for any dependency without a wheel for this platform.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
# Requirements alone first: this layer is rebuilt only when they change, not on every code edit.
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# Final stage: the interpreter, the virtualenv and the code; no compilers, no package caches.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FLASK_APP=app \
    INSTANCE_PATH=/var/lib/pixline \
    PROMETHEUS_MULTIPROC_DIR=/tmp/pixline-metrics \
    LOG_FORMAT=json \
    PORT=8000
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin pixline \
    && mkdir -p /var/lib/pixline \
    && chown pixline:pixline /var/lib/pixline
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code owned by root and read-only to the service user: a compromised process cannot rewrite it.
COPY app ./app
COPY migrations ./migrations
COPY docker ./docker
COPY config.py worker.py ./
USER pixline
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "docker/healthcheck.py"]
ENTRYPOINT ["docker/entrypoint.sh"]
CMD ["web"]
