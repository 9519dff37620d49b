# syntax=docker/dockerfile:1
# The Wyoming server (wyoming-workers-ai) for linux/amd64 and linux/arm64:
#   docker buildx build --platform linux/amd64,linux/arm64 -t wyoming-workers-ai .
# Binary wheels only (no compiler in either stage), no model weights, runs as a non-root user.
# Credentials: CLOUDFLARE_ACCOUNT_ID plus CLOUDFLARE_API_TOKEN, or the token in a file
# (a Docker secret) passed with --api-token-file. See docker-compose.yml.

ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY wyoming_server ./wyoming_server
# setuptools builds the project's own pure-Python wheel; its dependencies install as wheels only.
RUN python -m venv /opt/wyoming \
    && /opt/wyoming/bin/pip install --no-cache-dir --disable-pip-version-check "setuptools>=77" \
    && /opt/wyoming/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation -w /wheels . \
    && /opt/wyoming/bin/pip uninstall --yes setuptools \
    && /opt/wyoming/bin/pip install --no-cache-dir --disable-pip-version-check --only-binary :all: \
        "$(ls /wheels/wyoming_workers_ai-*.whl)[zeroconf]" \
    && /opt/wyoming/bin/pip uninstall --yes pip

FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="wyoming-workers-ai" \
      org.opencontainers.image.description="Wyoming server for Cloudflare Workers AI speech models" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/workers-ai-voice/workers-ai-voice"
RUN groupadd --system --gid 10300 wyoming \
    && useradd --system --uid 10300 --gid 10300 --no-create-home --shell /usr/sbin/nologin wyoming
COPY --from=build /opt/wyoming /opt/wyoming
ENV PATH="/opt/wyoming/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10300:10300
EXPOSE 10300/tcp
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["wyoming-workers-ai-healthcheck", "--uri", "tcp://127.0.0.1:10300", "--timeout", "5"]
ENTRYPOINT ["wyoming-workers-ai", "--uri", "tcp://0.0.0.0:10300"]
CMD []
