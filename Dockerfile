# One image for every pipeline process: the pbfidelity package with all its extras, built from this checkout
# and pushed by .github/workflows/release.yml as ghcr.io/pbfidelity/pbfidelity:<version> on version tags.
#   docker build -t ghcr.io/pbfidelity/pbfidelity:0.1.0 .
# Dependencies are pinned by tools/release/constraints.txt, derived from the root environment.yml (the same
# pins as -profile conda); VERSION and TORCH_VERSION are kept equal to pyproject/the pins by tools/release/pins.py.
FROM python:3.11-slim

ARG VERSION=0.1.0
ARG TORCH_VERSION=2.13.0
LABEL org.opencontainers.image.title="pbfidelity" \
      org.opencontainers.image.description="Can pseudo-bulk stand in for bulk RNA-seq?" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/pbfidelity/pbfidelity" \
      org.opencontainers.image.licenses="MIT"

# procps: Nextflow reads task metrics with ps. Debian's security updates replace package versions, so an
# exact apt pin would break rebuilds; the base image tag fixes the Debian release instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends procps \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MULTIQC_NO_VERSION_CHECK=1

WORKDIR /opt/pbfidelity
COPY pyproject.toml README.md LICENSE ./
COPY tools/release/constraints.txt ./constraints.txt
COPY src ./src
COPY assets ./assets

# CPU build of PyTorch first (the default index serves the CUDA build), then the package under the pins.
RUN python -m pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu \
    && python -m pip install --constraint constraints.txt ".[ssl]" \
    && pbfidelity --version

WORKDIR /
CMD ["pbfidelity", "--help"]
