# Stockroom: one image for the web server, the Celery worker and Celery beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY inventory_site/__init__.py inventory_site/__init__.py
COPY apps/__init__.py apps/__init__.py
RUN pip install . && pip uninstall -y stockroom

COPY manage.py ./
COPY inventory_site ./inventory_site
COPY apps ./apps

# Hashed, compressed static files baked into the image (WhiteNoise serves them). The values
# below exist only for this build step; the real ones come from the environment at run time.
RUN DJANGO_SETTINGS_MODULE=inventory_site.settings.production \
    DJANGO_SECRET_KEY=collectstatic-only \
    DJANGO_ALLOWED_HOSTS=build \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput -v0

RUN useradd --system --uid 10001 --home-dir /app stockroom && chown -R stockroom /app
USER stockroom

ENV DJANGO_SETTINGS_MODULE=inventory_site.settings.production
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-background"]
