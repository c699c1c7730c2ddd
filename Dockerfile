# The code location image: this package with its production extras (PostgreSQL instance storage,
# Kubernetes run launcher and executor), serving the Dagster definitions over gRPC on port 4000.
# Dagster's Helm chart runs it as a user-code deployment and starts every run and step pod from it
# (deploy/helm/values.yaml; docs/deployment.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/idc-index-assets
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY idc_index_assets ./idc_index_assets
COPY queries ./queries
RUN pip install '.[production]'

# A non-root user owns only the Dagster home (the chart mounts the instance configuration there).
RUN useradd --create-home --uid 10001 idc \
    && mkdir -p /opt/dagster/dagster_home \
    && chown idc /opt/dagster/dagster_home
USER idc
ENV DAGSTER_HOME=/opt/dagster/dagster_home

EXPOSE 4000
CMD ["dagster", "code-server", "start", "-m", "idc_index_assets.definitions", "-h", "0.0.0.0", "-p", "4000"]
