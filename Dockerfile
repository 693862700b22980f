# The image for web, worker and beat (docker-compose.yml). Not exercised by CI: no Docker
# engine runs on the build machines.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# libgomp: implicit's OpenMP runtime.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock .
RUN pip install -r requirements.lock

COPY . .
RUN DEBUG=false SECRET_KEY=collectstatic-only-not-a-real-key python manage.py collectstatic --no-input \
    && useradd --create-home musicsite && mkdir -p var/media var/artifacts \
    && chown -R musicsite var
USER musicsite

EXPOSE 8000
CMD ["gunicorn", "musicsite.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
