# Sora Character Bot: slim Python, Debian's ffmpeg, a non-root user, data in /data.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/data \
    HTTP_HOST=0.0.0.0

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 sora \
    && mkdir -p /data \
    && chown sora:sora /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
RUN pip install --no-cache-dir .

USER 10001
VOLUME ["/data"]

# The running bot touches /data/heartbeat every 30 s while connected to Discord;
# `doctor --quick` fails once it is older than 90 s (or missing: not connected). With
# HTTP_PORT set (the operator chooses it), `doctor --quick` asks GET /health instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "doctor", "--quick"]

# exec form: python itself runs as PID 1 (no shell in between), so `docker stop`'s SIGTERM reaches it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
