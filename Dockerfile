# syntax=docker/dockerfile:1
# Build stage: install the package and its pinned dependencies into a virtualenv.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY connectors ./connectors
COPY migrations ./migrations
RUN pip install --no-cache-dir .

# Runtime stage: the virtualenv and nothing else, run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 chatcentre
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CHATCENTRE_HOST=0.0.0.0 \
    CHATCENTRE_PORT=8000 \
    CHATCENTRE_DATA_DIR=/home/chatcentre/data
USER 10001
WORKDIR /home/chatcentre
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# Configured only by environment (CHATCENTRE_DATABASE_URL, CHATCENTRE_SECRET_KEY, ...);
# `serve` upgrades the schema on start.
CMD ["chatcentre", "serve"]
