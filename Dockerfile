# opwatch as a long-running service: `opwatch watch` beside the chain (docs/service/README.md).
# Only the core, the CLI and the Prometheus exporter: no cloud SDK, no web3. Versions are the
# pinned ones (requirements.lock as constraints), as in every other install of opwatch.
#
#   docker build -t opwatch .
#   docker run -v /etc/opwatch:/etc/opwatch:ro -v opwatch-state:/var/lib/opwatch \
#     -e OPWATCH_SECRET_PAGERDUTY -p 9464:9464 opwatch
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/opwatch
COPY pyproject.toml README.md requirements.lock ./
COPY functions/ ./functions/
RUN python -m venv /opt/opwatch/venv \
    && /opt/opwatch/venv/bin/pip install --no-cache-dir -c requirements.lock ".[service]"

# Non-root, no login shell; state (alert lifecycle, check memory) on a volume it owns.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin opwatch \
    && mkdir -p /var/lib/opwatch \
    && chown opwatch:opwatch /var/lib/opwatch
USER 10001:10001
VOLUME ["/var/lib/opwatch"]
EXPOSE 9464

ENTRYPOINT ["/opt/opwatch/venv/bin/opwatch", "watch"]
CMD ["--config", "/etc/opwatch/opwatch.toml", "--listen", "0.0.0.0:9464", "--page", \
     "--state", "/var/lib/opwatch/state.db", "--format", "json"]
