# The hub as a container: `hub serve` against an external PostgreSQL (docs/operating.md).
#   docker build -t hub .

# Build: the hub's wheel, installed with its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# A C compiler for the iJw reader's compiled walk (setup.py); the runtime stage has none.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY hub ./hub
RUN python -m venv /opt/hub \
 && pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/hub/bin/pip install /wheels/hub-*.whl

# Runtime: the environment and the migrations, no build tools, no sources, no root.
FROM python:3.11-slim
ENV PATH=/opt/hub/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HUB_SQL_DIR=/opt/hub/sql \
    HUB_HOME=/var/lib/hub \
    HUB_LOG_FORMAT=json \
    HUB_LOG_LEVEL=INFO
RUN groupadd --system --gid 10001 hub \
 && useradd --system --uid 10001 --gid hub --home-dir /var/lib/hub --create-home hub
COPY --from=build /opt/hub /opt/hub
COPY sql /opt/hub/sql
USER 10001:10001
WORKDIR /var/lib/hub
EXPOSE 8000
# Liveness of the process; /readyz (database and migrations) is for the load balancer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
