"""Settings of the bare baseline: only what a JSON view and a Celery task need."""

import environ

env = environ.Env()

DEBUG = False
SECRET_KEY = "bench-baseline-not-secret"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.baseline.urls"
WSGI_APPLICATION = "bench.baseline.wsgi.application"
INSTALLED_APPS = []
MIDDLEWARE = []
USE_TZ = True
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# Read by Picky's gunicorn worker (gunicorn.conf.py), which serves this site too.
PICKY_MAX_PAYLOAD_BYTES = env.int("PICKY_MAX_PAYLOAD_BYTES", default=1024 * 1024)
PICKY_REQUEST_READ_SECONDS = env.float("PICKY_REQUEST_READ_SECONDS", default=10.0)

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Keep the worker's database connection between tasks, as Picky does (picky/settings.py).
CELERY_DB_REUSE_MAX = 1_000_000
