# One image for every pipeline process: the pbfidelity package with all its extras.
#   docker build -t ghcr.io/pbfidelity/pbfidelity:0.1.0 --build-arg VERSION=0.1.0 .
# The install steps are the ones `make install` runs in CI's venv (CPU build of PyTorch first).
FROM python:3.11-slim

ARG VERSION=0.1.0
ARG TORCH_VERSION=2.13.0
LABEL org.opencontainers.image.title="pbfidelity" \
      org.opencontainers.image.description="Can pseudo-bulk stand in for bulk RNA-seq?" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/pbfidelity/pbfidelity" \
      org.opencontainers.image.licenses="MIT"

# procps: Nextflow reads task metrics with ps
RUN apt-get update \
    && apt-get install -y --no-install-recommends procps \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MULTIQC_NO_VERSION_CHECK=1

WORKDIR /opt/pbfidelity
COPY pyproject.toml README.md ./
COPY src ./src
COPY assets ./assets

RUN python -m pip install --upgrade pip \
    && python -m pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu \
    && python -m pip install ".[ssl]" \
    && pbfidelity --version

WORKDIR /
CMD ["pbfidelity", "--help"]
