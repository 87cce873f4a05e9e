# The Clausewise image: API (`clausewise serve --no-worker`) and worker (`clausewise worker`) share it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1 ANONYMIZED_TELEMETRY=False \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 CLAUSEWISE_DATA_DIR=/data
RUN apt-get update && apt-get install -y --no-install-recommends libmagic1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# CPU torch first, from PyTorch's CPU index, so the pinned dependency set does not pull a CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY api api
COPY core core
COPY catalog catalog
COPY ingest ingest
COPY classifiers classifiers
COPY eval eval
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["clausewise", "serve", "--no-worker", "--host", "0.0.0.0", "--port", "8000"]
